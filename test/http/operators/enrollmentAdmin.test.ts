// spec: config-bootstrap-tests.md §6.10 (test_http_admin.py), auth-enrollment.md §1.6/§2.4, over HTTPS.
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { createHash, generateKeyPairSync, randomBytes, sign } from "node:crypto"
import { startEngine } from "../../support/engine.ts"
import { auditRows, createUser, login, withDb } from "../../support/operators.ts"

const promise = <A>(f: () => Promise<A>) => Effect.promise(f)
const b64 = (s: string) => Buffer.from(s).toString("base64")

/** An approval row as the original's tests insert it. */
const insertApproval = (file: string, row: { id: string; reference: string; hostname: string; fingerprint: string; guid?: string }) =>
  withDb(file, (db) => {
    const now = new Date().toISOString()
    db.prepare(`INSERT INTO device_approvals (id, approval_reference, guid, hostname_claimed, ssl_key_fingerprint_claimed,
        enrollment_code_id, status, client_nonce, server_nonce, agent_pubkey_der, created_at, updated_at, approved_by_user_id)
      VALUES (?, ?, ?, ?, ?, 'code-1', 'pending', ?, ?, ?, ?, ?, NULL)`)
      .run(row.id, row.reference, row.guid ?? null, row.hostname, row.fingerprint, b64("client"), b64("server"), Buffer.from("pub"), now, now)
  })

const insertDevice = (file: string, guid: string, hostname: string, fingerprint: string) =>
  withDb(file, (db) =>
    db.prepare("INSERT INTO devices (guid, hostname, ssl_key_fingerprint, created_at, last_seen, token_version, status) VALUES (?, ?, ?, ?, ?, 1, 'active')")
      .run(guid, hostname, fingerprint, 1700000000, 1700000000))

const approvalRow = (file: string, id: string) =>
  withDb(file, (db) => db.prepare("SELECT status, guid, approved_by_user_id FROM device_approvals WHERE id = ?").get(id)) as
    { status: string; guid: string | null; approved_by_user_id: string | null }

describe("install codes (test_enrollment_code_workflow)", () => {
  it.scoped("need an admin: 401 without a session, 403 for a User (test_enrollment_codes_require_authentication)", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const anonymous = yield* promise(() => engine.client().get("/api/admin/enrollment-codes"))
      expect(anonymous.status).toBe(401)
      expect(anonymous.json).toEqual({ error: "not_authenticated" })
      const admin = engine.client()
      yield* promise(() => login(admin))
      const user = yield* promise(() => createUser(admin, "viewer", "User"))
      const viewer = engine.client()
      yield* promise(() => login(viewer, user))
      const forbidden = yield* promise(() => viewer.get("/api/admin/enrollment-codes"))
      expect(forbidden.status).toBe(403)
      expect(forbidden.json).toEqual({ error: "forbidden" })
    }))

  it.scoped("create (201, computed status, format), list, delete; invalid TTL; clamping; aliases", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const client = engine.client()
      yield* promise(() => login(client))
      const before = Date.now()
      const created = yield* promise(() => client.post("/api/admin/enrollment-codes", { ttl_hours: 3, max_uses: 4 }))
      expect(created.status).toBe(201)
      expect(created.json).toMatchObject({ max_uses: 4, use_count: 0, status: "active", used_at: null, used_by_guid: null, last_used_at: null })
      expect(created.json.code).toMatch(/^[0-9A-F]{4}(-[0-9A-F]{4}){7}$/)
      expect(created.json.expires_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?\+00:00$/)
      const expires = Date.parse(created.json.expires_at)
      expect(expires - before).toBeGreaterThanOrEqual(3 * 3600_000 - 1000)
      expect(expires - before).toBeLessThan(3 * 3600_000 + 5000)
      const adminId = withDb(engine.databasePath, (db) => (db.prepare("SELECT id FROM users WHERE username = 'admin'").get() as { id: number }).id)
      expect(created.json.created_by_user_id).toBe(String(adminId))
      const list = yield* promise(() => client.get("/api/admin/enrollment-codes"))
      expect(list.status).toBe(200)
      expect(list.json.codes.map((c: { id: string }) => c.id)).toContain(created.json.id)

      const invalid = yield* promise(() => client.post("/api/admin/enrollment-codes", { ttl_hours: 2 }))
      expect(invalid.status).toBe(400)
      expect(invalid.json).toEqual({ error: "invalid_ttl" })
      const defaults = yield* promise(() => client.post("/api/admin/enrollment-codes", {}))
      expect(defaults.status).toBe(201)
      expect(defaults.json.max_uses).toBe(2)
      expect(Date.parse(defaults.json.expires_at) - Date.now()).toBeLessThanOrEqual(3600_000)
      const clampedHigh = yield* promise(() => client.post("/api/admin/enrollment-codes", { ttl: 24, allowed_uses: 50 }))
      expect(clampedHigh.json.max_uses).toBe(10)
      const clampedLow = yield* promise(() => client.post("/api/admin/enrollment-codes", { ttl_hours: "12", max_uses: 0 }))
      expect(clampedLow.status).toBe(201)
      expect(clampedLow.json.max_uses).toBe(1)
      const junk = yield* promise(() => client.post("/api/admin/enrollment-codes", { ttl_hours: "soon", max_uses: "many" }))
      expect(junk.status).toBe(201)
      expect(junk.json.max_uses).toBe(2)

      const deleted = yield* promise(() => client.request(`/api/admin/enrollment-codes/${created.json.id}`, { method: "DELETE" }))
      expect(deleted.status).toBe(200)
      expect(deleted.json).toEqual({ status: "deleted" })
      const again = yield* promise(() => client.request(`/api/admin/enrollment-codes/${created.json.id}`, { method: "DELETE" }))
      expect(again.status).toBe(404)
      expect(again.json).toEqual({ error: "not_found" })
      // A used code cannot be deleted.
      withDb(engine.databasePath, (db) => db.prepare("UPDATE enrollment_install_codes SET use_count = 1 WHERE id = ?").run(defaults.json.id))
      const used = yield* promise(() => client.request(`/api/admin/enrollment-codes/${defaults.json.id}`, { method: "DELETE" }))
      expect(used.status).toBe(404)
      expect(auditRows(engine.databasePath, "enrollment.code_created")).toHaveLength(5)
      expect(auditRows(engine.databasePath, "enrollment.code_deleted").map((r) => r.target)).toEqual([created.json.id])
      // The audit trail never holds the code itself.
      expect(JSON.stringify(auditRows(engine.databasePath))).not.toContain(created.json.code)
    }))

  it.scoped("status filter: active, expired, used", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const client = engine.client()
      yield* promise(() => login(client))
      const a = (yield* promise(() => client.post("/api/admin/enrollment-codes", { ttl_hours: 1, max_uses: 1 }))).json
      const e = (yield* promise(() => client.post("/api/admin/enrollment-codes", { ttl_hours: 1 }))).json
      const u = (yield* promise(() => client.post("/api/admin/enrollment-codes", { ttl_hours: 1, max_uses: 1 }))).json
      withDb(engine.databasePath, (db) => {
        db.prepare("UPDATE enrollment_install_codes SET expires_at = '2020-01-01T00:00:00+00:00' WHERE id = ?").run(e.id)
        db.prepare("UPDATE enrollment_install_codes SET use_count = 1, used_by_guid = 'deadbeef-0000-0000-0000-000000000001' WHERE id = ?").run(u.id)
      })
      const ids = async (status: string) =>
        (await client.get(`/api/admin/enrollment-codes?status=${status}`)).json.codes.map((c: { id: string }) => c.id)
      expect(yield* promise(() => ids("active"))).toEqual([a.id])
      expect(yield* promise(() => ids("expired"))).toEqual([e.id])
      expect(yield* promise(() => ids("used"))).toEqual([u.id])
      const all = (yield* promise(() => client.get("/api/admin/enrollment-codes"))).json.codes
      expect(all).toHaveLength(3)
      expect(all[0].id).toBe(e.id)
      expect(all.find((c: { id: string }) => c.id === u.id).used_by_guid).toBe("DEADBEEF-0000-0000-0000-000000000001")
    }))
})

describe("device approvals (test_http_admin.py)", () => {
  it.scoped("listing shows the hostname conflict with its site (test_device_approvals_listing)", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const client = engine.client()
      yield* promise(() => login(client))
      const site = (yield* promise(() => client.post("/api/sites", { name: "HQ" }))).json
      insertDevice(engine.databasePath, "22222222-2222-2222-2222-222222222222", "approval-host", "deadbeef")
      yield* promise(() => client.post("/api/sites/assign", { site_id: site.id, hostnames: ["approval-host"] }))
      insertApproval(engine.databasePath, { id: "approval-http", reference: "REFHTTP", hostname: "approval-host", fingerprint: "deadbeef" })
      insertApproval(engine.databasePath, { id: "approval-clash", reference: "REFCLASH", hostname: "approval-host", fingerprint: "otherfp" })
      const reply = yield* promise(() => client.get("/api/admin/device-approvals"))
      expect(reply.status).toBe(200)
      const byId = Object.fromEntries(reply.json.approvals.map((a: { id: string }) => [a.id, a]))
      expect(byId["approval-http"]).toMatchObject({
        approval_reference: "REFHTTP",
        status: "pending",
        hostname_claimed: "approval-host",
        ssl_key_fingerprint_claimed: "deadbeef",
        enrollment_code_id: "code-1",
        guid: null,
        approved_by_user_id: null,
        approved_by_username: null,
        client_nonce: b64("client"),
        server_nonce: b64("server"),
        conflict_requires_prompt: false,
        fingerprint_match: true,
        hostname_conflict: {
          guid: "22222222-2222-2222-2222-222222222222",
          ssl_key_fingerprint: "deadbeef",
          site_id: site.id,
          site_name: "HQ",
          fingerprint_match: true,
          requires_prompt: false
        }
      })
      expect(byId["approval-http"].alternate_hostname).toBeUndefined()
      expect(byId["approval-http"].created_at).toMatch(/\+00:00$/)
      expect(byId["approval-clash"]).toMatchObject({ conflict_requires_prompt: true, fingerprint_match: false, alternate_hostname: "approval-host-1" })
      const filtered = yield* promise(() => client.get("/api/admin/device-approvals?status=denied"))
      expect(filtered.json).toEqual({ approvals: [] })
      const all = yield* promise(() => client.get("/api/admin/device-approvals?status=all"))
      expect(all.json.approvals).toHaveLength(2)
    }))

  it.scoped("a conflict needs a resolution; overwrite adopts the existing GUID; double approval is 409 (test_device_approval_requires_resolution)", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const client = engine.client()
      yield* promise(() => login(client))
      insertDevice(engine.databasePath, "33333333-3333-3333-3333-333333333333", "conflict-host", "existingfp")
      insertApproval(engine.databasePath, { id: "approval-conflict", reference: "REFCONFLICT", hostname: "conflict-host", fingerprint: "newfinger" })
      const unresolved = yield* promise(() => client.post("/api/admin/device-approvals/approval-conflict/approve", {}))
      expect(unresolved.status).toBe(409)
      expect(unresolved.json).toEqual({ error: "conflict_resolution_required" })
      expect(approvalRow(engine.databasePath, "approval-conflict").status).toBe("pending")
      const approved = yield* promise(() => client.post("/api/admin/device-approvals/approval-conflict/approve", { conflict_resolution: "overwrite" }))
      expect(approved.status).toBe(200)
      expect(approved.json).toEqual({ status: "approved", conflict_resolution: "overwrite" })
      const row = approvalRow(engine.databasePath, "approval-conflict")
      expect(row.status).toBe("approved")
      expect(row.guid).toBe("33333333-3333-3333-3333-333333333333")
      expect(row.approved_by_user_id).toBeTruthy()
      const twice = yield* promise(() => client.post("/api/admin/device-approvals/approval-conflict/approve", { conflict_resolution: "overwrite" }))
      expect(twice.status).toBe(409)
      expect(twice.json).toEqual({ error: "approval_not_pending" })
      const denyAfter = yield* promise(() => client.post("/api/admin/device-approvals/approval-conflict/deny", {}))
      expect(denyAfter.status).toBe(409)
      const listed = (yield* promise(() => client.get("/api/admin/device-approvals?status=approved"))).json.approvals[0]
      expect(listed.approved_by_username).toBe("admin")
      const audit = auditRows(engine.databasePath, "enrollment.approval_approved")
      expect(audit).toHaveLength(1)
      expect(JSON.parse(audit[0]!.details_json)).toEqual({
        hostname: "conflict-host", guid: "33333333-3333-3333-3333-333333333333", conflict_resolution: "overwrite"
      })
    }))

  it.scoped("coexist keeps a new identity; `resolution` is an alias", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const client = engine.client()
      yield* promise(() => login(client))
      insertDevice(engine.databasePath, "55555555-5555-5555-5555-555555555555", "twin-host", "fp-old")
      insertApproval(engine.databasePath, { id: "approval-twin", reference: "REFTWIN", hostname: "twin-host", fingerprint: "fp-new" })
      const reply = yield* promise(() => client.post("/api/admin/device-approvals/approval-twin/approve", { resolution: " Coexist " }))
      expect(reply.status).toBe(200)
      expect(reply.json).toEqual({ status: "approved", conflict_resolution: "coexist" })
      expect(approvalRow(engine.databasePath, "approval-twin")).toMatchObject({ status: "approved", guid: null })
    }))

  it.scoped("same fingerprint merges automatically (test_device_approval_auto_merge)", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const client = engine.client()
      yield* promise(() => login(client))
      insertDevice(engine.databasePath, "44444444-4444-4444-4444-444444444444", "merge-host", "deadbeef")
      insertApproval(engine.databasePath, { id: "approval-merge", reference: "REFMERGE", hostname: "merge-host", fingerprint: "deadbeef" })
      const reply = yield* promise(() => client.post("/api/admin/device-approvals/approval-merge/approve", {}))
      expect(reply.status).toBe(200)
      expect(reply.json).toEqual({ status: "approved", conflict_resolution: "auto_merge_fingerprint" })
      expect(approvalRow(engine.databasePath, "approval-merge")).toMatchObject({ status: "approved", guid: "44444444-4444-4444-4444-444444444444" })
    }))

  it.scoped("deny (test_device_approval_deny); unknown ids; bad guid and resolution", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const client = engine.client()
      yield* promise(() => login(client))
      insertApproval(engine.databasePath, { id: "approval-deny", reference: "REFDENY", hostname: "deny-host", fingerprint: "abc" })
      const denied = yield* promise(() => client.post("/api/admin/device-approvals/approval-deny/deny", {}))
      expect(denied.status).toBe(200)
      expect(denied.json).toEqual({ status: "denied" })
      expect(approvalRow(engine.databasePath, "approval-deny").status).toBe("denied")
      expect(auditRows(engine.databasePath, "enrollment.approval_denied").map((r) => r.target)).toEqual(["approval-deny"])
      const twice = yield* promise(() => client.post("/api/admin/device-approvals/approval-deny/deny", {}))
      expect(twice.status).toBe(409)
      expect(twice.json).toEqual({ error: "approval_not_pending" })
      for (const action of ["approve", "deny"]) {
        const missing = yield* promise(() => client.post(`/api/admin/device-approvals/nope/${action}`, {}))
        expect(missing.status).toBe(404)
        expect(missing.json).toEqual({ error: "not_found" })
      }
      insertApproval(engine.databasePath, { id: "approval-guid", reference: "REFGUID", hostname: "guid-host", fingerprint: "abc2" })
      const badGuid = yield* promise(() => client.post("/api/admin/device-approvals/approval-guid/approve", { guid: "not-a-guid" }))
      expect(badGuid.status).toBe(400)
      expect(badGuid.json).toEqual({ error: "invalid_guid" })
      const badResolution = yield* promise(() => client.post("/api/admin/device-approvals/approval-guid/approve", { conflict_resolution: "merge" }))
      expect(badResolution.status).toBe(400)
      expect(badResolution.json).toEqual({ error: "invalid_conflict_resolution" })
      const withGuid = yield* promise(() => client.post("/api/admin/device-approvals/approval-guid/approve", { guid: "{66666666-6666-6666-6666-666666666666}" }))
      expect(withGuid.status).toBe(200)
      expect(withGuid.json).toEqual({ status: "approved" })
      expect(approvalRow(engine.databasePath, "approval-guid").guid).toBe("66666666-6666-6666-6666-666666666666")
    }))

  it.scoped("end to end with a real agent key: request with an install code, approve, poll gets tokens", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const admin = engine.client()
      yield* promise(() => login(admin))
      const code = (yield* promise(() => admin.post("/api/admin/enrollment-codes", { ttl_hours: 1, max_uses: 1 }))).json
      const { publicKey, privateKey } = generateKeyPairSync("ed25519")
      const spki = publicKey.export({ type: "spki", format: "der" })
      const clientNonce = randomBytes(32).toString("base64")
      const agent = engine.client()
      const request = yield* promise(() => agent.post("/api/agent/enroll/request", {
        hostname: "e2e-host", enrollment_code: code.code, agent_pubkey: spki.toString("base64"), client_nonce: clientNonce
      }))
      expect(request.status).toBe(200)
      expect(request.json.status).toBe("pending")
      const pending = (yield* promise(() => admin.get("/api/admin/device-approvals?status=pending"))).json.approvals
      expect(pending).toHaveLength(1)
      expect(pending[0].ssl_key_fingerprint_claimed).toBe(createHash("sha256").update(spki).digest("hex"))
      const approve = yield* promise(() => admin.post(`/api/admin/device-approvals/${pending[0].id}/approve`, {}))
      expect(approve.status).toBe(200)
      const message = Buffer.concat([
        Buffer.from(request.json.server_nonce, "base64"),
        Buffer.from(request.json.approval_reference, "utf8"),
        Buffer.from(clientNonce, "base64")
      ])
      const proof = sign(null, message, privateKey).toString("base64")
      const poll = yield* promise(() => agent.post("/api/agent/enroll/poll", {
        approval_reference: request.json.approval_reference, client_nonce: clientNonce, proof_sig: proof
      }))
      expect(poll.status).toBe(200)
      expect(poll.json.status).toBe("approved")
      expect(poll.json.guid).toMatch(/^[0-9A-F-]{36}$/)
      expect(typeof poll.json.access_token).toBe("string")
      const devices = (yield* promise(() => admin.get("/api/devices"))).json.devices
      expect(devices.map((d: { hostname: string }) => d.hostname)).toContain("e2e-host")
      const codes = (yield* promise(() => admin.get("/api/admin/enrollment-codes"))).json.codes
      expect(codes[0]).toMatchObject({ use_count: 1, status: "used", used_by_guid: poll.json.guid })
    }))
})
