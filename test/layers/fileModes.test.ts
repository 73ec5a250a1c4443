// Data and secrets at rest are 0600 (directories we create 0700) whatever the umask: the database and
// its -wal/-shm, the log and its rotations, key folders. Existing 0644 files are tightened at start.
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as SqlClient from "@effect/sql/SqlClient"
import Sqlite from "better-sqlite3"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as fs from "node:fs"
import * as path from "node:path"
import { createPrivateFile, makePrivateDir, tightenFileMode } from "../../src/layers/fileModes.ts"
import { openRotatingLog } from "../../src/layers/Logging.ts"
import { sqliteAt } from "../../src/layers/Sql.ts"
import { writeSecretFile } from "../../src/layers/keys/files.ts"
import { startEngine, tempRoot } from "../support/engine.ts"

const mode = (p: string) => fs.statSync(p).mode & 0o777
const sleep = (ms: number) => Effect.promise(() => new Promise((r) => setTimeout(r, ms)))

// The most permissive umask: any file whose mode is left to defaults comes out 0666, any directory 0777.
let savedUmask = 0
beforeAll(() => {
  savedUmask = process.umask(0o000)
})
afterAll(() => {
  process.umask(savedUmask)
})

const loginAsAdmin = (engine: { client: () => { post: (p: string, b: unknown) => Promise<{ status: number }> } }) =>
  Effect.promise(() => engine.client().post("/api/auth/login", { username: "admin", password: "Password" }))

/** Wait until the log holds `text` (lines reach the file on the next turn of the event loop). */
const logContaining = (file: string, text: string) =>
  Effect.gen(function*() {
    const deadline = Date.now() + 5000
    for (;;) {
      const log = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : ""
      if (log.includes(text) || Date.now() > deadline) return log
      yield* sleep(20)
    }
  })

describe("the Engine's files at rest", () => {
  it.scoped("a fresh Engine's database, -wal, -shm and engine.log are 0600, the Logs directories 0700", () =>
    Effect.gen(function*() {
      const root = tempRoot()
      const engine = yield* startEngine({ root })
      const login = yield* loginAsAdmin(engine)
      expect(login.status).toBe(200)
      const db = engine.databasePath
      expect(fs.existsSync(`${db}-wal`)).toBe(true)
      expect(fs.existsSync(`${db}-shm`)).toBe(true)
      yield* logContaining(engine.logFile, "bootstrap-complete")
      for (const file of [db, `${db}-wal`, `${db}-shm`, engine.logFile, `${engine.logFile}.history`]) {
        expect([file, mode(file).toString(8)]).toEqual([file, "600"])
      }
      expect(mode(path.join(root, "Logs"))).toBe(0o700)
      expect(mode(path.join(root, "Logs", "Server"))).toBe(0o700)
      // Key folders created by the key store (the others are made by their own modules).
      expect(mode(path.join(root, "Engine", "auth_keys"))).toBe(0o700)
      expect(mode(path.join(root, "Engine", "auth_keys", "engine-jwt-ed25519.key"))).toBe(0o600)
    }), 60_000)

  it.effect("a database, -wal, -shm and log left 0644 by an earlier version are tightened at start, one line each", () =>
    Effect.gen(function*() {
      const root = tempRoot()
      const first = yield* Scope.make()
      const engine = yield* startEngine({ root }).pipe(Scope.extend(first))
      yield* loginAsAdmin(engine)
      yield* logContaining(engine.logFile, "bootstrap-complete")
      yield* Scope.close(first, Exit.void)
      const db = engine.databasePath
      fs.chmodSync(db, 0o644)
      fs.chmodSync(engine.logFile, 0o644)
      // Another connection holds the database open, so -wal and -shm exist (with the database's 0644).
      const other = new Sqlite(db)
      try {
        other.prepare("SELECT count(*) FROM users").get()
        expect(mode(`${db}-wal`)).toBe(0o644)
        expect(mode(`${db}-shm`)).toBe(0o644)
        const second = yield* Scope.make()
        const again = yield* startEngine({ root }).pipe(Scope.extend(second))
        yield* loginAsAdmin(again)
        const log = yield* logContaining(again.logFile, "bootstrap-complete")
        yield* Scope.close(second, Exit.void)
        for (const file of [db, `${db}-wal`, `${db}-shm`, again.logFile]) {
          expect([file, mode(file).toString(8)]).toEqual([file, "600"])
          const line = log.split("\n").find((l) => l.includes("file-mode-tightened") && l.includes(` path=${file} `))
          expect(line, file).toBeDefined()
          expect(line).toContain(" level=WARN")
          expect(line).toContain(" old_mode=0644")
        }
        // Already private files are left alone: no line on the next start.
        const third = yield* Scope.make()
        const once = yield* startEngine({ root }).pipe(Scope.extend(third))
        const later = yield* logContaining(once.logFile, "bootstrap-complete")
        yield* Scope.close(third, Exit.void)
        expect(later.split("file-mode-tightened")).toHaveLength(1 + 4)
      } finally {
        other.close()
      }
    }), 90_000)
})

describe("database file", () => {
  it.effect("a new database is created 0600 before SQLite opens it; its -wal and -shm take that mode", () =>
    Effect.gen(function*() {
      const file = path.join(tempRoot(), "sub", "new.db")
      yield* Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        yield* sql`CREATE TABLE t (x TEXT)`
        yield* sql`INSERT INTO t VALUES ('a')`
        for (const f of [file, `${file}-wal`, `${file}-shm`]) expect([f, mode(f).toString(8)]).toEqual([f, "600"])
      }).pipe(Effect.provide(sqliteAt(file)), Effect.scoped)
    }))

  it.effect("a file that is not a database is refused without touching its content or its mode", () =>
    Effect.gen(function*() {
      const file = path.join(tempRoot(), "notes.db")
      fs.writeFileSync(file, "not a database ".repeat(300), { mode: 0o644 })
      const before = fs.readFileSync(file)
      const exit = yield* Effect.exit(Effect.scoped(Layer.build(sqliteAt(file))))
      expect(Exit.isFailure(exit)).toBe(true)
      expect(fs.readFileSync(file).equals(before)).toBe(true)
      expect(mode(file)).toBe(0o644)
    }))
})

describe("log files", () => {
  it("the log directory is created 0700; engine.log, its rotations and the history file are 0600", async () => {
    const dir = path.join(tempRoot(), "Logs", "Server")
    let now = new Date(2026, 0, 1, 23, 59, 59, 800).getTime()
    const stream = openRotatingLog(dir, { now: () => new Date(now), recheckMs: 10 })
    await new Promise<void>((r) => stream.once("open", () => r()))
    const rotated = new Promise<string>((r) => stream.once("rotated", (name: string) => r(name)))
    await new Promise<void>((r) => stream.write("day 1\n", () => r()))
    now += 400
    const name = await rotated
    await new Promise<void>((r) => stream.once("open", () => r()))
    await new Promise<void>((r) => stream.end(() => r()))
    expect(mode(dir)).toBe(0o700)
    expect(mode(path.dirname(dir))).toBe(0o700)
    expect(mode(name)).toBe(0o600)
    expect(mode(path.join(dir, "engine.log"))).toBe(0o600)
    expect(fs.readFileSync(path.join(dir, "engine.log.history"), "utf8")).toContain("engine.log.2026-01-01")
    expect(mode(path.join(dir, "engine.log.history"))).toBe(0o600)
  })
})

describe("helpers", () => {
  it("makePrivateDir makes what it creates 0700 and leaves existing directories alone", () => {
    const base = tempRoot()
    fs.chmodSync(base, 0o755)
    makePrivateDir(path.join(base, "a", "b"))
    expect(mode(base)).toBe(0o755)
    expect(mode(path.join(base, "a"))).toBe(0o700)
    expect(mode(path.join(base, "a", "b"))).toBe(0o700)
    fs.chmodSync(path.join(base, "a"), 0o750)
    makePrivateDir(path.join(base, "a", "b"))
    expect(mode(path.join(base, "a"))).toBe(0o750)
  })

  it("createPrivateFile never truncates an existing file; tightenFileMode reports the old mode once", () => {
    const file = path.join(tempRoot(), "f")
    expect(createPrivateFile(file)).toBe(true)
    expect(mode(file)).toBe(0o600)
    fs.writeFileSync(file, "keep")
    fs.chmodSync(file, 0o664)
    expect(createPrivateFile(file)).toBe(false)
    expect(fs.readFileSync(file, "utf8")).toBe("keep")
    expect(tightenFileMode(file)).toBe(0o664)
    expect(mode(file)).toBe(0o600)
    expect(tightenFileMode(file)).toBeUndefined()
    expect(tightenFileMode(path.join(path.dirname(file), "missing"))).toBeUndefined()
  })

  it("key folders created by the key store are 0700, keys 0600", () => {
    const root = tempRoot()
    const key = path.join(root, "Certificates", "Server", "Code-Signing", "k.key")
    writeSecretFile(key, "secret")
    expect(mode(key)).toBe(0o600)
    for (const dir of ["Certificates", "Certificates/Server", "Certificates/Server/Code-Signing"]) {
      expect(mode(path.join(root, dir))).toBe(0o700)
    }
    expect(mode(root)).toBe(0o700) // mkdtemp's own mode, untouched
  })
})
