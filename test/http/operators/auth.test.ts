// spec: config-bootstrap-tests.md §6.9 (test_http_auth.py) and §1.3 (OPAUTH), over real HTTPS.
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { Client } from "../../support/http.ts"
import { startEngine } from "../../support/engine.ts"
import { auditRows, DEFAULT_ADMIN, login, logOnceContains, sha512, withDb } from "../../support/operators.ts"

const promise = <A>(f: () => Promise<A>) => Effect.promise(f)

describe("operator login (test_http_auth.py)", () => {
  it.scoped("login answers the original body, sets the session and borealis_auth cookies", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const client = engine.client()
      const reply = yield* promise(() => client.post("/api/auth/login", DEFAULT_ADMIN))
      expect(reply.status).toBe(200)
      expect(reply.json).toMatchObject({ status: "ok", username: "admin", role: "Admin" })
      expect(Object.keys(reply.json).sort()).toEqual(["role", "status", "token", "username"])
      expect(typeof reply.json.token).toBe("string")
      const cookies = reply.headers["set-cookie"] ?? []
      const session = cookies.find((c) => c.startsWith("session="))
      const token = cookies.find((c) => c.startsWith("borealis_auth="))
      expect(session).toMatch(/HttpOnly/i)
      expect(session).toMatch(/SameSite=Lax/i)
      expect(session).toMatch(/Path=\//)
      expect(session).toMatch(/Secure/)
      expect(token).toBeDefined()
      // Issue 19: the bearer cookie is HttpOnly too (it was readable by any script on the page).
      expect(token).toMatch(/HttpOnly/i)
      expect(token).toMatch(/SameSite=Lax/i)
      expect(token).toMatch(/Secure/)
      expect(token).toContain(`borealis_auth=${reply.json.token}`)
    }))

  it.scoped("cookies are not Secure in debug mode", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine({ env: { BOREALIS_DEBUG: "true" } })
      const reply = yield* promise(() => engine.client().post("/api/auth/login", DEFAULT_ADMIN))
      expect(reply.status).toBe(200)
      for (const c of reply.headers["set-cookie"] ?? []) expect(c).not.toMatch(/Secure/)
    }))

  it.scoped("me via the session cookie (test_auth_me_returns_session_user) says the default password is in use", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const client = engine.client()
      yield* promise(() => login(client))
      const me = yield* promise(() => client.get("/api/auth/me"))
      expect(me.status).toBe(200)
      expect(me.json).toEqual({ username: "admin", display_name: "Administrator", role: "Admin", password_change_required: true })
    }))

  it.scoped("me via the borealis_auth cookie alone, and via Bearer (test_auth_me_uses_token_when_session_missing)", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const { token } = yield* promise(() => login(engine.client()))
      expect(token).toBeTruthy()
      const byCookie = yield* promise(() => engine.client().get("/api/auth/me", { cookie: `borealis_auth=${token}` }))
      expect(byCookie.status).toBe(200)
      expect(byCookie.json).toMatchObject({ username: "admin", display_name: "Administrator", role: "Admin" })
      const byBearer = yield* promise(() => engine.client().get("/api/auth/me", { authorization: `Bearer ${token}` }))
      expect(byBearer.status).toBe(200)
      expect(byBearer.json).toMatchObject({ username: "admin", role: "Admin" })
      const lowerCase = yield* promise(() => engine.client().get("/api/auth/me", { authorization: `bearer ${token}` }))
      expect(lowerCase.status).toBe(200)
    }))

  it.scoped("me without login is 401 not_authenticated (test_auth_me_requires_authentication)", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const me = yield* promise(() => engine.client().get("/api/auth/me"))
      expect(me.status).toBe(401)
      expect(me.json).toEqual({ error: "not_authenticated" })
    }))

  it.scoped("tampered, foreign, garbage and expired tokens and sessions are 401", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const client = engine.client()
      const { token } = yield* promise(() => login(client))
      const [h, p, s] = token.split(".") as [string, string, string]
      const flipped = s.slice(0, -2) + (s.endsWith("AA") ? "BB" : "AA")
      const forgedPayload = Buffer.from(JSON.stringify({ u: "admin", r: "Admin", uid: 1, ep: 0, jti: "x", iat: 1, exp: 9999999999 })).toString("base64url")
      for (const bad of [`${h}.${p}.${flipped}`, `${h}.${forgedPayload}.${s}`, "garbage", "a.b.c", "x".repeat(10000)]) {
        const reply = yield* promise(() => engine.client().get("/api/auth/me", { cookie: `borealis_auth=${bad}` }))
        expect(reply.status).toBe(401)
        expect(reply.json).toEqual({ error: "not_authenticated" })
      }
      const other = yield* startEngine({ env: { BOREALIS_FLASK_SECRET_KEY: "another-secret-entirely-".repeat(3) } })
      const foreign = yield* promise(() => other.client().get("/api/auth/me", { authorization: `Bearer ${token}` }))
      expect(foreign.status).toBe(401)
      const badSession = yield* promise(() => engine.client().get("/api/auth/me", { cookie: "session=" + "A".repeat(43) }))
      expect(badSession.status).toBe(401)
      // An expired session no longer authenticates.
      withDb(engine.databasePath, (db) => db.prepare("UPDATE operator_sessions SET expires_at = 1").run())
      const sessionOnly = client.cookies.get("session")
      const expired = yield* promise(() => engine.client().get("/api/auth/me", { cookie: `session=${sessionOnly}` }))
      expect(expired.status).toBe(401)
    }))

  it.scoped("a plain password is hashed by the server; bad payloads give the original's 400 strings", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const client = engine.client()
      const plain = yield* promise(() => client.post("/api/auth/login", { username: "admin", password: "Password" }))
      expect(plain.status).toBe(200)
      const upper = yield* promise(() => client.post("/api/auth/login", { username: " ADMIN ", password_sha512: sha512("Password").toUpperCase() }))
      expect(upper.status).toBe(200)
      expect(upper.json.username).toBe("admin")
      const cases: Array<[unknown, string]> = [
        [{}, "username is required"],
        [{ username: "" }, "username is required"],
        [{ username: "admin" }, "password is required"],
        [{ password: "Password" }, "username is required"],
        [{ username: "admin", password: 123 }, "password is required"],
        [[1, 2], "username is required"]
      ]
      for (const [body, error] of cases) {
        const reply = yield* promise(() => client.post("/api/auth/login", body))
        expect(reply.status).toBe(400)
        expect(reply.json).toEqual({ error })
      }
      // Not JSON by content type: the original's get_json(silent=True) sees nothing.
      const textPlain = yield* promise(() =>
        client.request("/api/auth/login", { method: "POST", body: JSON.stringify(DEFAULT_ADMIN), headers: { "content-type": "text/plain" } }))
      expect(textPlain.status).toBe(400)
      expect(textPlain.json).toEqual({ error: "username is required" })
      const broken = yield* promise(() =>
        client.request("/api/auth/login", { method: "POST", body: "{not json", headers: { "content-type": "application/json" } }))
      expect(broken.status).toBe(400)
      const huge = yield* promise(() =>
        client.request("/api/auth/login", { method: "POST", body: JSON.stringify({ username: "a".repeat(30 * 1024 * 1024) }), headers: { "content-type": "application/json" } }))
      expect(huge.status).toBe(413)
      expect(huge.json).toEqual({ error: "payload_too_large" })
    }))

  it.scoped("wrong password and unknown user give the same 401 and are audited", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const client = engine.client()
      const wrong = yield* promise(() => client.post("/api/auth/login", { username: "admin", password_sha512: sha512("nope") }))
      const unknown = yield* promise(() => client.post("/api/auth/login", { username: "nobody", password_sha512: sha512("nope") }))
      for (const reply of [wrong, unknown]) {
        expect(reply.status).toBe(401)
        expect(reply.json).toEqual({ error: "invalid username or password" })
        expect(reply.headers["set-cookie"]).toBeUndefined()
      }
      const failed = auditRows(engine.databasePath, "auth.login.failed")
      expect(failed.map((r) => r.actor)).toEqual(["admin", "nobody"])
      expect(failed.every((r) => r.outcome === "failure" && r.actor_ip === "127.0.0.1")).toBe(true)
      expect(JSON.parse(failed[0]!.details_json)).toEqual({ reason: "invalid_credentials" })
      yield* promise(() => login(client))
      const ok = auditRows(engine.databasePath, "auth.login.succeeded")
      expect(ok).toHaveLength(1)
      expect(JSON.parse(ok[0]!.details_json)).toEqual({ method: "password", role: "Admin" })
    }))

  it.scoped("logout clears the session, expires both cookies and retires the token", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const client = engine.client()
      const { token } = yield* promise(() => login(client))
      const session = client.cookies.get("session")
      const out = yield* promise(() => client.post("/api/auth/logout", {}))
      expect(out.status).toBe(200)
      expect(out.json).toEqual({ status: "ok" })
      const cleared = out.headers["set-cookie"] ?? []
      expect(cleared.some((c) => /^borealis_auth=;/.test(c) && /Max-Age=0/.test(c))).toBe(true)
      expect(cleared.some((c) => /^session=;/.test(c) && /Max-Age=0/.test(c))).toBe(true)
      expect(client.cookies.size).toBe(0)
      const again = yield* promise(() => new Client(engine.url, engine.ca).get("/api/auth/me", { cookie: `session=${session}` }))
      expect(again.status).toBe(401)
      const replayed = yield* promise(() => engine.client().get("/api/auth/me", { authorization: `Bearer ${token}` }))
      expect(replayed.status).toBe(401)
      expect(auditRows(engine.databasePath, "auth.logout").map((r) => r.actor)).toEqual(["admin"])
      // Logging out without a session is still fine.
      const anonymous = yield* promise(() => engine.client().post("/api/auth/logout", {}))
      expect(anonymous.status).toBe(200)
    }))

  it.scoped("no password, hash or token appears in the log", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const client = engine.client()
      const { token } = yield* promise(() => login(client))
      yield* promise(() => client.post("/api/auth/login", { username: "admin", password: "S3cret-Plain!" }))
      yield* promise(() => client.get("/api/auth/me?marker=done"))
      const log = yield* promise(() => logOnceContains(engine.logFile, /http-request.*path=\/api\/auth\/me/))
      expect(log).toContain("audit")
      expect(log).toContain("auth.login.failed")
      expect(log).not.toContain(token)
      expect(log).not.toContain(sha512("Password"))
      expect(log).not.toContain("S3cret-Plain!")
      expect(log).not.toContain(client.cookies.get("session") ?? "<none>")
    }))
})
