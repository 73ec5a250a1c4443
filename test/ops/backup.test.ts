// Online backup under write load, restore refused on a running server, and a server started on the
// restored files accepting tokens issued before.
import { describe, expect, it } from "@effect/vitest"
import Sqlite from "better-sqlite3"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { repositoryRoot } from "../../src/layers/Config.ts"
import { TestAgent } from "../support/agent.ts"
import { startEngine, tempRoot } from "../support/engine.ts"
import { adminClient, createCode, enrolledAgent } from "../support/enrollment.ts"

const promise = <A>(f: () => Promise<A>) => Effect.promise(f)

const cli = (root: string, args: ReadonlyArray<string>) =>
  new Promise<{ code: number | null; out: string }>((resolve) => {
    const child = spawn(process.execPath, [path.join(repositoryRoot, "src", "cli.ts"), ...args], {
      env: { ...process.env, BOREALIS_ROOT: root },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let out = ""
    child.stdout.on("data", (d) => (out += d))
    child.stderr.on("data", (d) => (out += d))
    child.on("close", (code) => resolve({ code, out }))
  })

describe("backup and restore", () => {
  it.effect("a backup taken under write load restores to a consistent database that accepts the old tokens", () =>
    Effect.gen(function*() {
      const rootA = tempRoot()
      const scopeA = yield* Scope.make()
      const engineA = yield* startEngine({ root: rootA }).pipe(Scope.extend(scopeA))
      const admin = yield* promise(() => adminClient(engineA.client))
      const veteran = yield* promise(() => enrolledAgent(engineA, admin, "veteran"))
      const { code } = yield* promise(() => createCode(admin, { max_uses: 10 }))

      // write load: heartbeats and enrollment requests from many "machines" while the backup runs
      let stop = false
      let writes = 0
      const load = Promise.all(Array.from({ length: 8 }, async (_, worker) => {
        let i = 0
        while (!stop) {
          const a = new TestAgent(engineA.client(), `load-${worker}-${i++}`)
          await a.request(code, {}, { "x-forwarded-for": `198.18.${worker}.${i % 250}` })
          await veteran.authed("/api/agent/heartbeat", { hostname: "veteran", metrics: { uptime: i } })
          writes += 2
        }
      }))
      yield* promise(() => new Promise((r) => setTimeout(r, 300)))
      const file = path.join(tempRoot(), "engine.backup")
      const made = yield* promise(() => cli(rootA, ["backup", file]))
      stop = true
      yield* promise(() => load)
      expect(made.out).toContain("backup written")
      expect(made.code).toBe(0)
      expect(writes).toBeGreaterThan(10)
      expect(fs.statSync(file).mode & 0o777).toBe(0o600)

      // restore is refused while the Engine runs on the target files, and changes nothing
      const dbBefore = fs.readFileSync(engineA.databasePath)
      const refused = yield* promise(() => cli(rootA, ["restore", file]))
      expect(refused.code).not.toBe(0)
      expect(refused.out).toContain("is running")
      expect(fs.readFileSync(engineA.databasePath).equals(dbBefore)).toBe(true)
      yield* Scope.close(scopeA, Exit.void)

      // restore onto a fresh root
      const rootB = tempRoot()
      const restored = yield* promise(() => cli(rootB, ["restore", file]))
      expect(restored.out).toContain("restored")
      expect(restored.code).toBe(0)
      const db = new Sqlite(path.join(rootB, "database.db"), { readonly: true })
      try {
        expect(db.pragma("integrity_check", { simple: true })).toBe("ok")
        expect(db.pragma("foreign_key_check")).toEqual([])
        const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type='table'").all() as Array<{ name: string }>).map((t) => t.name)
        expect(tables).not.toContain("borealis_backup_files")
        // a consistent point in time: every completed approval's device exists, every token's device too
        expect(db.prepare("SELECT count(*) AS n FROM device_approvals a WHERE a.status = 'completed' AND NOT EXISTS (SELECT 1 FROM devices d WHERE d.guid = a.guid)").get()).toEqual({ n: 0 })
        expect(db.prepare("SELECT count(*) AS n FROM refresh_tokens t WHERE NOT EXISTS (SELECT 1 FROM devices d WHERE d.guid = t.guid)").get()).toEqual({ n: 0 })
        expect((db.prepare("SELECT count(*) AS n FROM device_approvals WHERE status = 'pending'").get() as { n: number }).n).toBeGreaterThan(0)
      } finally {
        db.close()
      }
      for (const f of ["Engine/auth_keys/engine-jwt-ed25519.key", "Certificates/Server/borealis-root-ca.pem", "Certificates/Server/Code-Signing/engine-script-ed25519.key"]) {
        expect(fs.readFileSync(path.join(rootB, f)).equals(fs.readFileSync(path.join(rootA, f)))).toBe(true)
      }
      const scopeB = yield* Scope.make()
      const engineB = yield* startEngine({ root: rootB }).pipe(Scope.extend(scopeB))
      const moved = new TestAgent(engineB.client(), "veteran")
      Object.assign(moved, { guid: veteran.guid, accessToken: veteran.accessToken, refreshToken: veteran.refreshToken })
      expect((yield* promise(() => moved.authed("/api/agent/heartbeat", { hostname: "veteran" }))).json).toEqual({ status: "ok", poll_after_ms: 15000 })
      expect((yield* promise(() => moved.refresh())).status).toBe(200)
      // the same CA: a client pinned to the old bundle's CA still verifies
      expect((yield* promise(() => engineB.client().get("/health"))).status).toBe(200)
      // a second restore onto the now-stopped root keeps what it replaces
      yield* Scope.close(scopeB, Exit.void)
      const again = yield* promise(() => cli(rootB, ["restore", file]))
      expect(again.code).toBe(0)
      expect(fs.readdirSync(rootB).some((f) => f.startsWith("database.db.pre-restore-"))).toBe(true)
    }), 120_000)

  it.effect("backup and restore write only 0600 files, in 0700 directories where they create them, whatever the umask", () =>
    Effect.gen(function*() {
      const all = (dir: string): Array<string> =>
        fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
          const full = path.join(dir, e.name)
          return e.isDirectory() ? [full, ...all(full)] : [full]
        })
      const mode = (p: string) => fs.statSync(p).mode & 0o777
      // The children inherit it: left to defaults, SQLite and fs would write 0666 files, 0777 directories.
      const savedUmask = process.umask(0o000)
      try {
        const rootA = tempRoot()
        const scopeA = yield* Scope.make()
        const engineA = yield* startEngine({ root: rootA }).pipe(Scope.extend(scopeA))
        yield* promise(() => engineA.client().post("/api/auth/login", { username: "admin", password: "Password" }))
        // A certificate left 0644 by an older version is still restored 0600.
        fs.chmodSync(path.join(rootA, "Certificates", "Server", "borealis-root-ca.pem"), 0o644)
        const outer = tempRoot()
        fs.chmodSync(outer, 0o755)
        const file = path.join(outer, "new", "dir", "engine.backup")
        const made = yield* promise(() => cli(rootA, ["backup", file]))
        expect(made.code, made.out).toBe(0)
        yield* Scope.close(scopeA, Exit.void)
        expect(mode(file)).toBe(0o600)
        expect(mode(path.join(outer, "new"))).toBe(0o700)
        expect(mode(path.join(outer, "new", "dir"))).toBe(0o700)
        expect(mode(outer)).toBe(0o755) // an existing directory keeps its mode
        expect(fs.readdirSync(path.join(outer, "new", "dir"))).toEqual(["engine.backup"])

        const rootB = tempRoot()
        const restored = yield* promise(() => cli(rootB, ["restore", file]))
        expect(restored.code, restored.out).toBe(0)
        const written = all(rootB)
        expect(written).toContain(path.join(rootB, "database.db"))
        expect(written).toContain(path.join(rootB, "Certificates", "Server", "borealis-root-ca.pem"))
        for (const p of written) {
          const expected = fs.statSync(p).isDirectory() ? "700" : "600"
          expect([p, mode(p).toString(8)]).toEqual([p, expected])
        }
      } finally {
        process.umask(savedUmask)
      }
    }), 120_000)

  it.effect("restore refuses a file that is not a backup", () =>
    Effect.gen(function*() {
      const root = tempRoot()
      const bogus = path.join(root, "bogus.db")
      new Sqlite(bogus).close()
      const r = yield* promise(() => cli(root, ["restore", bogus]))
      expect(r.code).not.toBe(0)
      expect(r.out).toContain("not a Borealis backup")
      expect(fs.existsSync(path.join(root, "database.db"))).toBe(false)
    }), 60_000)
})
