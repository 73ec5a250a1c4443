// Bad input on every operator route: wrong types, junk bodies, wrong content types, huge bodies.
// Each gets a 4xx JSON answer (never a 5xx), and a refused request writes nothing.
import { describe, expect, it } from "@effect/vitest"
import * as HttpApi from "@effect/platform/HttpApi"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import { BorealisApi } from "../../../src/http/api/Api.ts"
import { startEngine } from "../../support/engine.ts"
import { auditRows, login, withDb } from "../../support/operators.ts"

const promise = <A>(f: () => Promise<A>) => Effect.promise(f)

const OWN = new Set(["auth", "users", "sites", "devices", "admin", "server", "audit"])
const routes: Array<{ method: string; path: string }> = []
HttpApi.reflect(BorealisApi, {
  onGroup: () => {},
  onEndpoint: ({ endpoint, group }) => {
    if (OWN.has(group.identifier) && endpoint.path !== "/api/auth/logout") {
      routes.push({ method: endpoint.method, path: endpoint.path.replace(/:[A-Za-z_]+/g, "bad-input") })
    }
  }
})

const JUNK: ReadonlyArray<string> = [
  "",
  "null",
  "[]",
  "[1,2,3]",
  "\"text\"",
  "42",
  "{not json",
  JSON.stringify({ username: 123, password_sha512: ["a"], password: { x: 1 }, role: 7, name: [1], description: {}, ids: { a: 1 } }),
  JSON.stringify({ site_id: { nested: true }, hostnames: [null, 5, {}], id: [], new_name: 5, ttl_hours: "x", max_uses: null }),
  JSON.stringify({ enabled: "yes", reset_secret: [], conflict_resolution: 5, guid: 12, code: {}, pending_token: [] }),
  JSON.stringify({ ["__proto__"]: { polluted: true }, constructor: { prototype: { polluted: true } } })
]

describe("bad input on operator routes", () => {
  it.scoped("never a 5xx, always JSON, for junk bodies and content types", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const client = engine.client()
      yield* promise(() => login(client))
      const before = withDb(engine.databasePath, (db) => db.prepare("SELECT count(*) AS n FROM users").get())
      for (const route of routes) {
        for (const body of JUNK) {
          for (const type of ["application/json", "text/plain", "application/x-www-form-urlencoded"]) {
            const reply = yield* promise(() => client.request(route.path, route.method === "GET" ? { method: "GET" } : { method: route.method, body, headers: { "content-type": type } }))
            expect([route.method, route.path, body, reply.status < 500]).toEqual([route.method, route.path, body, true])
            expect(reply.headers["content-type"]).toMatch(/^application\/json/)
          }
          if (route.method === "GET") break
        }
      }
      expect(({} as Record<string, unknown>)["polluted"]).toBeUndefined()
      // Junk created no accounts (the users table is unchanged).
      expect(withDb(engine.databasePath, (db) => db.prepare("SELECT count(*) AS n FROM users").get())).toEqual(before)
      // The session still works after all of it.
      expect((yield* promise(() => client.get("/api/auth/me"))).status).toBe(200)
    }))

  it.scoped("oversized bodies are 413 payload_too_large before anything is parsed", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine({ env: { BOREALIS_MAX_BODY_BYTES: "4096" } })
      const client = engine.client()
      yield* promise(() => login(client))
      for (const path of ["/api/users", "/api/sites", "/api/admin/enrollment-codes", "/api/auth/login"]) {
        const reply = yield* promise(() => client.post(path, { name: "x".repeat(8000), username: "y".repeat(8000) }))
        expect([path, reply.status, reply.json]).toEqual([path, 413, { error: "payload_too_large" }])
      }
      expect(auditRows(engine.databasePath).filter((r) => r.type !== "auth.login.succeeded")).toEqual([])
    }))

  it.scoped("the routes are in the OpenAPI document; the start-up log warns about the default password", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const doc = yield* promise(() => engine.client().get("/api/openapi.json"))
      expect(doc.status).toBe(200)
      for (const path of [
        "/api/auth/login", "/api/auth/logout", "/api/auth/me", "/api/auth/mfa/verify", "/api/users", "/api/users/{username}/role",
        "/api/sites", "/api/sites/device_map", "/api/devices", "/api/device/details/{hostname}", "/api/device/activity/job/{id}",
        "/api/admin/enrollment-codes", "/api/admin/device-approvals/{id}/approve", "/api/server/time", "/api/audit"
      ]) expect(Object.keys(doc.json.paths)).toContain(path)
      // The log is written through a stream: give it a moment to reach the file.
      const warned = yield* Effect.promise(async () => {
        for (let i = 0; i < 50; i++) {
          if (/default-admin-password-in-use.*username=admin/.test(fs.readFileSync(engine.logFile, "utf8"))) return true
          await new Promise((r) => setTimeout(r, 100))
        }
        return false
      })
      expect(warned).toBe(true)
    }))
})
