// The real process: `node src/main.ts` on a temp root, stopped with SIGTERM.
import { describe, expect, it } from "@effect/vitest"
import Sqlite from "better-sqlite3"
import * as Effect from "effect/Effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { repositoryRoot } from "../src/layers/Config.ts"
import { tempRoot } from "./support/engine.ts"
import { Client } from "./support/http.ts"

interface Spawned {
  readonly child: ReturnType<typeof spawn>
  readonly output: () => string
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>
}

const spawnEngine = (root: string, env: Record<string, string> = {}): Spawned => {
  const child = spawn(process.execPath, [path.join(repositoryRoot, "src", "main.ts")], {
    env: { ...process.env, BOREALIS_ROOT: root, BOREALIS_PORT: "0", ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let output = ""
  child.stdout!.on("data", (d) => (output += d))
  child.stderr!.on("data", (d) => (output += d))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal, at: Date.now() }))
  )
  return { child, output: () => output, exited }
}

const waitForUrl = async (s: Spawned, ms = 20_000): Promise<string> => {
  const end = Date.now() + ms
  while (Date.now() < end) {
    const m = /bootstrap-complete url=(\S+)/.exec(s.output())
    if (m) return m[1]!
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`engine did not start:\n${s.output()}`)
}

describe("the Engine process", () => {
  it.effect("starts, serves /health, and on SIGTERM exits 0 within 5 s leaving an intact database", () =>
    Effect.promise(async () => {
      const root = tempRoot()
      const engine = spawnEngine(root)
      const url = (await waitForUrl(engine)).replace("127.0.0.1", "localhost")
      const ca = fs.readFileSync(path.join(root, "Certificates", "Server", "borealis-root-ca.pem"), "utf8")
      const health = await new Client(url, ca).get("/health")
      expect(health.json).toEqual({ status: "ok" })
      const sent = Date.now()
      engine.child.kill("SIGTERM")
      const exit = await engine.exited
      expect(exit.code).toBe(0)
      expect(exit.at - sent).toBeLessThan(5000)
      const log = fs.readFileSync(path.join(root, "Logs", "Server", "engine.log"), "utf8")
      const order = ["bootstrap-started", "tls-material-ready", "migrations-start", "migrations-complete", "default-admin-ensured", "bootstrap-complete", "shutdown-complete"]
      const positions = order.map((line) => log.indexOf(`-engine-${line}`))
      for (const [i, p] of positions.entries()) expect([order[i], p >= 0]).toEqual([order[i], true])
      expect([...positions].sort((a, b) => a - b)).toEqual(positions)
      for (const line of log.trimEnd().split("\n")) expect(line).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}-engine-/)
      const db = new Sqlite(path.join(root, "database.db"), { readonly: true })
      try {
        expect(db.pragma("integrity_check", { simple: true })).toBe("ok")
        expect((db.prepare("SELECT count(*) AS n FROM users").get() as { n: number }).n).toBe(1)
      } finally {
        db.close()
      }
    }), 30_000)

  it.effect("BOREALIS_ENGINE_AUTO_MIGRATE=false logs migrations-skipped and still ensures the admin", () =>
    Effect.promise(async () => {
      const root = tempRoot()
      const engine = spawnEngine(root, { BOREALIS_ENGINE_AUTO_MIGRATE: "false" })
      await waitForUrl(engine)
      engine.child.kill("SIGINT")
      expect((await engine.exited).code).toBe(0)
      const log = fs.readFileSync(path.join(root, "Logs", "Server", "engine.log"), "utf8")
      expect(log).toContain("-engine-migrations-skipped")
      expect(log).not.toContain("-engine-migrations-start")
      expect(log).toContain("-engine-default-admin-ensured")
    }), 30_000)

  it.effect("a corrupt database file: clear error, non-zero exit, file untouched", () =>
    Effect.promise(async () => {
      const root = tempRoot()
      const file = path.join(root, "database.db")
      fs.writeFileSync(file, Buffer.alloc(8192, 7))
      const before = fs.readFileSync(file)
      const engine = spawnEngine(root)
      const exit = await engine.exited
      expect(exit.code).not.toBe(0)
      expect(engine.output()).toContain("cannot start")
      expect(engine.output()).toContain(file)
      expect(engine.output()).toContain("BOREALIS_DATABASE_PATH")
      expect(fs.readFileSync(file).equals(before)).toBe(true)
      expect(fs.readdirSync(root).filter((f) => f.startsWith("database.db"))).toEqual(["database.db"])
    }), 30_000)

  it.effect("an unusable variable stops start-up with a message naming it and its value", () =>
    Effect.promise(async () => {
      const engine = spawnEngine(tempRoot(), { BOREALIS_PORT: "70000" })
      const exit = await engine.exited
      expect(exit.code).not.toBe(0)
      expect(engine.output()).toContain('BOREALIS_PORT="70000"')
    }), 30_000)
})
