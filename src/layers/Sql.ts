// Embedded SQLite at BOREALIS_DATABASE_PATH. spec: config-bootstrap-tests.md §4.1, §7.6
import * as Reactivity from "@effect/experimental/Reactivity"
import * as SqlClient from "@effect/sql/SqlClient"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import Sqlite from "better-sqlite3"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as fs from "node:fs"
import * as path from "node:path"
import { EngineConfig } from "./Config.ts"
import { createPrivateFile, formatMode, tightenFileMode } from "./fileModes.ts"

export class DatabaseUnusable extends Schema.TaggedError<DatabaseUnusable>()("DatabaseUnusable", {
  path: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `database ${this.path} cannot be used (BOREALIS_DATABASE_PATH): ${this.reason}. The file was left untouched.`
  }
}

const describe = (cause: unknown): string => (cause instanceof Error ? cause.message : String(cause))

/**
 * Refuse a file that is not a SQLite database (or cannot be read) before anything opens it for
 * writing, so a wrong path or a damaged file is reported, never overwritten. A missing database is
 * created here, empty and 0600: SQLite gives its -wal and -shm files the database file's own mode.
 */
export const checkDatabaseFile = (file: string): Effect.Effect<void, DatabaseUnusable> =>
  Effect.try({
    try: () => {
      if (!fs.existsSync(file)) {
        fs.mkdirSync(path.dirname(file), { recursive: true })
        // Exclusive create: a file that appeared meanwhile is checked below like any other.
        if (createPrivateFile(file)) return
      }
      const stat = fs.statSync(file)
      if (!stat.isFile()) throw new Error("not a regular file")
      fs.accessSync(file, fs.constants.R_OK | fs.constants.W_OK)
      if (stat.size === 0) return
      const db = new Sqlite(file, { readonly: true, fileMustExist: true })
      try {
        db.pragma("schema_version")
        db.prepare("SELECT count(*) FROM sqlite_master").get()
      } finally {
        db.close()
      }
    },
    catch: (cause) => new DatabaseUnusable({ path: file, reason: describe(cause) })
  })

/**
 * Make the database and its -wal/-shm files 0600 when an earlier version (or a copy) left them readable
 * by group or others; one `file-mode-tightened` line per file changed. Only after the file was checked.
 */
export const tightenDatabaseFiles = (file: string): Effect.Effect<void> =>
  Effect.forEach([file, `${file}-wal`, `${file}-shm`], (f) =>
    Effect.try(() => tightenFileMode(f)).pipe(
      Effect.flatMap((oldMode) =>
        oldMode === undefined
          ? Effect.void
          : Effect.logWarning("file-mode-tightened").pipe(Effect.annotateLogs({ path: f, old_mode: formatMode(oldMode) }))),
      // Not ours to chmod (another owner): say so and keep serving, as before.
      Effect.catchAll((error) =>
        Effect.logWarning("file-mode-not-tightened").pipe(Effect.annotateLogs({ path: f, reason: describe(error.error) })))
    ), { discard: true })

/** Connection settings every connection gets (the original's three, plus foreign keys ON). */
export const CONNECTION_PRAGMAS = [
  "PRAGMA busy_timeout = 5000",
  "PRAGMA synchronous = NORMAL",
  "PRAGMA foreign_keys = ON"
] as const

/** A SQLite client on `file` with WAL, busy timeout 5 s, synchronous NORMAL and foreign keys ON. */
export const sqliteAt = (file: string): Layer.Layer<SqliteClient.SqliteClient | SqlClient.SqlClient, DatabaseUnusable> =>
  Layer.scopedContext(
    Effect.gen(function*() {
      yield* checkDatabaseFile(file)
      yield* tightenDatabaseFiles(file)
      const client = yield* SqliteClient.make({ filename: file }).pipe(
        Effect.catchAllDefect((cause) => new DatabaseUnusable({ path: file, reason: describe(cause) }))
      )
      for (const pragma of CONNECTION_PRAGMAS) {
        yield* client.unsafe(pragma).pipe(
          Effect.mapError((cause) => new DatabaseUnusable({ path: file, reason: describe(cause.cause) }))
        )
      }
      return Context.make(SqliteClient.SqliteClient, client).pipe(Context.add(SqlClient.SqlClient, client))
    })
  ).pipe(Layer.provide(Reactivity.layer))

export const SqlLive: Layer.Layer<SqliteClient.SqliteClient | SqlClient.SqlClient, DatabaseUnusable, EngineConfig> =
  Layer.unwrapEffect(Effect.map(EngineConfig, (config) => sqliteAt(config.databasePath)))
