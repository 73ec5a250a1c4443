// Online backup and restore. A backup is one SQLite file: a consistent copy of the live database taken
// with SQLite's backup API (WAL-safe, while the server keeps writing), plus the key and certificate
// material the server needs, stored in a table of its own. Restore refuses to replace the files of a
// running Engine and keeps what it replaces.
import Sqlite from "better-sqlite3"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as fs from "node:fs"
import * as path from "node:path"
import { createPrivateFile, makePrivateDir, PRIVATE_FILE_MODE, tightenFileMode } from "../../layers/fileModes.ts"
import { runningEngine } from "../../layers/PidFile.ts"
import type { EngineSettings } from "../../layers/configParse.ts"
import * as Row from "../../layers/sqlRows.ts"

export class BackupFailed extends Schema.TaggedError<BackupFailed>()("BackupFailed", { reason: Schema.String }) {
  override get message(): string {
    return this.reason
  }
}

const FILES_TABLE = "borealis_backup_files"
const META_TABLE = "borealis_backup_meta"

type Root = "runtime" | "server_certs" | "agent_certs"

// Rows read back from SQLite (the live database's copy, or a backup file), decoded rather than assumed.
const decodeCount = Schema.decodeUnknownSync(Row.CountRow)
const decodeFormat = Schema.decodeUnknownSync(Schema.UndefinedOr(Schema.Struct({ value: Row.Text })))
const decodeFiles = Schema.decodeUnknownSync(Schema.Array(Schema.Struct({ root: Row.Text, path: Row.Text, mode: Row.Num, content: Row.Bytes })))

const ROOTS: ReadonlyArray<string> = ["runtime", "server_certs", "agent_certs"] satisfies ReadonlyArray<Root>
const isRoot = (value: string): value is Root => ROOTS.includes(value)

/** Where each kind of material lives for a configuration. */
const rootsOf = (config: Pick<EngineSettings, "runtimeRoot" | "serverCertRoot" | "agentCertRoot">): Record<Root, { dir: string; include: ReadonlyArray<string> }> => ({
  // Only the key directories of the runtime root: it may hold much else.
  runtime: { dir: config.runtimeRoot, include: ["auth_keys", "keys", "certs"] },
  server_certs: { dir: config.serverCertRoot, include: ["."] },
  agent_certs: { dir: config.agentCertRoot, include: ["."] }
})

const listFiles = (base: string, sub: string): Array<string> => {
  const start = path.join(base, sub)
  const out: Array<string> = []
  const walk = (dir: string) => {
    let entries: Array<fs.Dirent>
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true })
    } catch {
      return
    }
    for (const e of entries) {
      const full = path.join(dir, e.name)
      if (e.isDirectory()) walk(full)
      else if (e.isFile() && !e.name.endsWith(".tmp")) out.push(path.relative(base, full))
    }
  }
  walk(start)
  return out
}

/**
 * A fresh, empty 0600 file for SQLite's backup API to fill: it would otherwise create the file (and its
 * journal, which takes the file's mode) with the umask's 0644 while private keys are written into it.
 */
const freshPrivateFile = (file: string) => {
  fs.rmSync(file, { force: true })
  if (!createPrivateFile(file)) throw new Error(`${file} appeared while being created`)
}

const attempt = <A>(what: string, f: () => A | Promise<A>) =>
  Effect.tryPromise({
    try: async () => f(),
    catch: (cause) => new BackupFailed({ reason: `${what}: ${cause instanceof Error ? cause.message : String(cause)}` })
  })

export interface BackupSummary {
  readonly file: string
  readonly bytes: number
  readonly pages: number
  readonly files: number
  readonly tables: Readonly<Record<string, number>>
}

/**
 * Copy the live database at `config.databasePath` into `target` with the SQLite backup API, then add
 * the key/certificate files. The target is written beside itself and renamed, mode 0600 from the
 * start; a directory created for it is 0700.
 */
export const backup = (config: EngineSettings, target: string) =>
  Effect.gen(function*() {
    if (!fs.existsSync(config.databasePath)) return yield* new BackupFailed({ reason: `no database at ${config.databasePath} (BOREALIS_DATABASE_PATH)` })
    const resolved = path.resolve(target)
    const temp = `${resolved}.${process.pid}.tmp`
    yield* attempt("create backup file", () => {
      makePrivateDir(path.dirname(resolved))
      freshPrivateFile(temp)
    })
    const source = yield* attempt("open database", () => new Sqlite(config.databasePath, { readonly: true, fileMustExist: true, timeout: 5000 })).pipe(
      Effect.tapError(() => Effect.sync(() => fs.rmSync(temp, { force: true })))
    )
    const progress = yield* attempt("backup", () => source.backup(temp)).pipe(
      Effect.ensuring(Effect.sync(() => source.close())),
      Effect.tapError(() => Effect.sync(() => fs.rmSync(temp, { force: true })))
    )
    const out = yield* attempt("open backup", () => new Sqlite(temp))
    const summary = yield* attempt("store key material", () => {
      try {
        out.pragma("journal_mode = DELETE")
        out.exec(`CREATE TABLE ${FILES_TABLE} (root TEXT NOT NULL, path TEXT NOT NULL, mode INTEGER NOT NULL, content BLOB NOT NULL, PRIMARY KEY (root, path));
          CREATE TABLE ${META_TABLE} (key TEXT PRIMARY KEY, value TEXT NOT NULL);`)
        const insert = out.prepare(`INSERT INTO ${FILES_TABLE} (root, path, mode, content) VALUES (?, ?, ?, ?)`)
        let files = 0
        out.transaction(() => {
          for (const [root, { dir, include }] of Object.entries(rootsOf(config))) {
            for (const sub of include) {
              for (const rel of listFiles(dir, sub)) {
                const full = path.join(dir, rel)
                insert.run(root, rel, fs.statSync(full).mode & 0o777, fs.readFileSync(full))
                files++
              }
            }
          }
          const meta = out.prepare(`INSERT INTO ${META_TABLE} (key, value) VALUES (?, ?)`)
          meta.run("created_at", new Date().toISOString())
          meta.run("source_database", config.databasePath)
          meta.run("format", "borealis-backup/1")
        })()
        const integrity = out.pragma("integrity_check", { simple: true })
        if (integrity !== "ok") throw new Error(`integrity check of the copy failed: ${String(integrity)}`)
        const tables: Record<string, number> = {}
        for (const t of ["devices", "refresh_tokens", "device_approvals", "users", "scheduled_jobs", "scheduled_job_runs", "activity_history", "audit_events"]) {
          try {
            tables[t] = decodeCount(out.prepare(`SELECT count(*) AS n FROM ${t}`).get()).n
          } catch {
            // table absent in this database
          }
        }
        return { files, tables }
      } finally {
        out.close()
      }
    }).pipe(Effect.tapError(() => Effect.sync(() => fs.rmSync(temp, { force: true }))))
    fs.chmodSync(temp, 0o600)
    fs.renameSync(temp, resolved)
    return { file: resolved, bytes: fs.statSync(resolved).size, pages: progress.totalPages, ...summary } satisfies BackupSummary
  }).pipe(Effect.withSpan("Backup.backup"))

export interface RestoreSummary {
  readonly database: string
  readonly files: number
  readonly keptAside: ReadonlyArray<string>
}

/** Move an existing file out of the way (never delete what a restore replaces). */
const keepAside = (file: string, stamp: string, kept: Array<string>) => {
  if (!fs.existsSync(file)) return
  const aside = `${file}.pre-restore-${stamp}`
  fs.renameSync(file, aside)
  // It holds the same data or keys as the file it was: no more readable than that file is now.
  tightenFileMode(aside)
  kept.push(aside)
}

/**
 * Restore `source` (a backup) onto the files `config` names. Refused while an Engine runs on them.
 * Every file written is 0600, every key directory created 0700.
 */
export const restore = (config: EngineSettings, source: string) =>
  Effect.gen(function*() {
    const pid = runningEngine(config.runtimeRoot)
    if (pid !== undefined) {
      return yield* new BackupFailed({
        reason: `an Engine (pid ${pid}) is running on ${config.runtimeRoot}; stop it before restoring (nothing was changed)`
      })
    }
    const file = path.resolve(source)
    const backupDb = yield* attempt("open backup", () => new Sqlite(file, { readonly: true, fileMustExist: true }))
    const rows = yield* attempt("read backup", () => {
      try {
        const hasMeta = decodeCount(backupDb.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = ?").get(META_TABLE))
        if (hasMeta.n === 0) throw new Error("not a Borealis backup")
        const format = decodeFormat(backupDb.prepare(`SELECT value FROM ${META_TABLE} WHERE key = 'format'`).get())
        if (format?.value !== "borealis-backup/1") throw new Error("not a Borealis backup")
        const integrity = backupDb.pragma("integrity_check", { simple: true })
        if (integrity !== "ok") throw new Error(`backup is damaged: ${String(integrity)}`)
        return decodeFiles(backupDb.prepare(`SELECT root, path, mode, content FROM ${FILES_TABLE}`).all())
      } finally {
        backupDb.close()
      }
    })
    const stamp = new Date().toISOString().replace(/[:.]/g, "-")
    const kept: Array<string> = []
    // The database: a copy without the backup's own tables, put in place in one rename.
    const target = config.databasePath
    fs.mkdirSync(path.dirname(target), { recursive: true })
    const staged = `${target}.restore-${process.pid}.tmp`
    yield* attempt("stage database", async () => {
      freshPrivateFile(staged)
      const src = new Sqlite(file, { readonly: true })
      try {
        await src.backup(staged)
      } finally {
        src.close()
      }
      const db = new Sqlite(staged)
      try {
        db.exec(`DROP TABLE ${FILES_TABLE}; DROP TABLE ${META_TABLE};`)
        db.pragma("journal_mode = WAL")
      } finally {
        db.close()
      }
      fs.chmodSync(staged, 0o600)
    }).pipe(Effect.tapError(() => Effect.sync(() => fs.rmSync(staged, { force: true }))))
    for (const suffix of ["", "-wal", "-shm"]) keepAside(`${target}${suffix}`, stamp, kept)
    fs.renameSync(staged, target)
    const roots = rootsOf(config)
    for (const row of rows) {
      const base = isRoot(row.root) ? roots[row.root].dir : undefined
      if (base === undefined) continue
      const dest = path.resolve(base, row.path)
      if (!dest.startsWith(path.resolve(base) + path.sep)) continue
      makePrivateDir(path.dirname(dest))
      if (fs.existsSync(dest)) {
        if (fs.readFileSync(dest).equals(row.content)) {
          tightenFileMode(dest)
          continue
        }
        keepAside(dest, stamp, kept)
      }
      // 0600 whatever mode the backup recorded: older backups may have captured a 0644 key.
      fs.writeFileSync(dest, row.content, { mode: PRIVATE_FILE_MODE })
      fs.chmodSync(dest, PRIVATE_FILE_MODE)
    }
    return { database: target, files: rows.length, keptAside: kept } satisfies RestoreSummary
  }).pipe(Effect.withSpan("Backup.restore"))
