// spec: config-bootstrap-tests.md §6.13 (test_http_users.py, test_operator_account_service.py), over HTTPS.
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { startEngine } from "../../support/engine.ts"
import { auditRows, createUser, login, sha512, withDb } from "../../support/operators.ts"

const promise = <A>(f: () => Promise<A>) => Effect.promise(f)

describe("operator accounts (test_http_users.py)", () => {
  it.scoped("GET /api/users needs a session (test_list_users_requires_authentication)", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const reply = yield* promise(() => engine.client().get("/api/users"))
      expect(reply.status).toBe(401)
      expect(reply.json).toEqual({ error: "not_authenticated" })
    }))

  it.scoped("lists accounts without hashes or secrets (test_list_users_returns_accounts)", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const client = engine.client()
      yield* promise(() => login(client))
      const reply = yield* promise(() => client.get("/api/users"))
      expect(reply.status).toBe(200)
      const admin = reply.json.users.find((u: { username: string }) => u.username === "admin")
      expect(admin).toMatchObject({ username: "admin", display_name: "Administrator", role: "Admin", mfa_enabled: 0 })
      expect(admin.last_login).toBeGreaterThan(0)
      expect(Object.keys(admin).sort()).toEqual(["created_at", "display_name", "last_login", "mfa_enabled", "role", "updated_at", "username"])
    }))

  it.scoped("create validates the payload; duplicates are 409 (test_create_user_validates_payload)", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const client = engine.client()
      yield* promise(() => login(client))
      const missing = yield* promise(() => client.post("/api/users", { username: "bob" }))
      expect(missing.status).toBe(400)
      expect(missing.json).toEqual({ error: "username and password are required" })
      const created = yield* promise(() => client.post("/api/users", { username: "bob", password_sha512: sha512("pw"), role: "User" }))
      expect(created.status).toBe(200)
      expect(created.json).toEqual({ status: "ok" })
      const duplicate = yield* promise(() => client.post("/api/users", { username: "bob", password_sha512: sha512("pw"), role: "User" }))
      expect(duplicate.status).toBe(409)
      expect(duplicate.json).toEqual({ error: "username already exists" })
      const otherCase = yield* promise(() => client.post("/api/users", { username: "BOB", password_sha512: sha512("pw") }))
      expect(otherCase.status).toBe(409)
      const shortHash = yield* promise(() => client.post("/api/users", { username: "carol", password_sha512: "abc" }))
      expect(shortHash.status).toBe(400)
      expect(shortHash.json).toEqual({ error: "password hash must be 128 hex characters" })
      const badRole = yield* promise(() => client.post("/api/users", { username: "dave", password_sha512: sha512("pw"), role: "root" }))
      expect(badRole.status).toBe(400)
      expect(badRole.json).toEqual({ error: "invalid role" })
      const list = yield* promise(() => client.get("/api/users"))
      const bob = list.json.users.find((u: { username: string }) => u.username === "bob")
      expect(bob).toMatchObject({ role: "User", display_name: "bob" })
      // The new account can log in with the hash it was created with.
      const bobLogin = yield* promise(() => engine.client().post("/api/auth/login", { username: "bob", password: "pw" }))
      expect(bobLogin.status).toBe(200)
      expect(bobLogin.json.role).toBe("User")
      expect(auditRows(engine.databasePath, "user.created").map((r) => [r.actor, r.target])).toEqual([["admin", "bob"]])
    }))

  it.scoped("delete: the sole user, yourself, the last admin, unknown users (test_delete_user_handles_edge_cases, …self_deletion)", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const client = engine.client()
      yield* promise(() => login(client))
      const sole = yield* promise(() => client.request("/api/users/admin", { method: "DELETE" }))
      expect(sole.status).toBe(400)
      expect(sole.json).toEqual({ error: "cannot delete yourself" })
      yield* promise(() => createUser(client, "alice", "User"))
      const self = yield* promise(() => client.request("/api/users/admin", { method: "DELETE" }))
      expect(self.status).toBe(400)
      expect(self.json).toEqual({ error: "cannot delete yourself" })
      const unknown = yield* promise(() => client.request("/api/users/nobody", { method: "DELETE" }))
      expect(unknown.status).toBe(404)
      expect(unknown.json).toEqual({ error: "user not found" })
      const alice = yield* promise(() => client.request("/api/users/alice", { method: "DELETE" }))
      expect(alice.status).toBe(200)
      expect(alice.json).toEqual({ status: "ok" })
      expect(withDb(engine.databasePath, (db) => db.prepare("SELECT count(*) AS n FROM users WHERE username = 'alice'").get())).toEqual({ n: 1 - 1 })
      expect(auditRows(engine.databasePath, "user.deleted").map((r) => r.target)).toEqual(["alice"])
    }))

  it.scoped("role changes: demoting the last admin is refused, and a demotion applies at once (test_change_role_updates_session)", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const admin = engine.client()
      yield* promise(() => login(admin))
      const backup = yield* promise(() => createUser(admin, "backup", "Admin"))
      const backupClient = engine.client()
      yield* promise(() => login(backupClient, backup))
      expect((yield* promise(() => backupClient.get("/api/users"))).status).toBe(200)
      const demote = yield* promise(() => admin.post("/api/users/backup/role", { role: "User" }))
      expect(demote.status).toBe(200)
      expect(demote.json).toEqual({ status: "ok" })
      // The demoted operator's existing session loses admin rights immediately.
      const nowForbidden = yield* promise(() => backupClient.get("/api/users"))
      expect(nowForbidden.status).toBe(403)
      expect(nowForbidden.json).toEqual({ error: "forbidden" })
      const me = yield* promise(() => backupClient.get("/api/auth/me"))
      expect(me.json.role).toBe("User")
      const last = yield* promise(() => admin.post("/api/users/admin/role", { role: "User" }))
      expect(last.status).toBe(400)
      expect(last.json).toEqual({ error: "cannot demote the last admin" })
      const invalid = yield* promise(() => admin.post("/api/users/backup/role", { role: "superuser" }))
      expect(invalid.status).toBe(400)
      expect(invalid.json).toEqual({ error: "invalid role" })
      const missing = yield* promise(() => admin.post("/api/users/ghost/role", { role: "Admin" }))
      expect(missing.status).toBe(404)
      expect(missing.json).toEqual({ error: "user not found" })
      const lower = yield* promise(() => admin.post("/api/users/backup/role", { role: "admin" }))
      expect(lower.status).toBe(200)
      expect((yield* promise(() => backupClient.get("/api/users"))).status).toBe(200)
      const changes = auditRows(engine.databasePath, "user.role_changed").map((r) => JSON.parse(r.details_json))
      expect(changes).toEqual([{ from: "Admin", to: "User" }, { from: "User", to: "Admin" }])
    }))

  it.scoped("reset_password needs a 128-hex hash and retires the account's sessions and tokens (test_reset_password_requires_valid_hash)", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const admin = engine.client()
      yield* promise(() => login(admin))
      const bob = yield* promise(() => createUser(admin, "bob", "User"))
      const bobClient = engine.client()
      const { token } = yield* promise(() => login(bobClient, bob))
      const bad = yield* promise(() => admin.post("/api/users/bob/reset_password", { password_sha512: "abc" }))
      expect(bad.status).toBe(400)
      expect(bad.json).toEqual({ error: "invalid password hash" })
      const unknown = yield* promise(() => admin.post("/api/users/ghost/reset_password", { password_sha512: sha512("x") }))
      expect(unknown.status).toBe(404)
      const ok = yield* promise(() => admin.post("/api/users/bob/reset_password", { password_sha512: sha512("new-password") }))
      expect(ok.status).toBe(200)
      expect(ok.json).toEqual({ status: "ok" })
      expect((yield* promise(() => bobClient.get("/api/auth/me"))).status).toBe(401)
      expect((yield* promise(() => engine.client().get("/api/auth/me", { authorization: `Bearer ${token}` }))).status).toBe(401)
      const oldPassword = yield* promise(() => engine.client().post("/api/auth/login", bob))
      expect(oldPassword.status).toBe(401)
      const newPassword = yield* promise(() => engine.client().post("/api/auth/login", { username: "bob", password: "new-password" }))
      expect(newPassword.status).toBe(200)
      expect(auditRows(engine.databasePath, "user.password_reset").map((r) => r.target)).toEqual(["bob"])
      expect(JSON.stringify(auditRows(engine.databasePath))).not.toContain(sha512("new-password"))
    }))

  it.scoped("mfa toggle: unknown user is 404 (test_update_mfa_returns_not_found_for_unknown_user); enabling sets the flag", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const admin = engine.client()
      yield* promise(() => login(admin))
      const missing = yield* promise(() => admin.post("/api/users/missing/mfa", { enabled: true }))
      expect(missing.status).toBe(404)
      expect(missing.json).toEqual({ error: "user not found" })
      yield* promise(() => createUser(admin, "carol", "User"))
      const on = yield* promise(() => admin.post("/api/users/carol/mfa", { enabled: true }))
      expect(on.status).toBe(200)
      const list = yield* promise(() => admin.get("/api/users"))
      expect(list.json.users.find((u: { username: string }) => u.username === "carol").mfa_enabled).toBe(1)
      expect(auditRows(engine.databasePath, "user.mfa_changed").map((r) => JSON.parse(r.details_json))).toEqual([
        { enabled: true, reset_secret: false }
      ])
    }))
})
