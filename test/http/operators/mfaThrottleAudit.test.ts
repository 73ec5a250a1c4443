// MFA over HTTPS with a generated TOTP, the login rate limit, and GET /api/audit.
// spec: config-bootstrap-tests.md §1.3 (OPAUTH), §6.9
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { currentCode } from "../../../src/services/operators/totp.ts"
import { startEngine } from "../../support/engine.ts"
import { auditRows, createUser, DEFAULT_ADMIN, login, logOnceContains, sha512, withDb } from "../../support/operators.ts"

const promise = <A>(f: () => Promise<A>) => Effect.promise(f)

describe("MFA over HTTPS", () => {
  it.scoped("setup then verify with a generated TOTP; then the verify stage on the next login", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine({ env: { BOREALIS_MFA_ISSUER: "Borealis Test" } })
      const admin = engine.client()
      yield* promise(() => login(admin))
      const enable = yield* promise(() => admin.post("/api/users/admin/mfa", { enabled: true }))
      expect(enable.status).toBe(200)

      const browser = engine.client()
      const setup = yield* promise(() => browser.post("/api/auth/login", DEFAULT_ADMIN))
      expect(setup.status).toBe(200)
      expect(setup.json).toMatchObject({ status: "mfa_required", stage: "setup", username: "admin", role: "Admin" })
      expect(Object.keys(setup.json).sort()).toEqual(["otpauth_url", "pending_token", "qr_image", "role", "secret", "stage", "status", "username"])
      expect(setup.json.otpauth_url).toContain("issuer=Borealis%20Test")
      expect(setup.json.qr_image).toMatch(/^data:image\/png;base64,/)
      // No session and no token yet: only the HttpOnly challenge cookie.
      expect(browser.cookies.has("session")).toBe(false)
      expect(browser.cookies.has("borealis_auth")).toBe(false)
      expect((setup.headers["set-cookie"] ?? []).find((c) => c.startsWith("borealis_mfa="))).toMatch(/HttpOnly/)
      expect((yield* promise(() => browser.get("/api/auth/me"))).status).toBe(401)

      const noCookie = yield* promise(() => engine.client().post("/api/auth/mfa/verify", { pending_token: setup.json.pending_token, code: "123456" }))
      expect(noCookie.status).toBe(401)
      expect(noCookie.json).toEqual({ error: "mfa_pending" })
      const shortCode = yield* promise(() => browser.post("/api/auth/mfa/verify", { pending_token: setup.json.pending_token, code: "12" }))
      expect(shortCode.status).toBe(400)
      expect(shortCode.json).toEqual({ error: "code must contain 6 digits" })
      const wrong = yield* promise(() => browser.post("/api/auth/mfa/verify", { pending_token: setup.json.pending_token, code: "000000" }))
      expect(wrong.status).toBe(401)
      expect(wrong.json).toEqual({ error: "invalid_code" })

      const code = currentCode(setup.json.secret)
      const verified = yield* promise(() => browser.post("/api/auth/mfa/verify", { pending_token: setup.json.pending_token, code: `${code.slice(0, 2)} ${code.slice(2, 4)}-${code.slice(4)}` }))
      expect(verified.status).toBe(200)
      expect(verified.json).toMatchObject({ status: "ok", username: "admin", role: "Admin" })
      expect(browser.cookies.has("session")).toBe(true)
      expect(browser.cookies.get("borealis_auth")).toBe(verified.json.token)
      expect(browser.cookies.has("borealis_mfa")).toBe(false)
      expect((yield* promise(() => browser.get("/api/auth/me"))).status).toBe(200)

      const second = engine.client()
      const verifyStage = yield* promise(() => second.post("/api/auth/login", DEFAULT_ADMIN))
      expect(verifyStage.json).toMatchObject({ status: "mfa_required", stage: "verify" })
      expect(verifyStage.json.secret).toBeUndefined()
      const reused = yield* promise(() => second.post("/api/auth/mfa/verify", { pending_token: verifyStage.json.pending_token, code }))
      expect(reused.status).toBe(401)
      const next = currentCode(setup.json.secret, Date.now() + 30_000)
      const ok = yield* promise(() => second.post("/api/auth/mfa/verify", { pending_token: verifyStage.json.pending_token, code: next }))
      expect(ok.status).toBe(200)
      const types = auditRows(engine.databasePath).map((r) => r.type)
      expect(types).toEqual(expect.arrayContaining(["user.mfa_changed", "auth.mfa.challenged", "auth.mfa.enrolled"]))
      const mfaLogins = auditRows(engine.databasePath, "auth.login.succeeded").map((r) => JSON.parse(r.details_json).method)
      expect(mfaLogins).toEqual(["password", "mfa", "mfa"])
      // The TOTP secret is never in the audit trail or the log.
      expect(JSON.stringify(auditRows(engine.databasePath))).not.toContain(setup.json.secret)
      const log = yield* promise(() => logOnceContains(engine.logFile, /auth\.mfa\.enrolled/))
      expect(log).not.toContain(setup.json.secret)
      // Resetting the secret retires the sessions and brings back the setup stage.
      const reset = yield* promise(() => admin.post("/api/users/admin/mfa", { enabled: true, reset_secret: true }))
      expect(reset.status).toBe(200)
      expect((yield* promise(() => browser.get("/api/auth/me"))).status).toBe(401)
      const again = yield* promise(() => engine.client().post("/api/auth/login", DEFAULT_ADMIN))
      expect(again.json.stage).toBe("setup")
    }))
})

describe("login rate limit", () => {
  it.scoped("per (account, client): the 6th attempt within 5 minutes is 429 with Retry-After, even with the right password", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const client = engine.client()
      // The test connects from loopback, a trusted proxy by default: X-Forwarded-For names the client.
      for (let i = 0; i < 5; i++) {
        const reply = yield* promise(() => client.post("/api/auth/login", { username: "admin", password_sha512: sha512("wrong") }, { "x-forwarded-for": "198.51.100.7" }))
        expect(reply.status).toBe(401)
      }
      const limited = yield* promise(() => client.post("/api/auth/login", DEFAULT_ADMIN, { "x-forwarded-for": "198.51.100.7" }))
      expect(limited.status).toBe(429)
      expect(limited.json.error).toBe("rate_limited")
      expect(limited.json.retry_after).toBeGreaterThan(0)
      expect(Number(limited.headers["retry-after"])).toBeGreaterThanOrEqual(1)
      expect(Number(limited.headers["retry-after"])).toBeLessThanOrEqual(300)
      // Another account is unaffected; an unknown username is limited the same way.
      withDb(engine.databasePath, (db) =>
        db.prepare("INSERT INTO users (username, display_name, password_sha512, role) VALUES ('bob', 'bob', ?, 'User')").run(sha512("pw")))
      expect((yield* promise(() => client.post("/api/auth/login", { username: "bob", password: "pw" }))).status).toBe(200)
      for (let i = 0; i < 5; i++) {
        yield* promise(() => client.post("/api/auth/login", { username: "ghost", password_sha512: sha512("x") }, { "x-forwarded-for": "192.0.2.9" }))
      }
      const ghost = yield* promise(() => client.post("/api/auth/login", { username: "ghost", password_sha512: sha512("x") }, { "x-forwarded-for": "192.0.2.9" }))
      expect(ghost.status).toBe(429)
      // Issue 19: the real admin, from a client with no recent failures, still signs in.
      const owner = yield* promise(() => client.post("/api/auth/login", DEFAULT_ADMIN, { "x-forwarded-for": "203.0.113.5" }))
      expect(owner.status).toBe(200)
      const reasons = auditRows(engine.databasePath, "auth.login.failed").map((r) => JSON.parse(r.details_json).reason)
      expect(reasons.slice(0, 6)).toEqual(["invalid_credentials", "invalid_credentials", "invalid_credentials", "invalid_credentials", "invalid_credentials", "rate_limited"])
      expect(reasons.at(-1)).toBe("rate_limited")
    }))

  it.scoped("per IP: 20 failures from one address block it for every username", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const client = engine.client()
      for (let i = 0; i < 20; i++) {
        const reply = yield* promise(() => client.post("/api/auth/login", { username: `user${i}`, password_sha512: sha512("x") }))
        expect(reply.status).toBe(401)
      }
      const blocked = yield* promise(() => client.post("/api/auth/login", DEFAULT_ADMIN))
      expect(blocked.status).toBe(429)
      const elsewhere = yield* promise(() => client.post("/api/auth/login", DEFAULT_ADMIN, { "x-forwarded-for": "203.0.113.7" }))
      expect(elsewhere.status).toBe(200)
    }))
})

describe("GET /api/audit", () => {
  it.scoped("admin only; newest first; filters by type, prefix, actor and time; paginates", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const admin = engine.client()
      expect((yield* promise(() => admin.get("/api/audit"))).status).toBe(401)
      yield* promise(() => login(admin))
      const viewer = yield* promise(() => createUser(admin, "viewer", "User"))
      const viewerClient = engine.client()
      yield* promise(() => login(viewerClient, viewer))
      const forbidden = yield* promise(() => viewerClient.get("/api/audit"))
      expect(forbidden.status).toBe(403)
      yield* promise(() => admin.post("/api/sites", { name: "HQ" }))
      yield* promise(() => engine.client().post("/api/auth/login", { username: "admin", password_sha512: sha512("bad") }))

      const all = yield* promise(() => admin.get("/api/audit"))
      expect(all.status).toBe(200)
      expect(all.json.total).toBe(5)
      expect(all.json.events.map((e: { type: string; actor: string }) => [e.type, e.actor])).toEqual([
        ["auth.login.failed", "admin"],
        ["site.created", "admin"],
        ["auth.login.succeeded", "viewer"],
        ["user.created", "admin"],
        ["auth.login.succeeded", "admin"]
      ])
      const ids = all.json.events.map((e: { id: number }) => e.id)
      expect([...ids].sort((a: number, b: number) => b - a)).toEqual(ids)
      expect(all.json.events[0]).toMatchObject({ type: "auth.login.failed", actor: "admin", outcome: "failure", details: { reason: "invalid_credentials" } })
      expect(all.json.events[0].ts_iso).toMatch(/Z$/)

      const exact = yield* promise(() => admin.get("/api/audit?type=site.created"))
      expect(exact.json.events.map((e: { type: string; details: unknown }) => [e.type, e.details])).toEqual([["site.created", { name: "HQ" }]])
      const prefix = yield* promise(() => admin.get("/api/audit?type=auth.*"))
      expect(prefix.json.events.every((e: { type: string }) => e.type.startsWith("auth."))).toBe(true)
      expect(prefix.json.total).toBe(3)
      const byActor = yield* promise(() => admin.get("/api/audit?actor=viewer"))
      expect(byActor.json.events.map((e: { type: string }) => e.type)).toEqual(["auth.login.succeeded"])
      const page = yield* promise(() => admin.get("/api/audit?limit=2&offset=1"))
      expect(page.json).toMatchObject({ limit: 2, offset: 1, total: 5 })
      expect(page.json.events.map((e: { id: number }) => e.id)).toEqual(ids.slice(1, 3))
      const future = yield* promise(() => admin.get(`/api/audit?since=${Math.floor(Date.now() / 1000) + 3600}`))
      expect(future.json).toMatchObject({ events: [], total: 0 })
      const isoRange = yield* promise(() => admin.get("/api/audit?since=2000-01-01T00:00:00Z&until=2999-01-01"))
      expect(isoRange.json.total).toBe(5)
      for (const bad of ["limit=0", "limit=5000", "limit=x", "offset=-1", "since=yesterday"]) {
        const reply = yield* promise(() => admin.get(`/api/audit?${bad}`))
        expect(reply.status).toBe(400)
        expect(reply.json.error).toMatch(/^invalid_/)
      }
    }))
})
