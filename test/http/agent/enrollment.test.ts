// Enrollment over real HTTPS on a real port against a real SQLite file (spec: auth-enrollment.md §1.1,
// §1.2, §2). Every error row of the request and poll tables.
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Scope from "effect/Scope"
import * as Exit from "effect/Exit"
import * as crypto from "node:crypto"
import * as jose from "jose"
import * as fs from "node:fs"
import * as path from "node:path"
import { TestAgent } from "../../support/agent.ts"
import { startEngine, tempRoot } from "../../support/engine.ts"
import { adminClient, approvalFor, approve, createCode, enrolledAgent, sql } from "../../support/enrollment.ts"

const promise = <A>(f: () => Promise<A>) => Effect.promise(f)

describe("POST /api/agent/enroll/request", () => {
  it.scoped("answers pending with a fresh nonce, the presented chain and the signing key", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const admin = yield* promise(() => adminClient(engine.client))
      const { code } = yield* promise(() => createCode(admin))
      const agent = new TestAgent(engine.client(), "host-a")
      const a = yield* promise(() => agent.request(code, {}, { "x-borealis-agent-context": "SYSTEM" }))
      expect(a.status).toBe(200)
      expect(a.headers["content-type"]).toMatch(/^application\/json/)
      expect(Object.keys(a.json).sort()).toEqual(["approval_reference", "poll_after_ms", "server_certificate", "server_nonce", "signing_key", "status"])
      expect(a.json.status).toBe("pending")
      expect(a.json.poll_after_ms).toBe(3000)
      expect(a.json.approval_reference).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
      expect(Buffer.from(a.json.server_nonce, "base64")).toHaveLength(32)
      const bundle = fs.readFileSync(path.join(engine.root, "Certificates", "Server", "borealis-server-bundle.pem"), "utf8")
      expect(a.json.server_certificate).toBe(bundle)
      const pub = fs.readFileSync(path.join(engine.root, "Certificates", "Server", "Code-Signing", "engine-script-ed25519.pub"))
      expect(a.json.signing_key).toBe(pub.toString("base64"))
      // A repeat request from the same key supersedes: new reference and nonce, the old one is expired.
      const b = yield* promise(() => agent.request(code))
      expect(b.json.approval_reference).not.toBe(a.json.approval_reference)
      expect(b.json.server_nonce).not.toBe(a.json.server_nonce)
      const old = yield* promise(() => agent.poll(a.json.approval_reference, a.json.server_nonce))
      expect(old.json).toEqual({ status: "expired" })
      const current = yield* promise(() => agent.poll(b.json.approval_reference, b.json.server_nonce))
      expect(current.json).toEqual({ status: "pending", poll_after_ms: 5000 })
      expect(sql(engine.databasePath, "SELECT status FROM device_approvals ORDER BY created_at").map((r) => r["status"]).sort()).toEqual(["expired", "pending"])
    }))

  it.scoped("field errors in the original's order, and nothing written for a rejected request", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const admin = yield* promise(() => adminClient(engine.client))
      const { code } = yield* promise(() => createCode(admin))
      const c = engine.client()
      const good = new TestAgent(c, "h")
      const base = { hostname: "h", enrollment_code: code, agent_pubkey: good.publicKeyB64, client_nonce: good.clientNonce }
      const rsa = crypto.generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey.export({ format: "der", type: "spki" }).toString("base64")
      const p256 = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({ format: "der", type: "spki" }).toString("base64")
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ ...base, hostname: undefined }, "hostname_required"],
        [{ ...base, hostname: "   " }, "hostname_required"],
        [{ ...base, enrollment_code: "" }, "enrollment_code_required"],
        [{ ...base, hostname: "", enrollment_code: "" }, "hostname_required"],
        [{ ...base, agent_pubkey: undefined }, "agent_pubkey_required"],
        [{ ...base, agent_pubkey: 123 }, "agent_pubkey_required"],
        [{ ...base, client_nonce: undefined }, "client_nonce_required"],
        [{ ...base, client_nonce: ["x"] }, "client_nonce_required"],
        [{ ...base, agent_pubkey: "not base64!" }, "invalid_agent_pubkey"],
        [{ ...base, agent_pubkey: Buffer.from("short").toString("base64") }, "invalid_agent_pubkey"],
        [{ ...base, agent_pubkey: rsa }, "invalid_agent_pubkey"],
        [{ ...base, agent_pubkey: p256 }, "invalid_agent_pubkey"],
        [{ ...base, agent_pubkey: good.publicKeyB64.slice(0, -4) }, "invalid_agent_pubkey"],
        [{ ...base, client_nonce: "no base64" }, "invalid_client_nonce"],
        [{ ...base, client_nonce: Buffer.alloc(15).toString("base64") }, "invalid_client_nonce"],
        [{ ...base, client_nonce: good.clientNonce.replaceAll("+", "-") + "_" }, "invalid_client_nonce"],
        [{ ...base, enrollment_code: "NOPE-NOPE" }, "invalid_enrollment_code"],
        [{ ...base, enrollment_code: code.toLowerCase() }, "invalid_enrollment_code"]
      ]
      for (const [body, error] of cases) {
        const r = yield* promise(() => c.post("/api/agent/enroll/request", body))
        expect([error, r.status, r.json]).toEqual([error, 400, { error }])
      }
      // An unparseable body is {} (force=True, silent=True): the first field error.
      const raw = yield* promise(() => c.request("/api/agent/enroll/request", { method: "POST", body: "{not json", headers: { "content-type": "text/plain" } }))
      expect([raw.status, raw.json]).toEqual([400, { error: "hostname_required" }])
      const array = yield* promise(() => c.request("/api/agent/enroll/request", { method: "POST", body: "[1,2]" }))
      expect(array.json).toEqual({ error: "hostname_required" })
      expect(sql(engine.databasePath, "SELECT count(*) AS n FROM device_approvals")[0]!["n"]).toBe(0)
      // A URL-safe, whitespace-broken agent key is accepted (normalize_base64).
      const messy = `${good.publicKeyB64.slice(0, 8)}\n  ${good.publicKeyB64.slice(8)}`.replaceAll("+", "-").replaceAll("/", "_")
      const ok = yield* promise(() => c.post("/api/agent/enroll/request", { ...base, agent_pubkey: messy }))
      expect(ok.json.status).toBe("pending")
      // hostname and code are str()-ed and trimmed like the original
      const numeric = yield* promise(() => c.post("/api/agent/enroll/request", { ...base, hostname: 12345, enrollment_code: `  ${code}  ` }))
      expect(numeric.json.status).toBe("pending")
      expect(sql(engine.databasePath, "SELECT hostname_claimed FROM device_approvals WHERE status = 'pending'")).toEqual([{ hostname_claimed: "12345" }])
    }))

  it.scoped("install codes: expired and exhausted codes are refused, except the same machine re-enrolling", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const admin = yield* promise(() => adminClient(engine.client))
      const { id, code } = yield* promise(() => createCode(admin, { max_uses: 1 }))
      const agent = yield* promise(() => enrolledAgent(engine, admin, "reuse-host", code))
      expect(sql(engine.databasePath, "SELECT use_count, used_by_guid FROM enrollment_install_codes WHERE id = ?", id)).toEqual([
        { use_count: 1, used_by_guid: agent.guid }
      ])
      // exhausted: another key is refused …
      const stranger = new TestAgent(engine.client(), "stranger")
      expect((yield* promise(() => stranger.request(code))).json).toEqual({ error: "invalid_enrollment_code" })
      // … the machine it enrolled, with the same key, may re-enroll; the approval is pre-bound to its GUID
      const again = new TestAgent(engine.client(), "reuse-host", { privateKey: agent.privateKey, publicKey: crypto.createPublicKey(agent.privateKey) })
      const req = yield* promise(() => again.request(code))
      expect(req.json.status).toBe("pending")
      const approval = yield* promise(() => approvalFor(admin, req.json.approval_reference))
      expect(approval["guid"]).toBe(agent.guid)
      // expired
      const fresh = yield* promise(() => createCode(admin))
      sql(engine.databasePath, "UPDATE enrollment_install_codes SET expires_at = ? WHERE id = ?", new Date(Date.now() - 1000).toISOString(), fresh.id)
      expect((yield* promise(() => new TestAgent(engine.client(), "late").request(fresh.code))).json).toEqual({ error: "invalid_enrollment_code" })
      sql(engine.databasePath, "UPDATE enrollment_install_codes SET expires_at = 'not a date' WHERE id = ?", fresh.id)
      expect((yield* promise(() => new TestAgent(engine.client(), "late").request(fresh.code))).json).toEqual({ error: "invalid_enrollment_code" })
    }))

  it.scoped("rate limits: 40/min per IP (the client a trusted proxy forwards for) and 12/min per key, 429 with Retry-After", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const c = engine.client()
      // The test connects over loopback, a trusted proxy by default. Issue 19: the client is the
      // rightmost hop that is not a trusted proxy (the original took the first entry, which any
      // client can write): with `198.18.0.1, 203.0.113.9` it is 203.0.113.9 that is counted.
      for (let i = 0; i < 40; i++) {
        const r = yield* promise(() => c.post("/api/agent/enroll/request", {}, { "x-forwarded-for": i % 2 === 0 ? "203.0.113.9" : "198.18.0.1, 203.0.113.9" }))
        expect(r.status).toBe(400)
      }
      const limited = yield* promise(() => c.post("/api/agent/enroll/request", {}, { "x-forwarded-for": "203.0.113.9" }))
      expect(limited.status).toBe(429)
      expect(limited.json.error).toBe("rate_limited")
      expect(limited.json.retry_after).toBeGreaterThan(50)
      expect(Number(limited.headers["retry-after"])).toBeGreaterThanOrEqual(1)
      expect(Object.keys(limited.json).sort()).toEqual(["error", "retry_after"])
      // another address is unaffected
      expect((yield* promise(() => c.post("/api/agent/enroll/request", {}, { "x-forwarded-for": "203.0.113.10" }))).status).toBe(400)
      // per key: 12 requests reach the code check, the 13th is limited before it
      const agent = new TestAgent(c, "fp-host")
      for (let i = 0; i < 12; i++) {
        const r = yield* promise(() => agent.request("NO-SUCH-CODE", {}, { "x-forwarded-for": `198.51.100.${i}` }))
        expect(r.json).toEqual({ error: "invalid_enrollment_code" })
      }
      const fp = yield* promise(() => agent.request("NO-SUCH-CODE", {}, { "x-forwarded-for": "198.51.100.200" }))
      expect(fp.status).toBe(429)
      expect(fp.headers["retry-after"]).toMatch(/^\d+$/)
    }))
})

describe("POST /api/agent/enroll/poll", () => {
  it.scoped("error table and the state answers", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const admin = yield* promise(() => adminClient(engine.client))
      const { code } = yield* promise(() => createCode(admin, { max_uses: 5 }))
      const c = engine.client()
      const agent = new TestAgent(c, "poller")
      const req = (yield* promise(() => agent.request(code))).json
      const proof = agent.proof(req.server_nonce, req.approval_reference)
      const body = { approval_reference: req.approval_reference, client_nonce: agent.clientNonce, proof_sig: proof }
      const cases: Array<[Record<string, unknown>, number, unknown]> = [
        [{ ...body, approval_reference: undefined }, 400, { error: "approval_reference_required" }],
        [{ ...body, approval_reference: "" }, 400, { error: "approval_reference_required" }],
        [{ ...body, approval_reference: 7 }, 400, { error: "approval_reference_required" }],
        [{ ...body, client_nonce: undefined }, 400, { error: "client_nonce_required" }],
        [{ ...body, proof_sig: null }, 400, { error: "proof_sig_required" }],
        [{ ...body, client_nonce: "!!" }, 400, { error: "invalid_client_nonce" }],
        [{ ...body, proof_sig: "!!" }, 400, { error: "invalid_proof_sig" }],
        [{ ...body, approval_reference: "00000000-0000-4000-8000-000000000000" }, 404, { status: "unknown" }],
        [{ ...body, approval_reference: ` ${req.approval_reference}` }, 404, { status: "unknown" }],
        [{ ...body, client_nonce: crypto.randomBytes(32).toString("base64") }, 400, { error: "nonce_mismatch" }],
        [{ ...body, proof_sig: crypto.randomBytes(64).toString("base64") }, 400, { error: "invalid_proof" }],
        [{ ...body, proof_sig: Buffer.from(proof, "base64").subarray(0, 40).toString("base64") }, 400, { error: "invalid_proof" }]
      ]
      for (const [b, status, answer] of cases) {
        const r = yield* promise(() => c.post("/api/agent/enroll/poll", b))
        expect([b, r.status, r.json]).toEqual([b, status, answer])
      }
      // another key's valid signature over the same message is not a proof
      const other = new TestAgent(c, "other")
      const forged = crypto.sign(null, Buffer.concat([Buffer.from(req.server_nonce, "base64"), Buffer.from(req.approval_reference), Buffer.from(agent.clientNonce, "base64")]), other.privateKey)
      expect((yield* promise(() => c.post("/api/agent/enroll/poll", { ...body, proof_sig: forged.toString("base64") }))).json).toEqual({ error: "invalid_proof" })

      expect((yield* promise(() => c.post("/api/agent/enroll/poll", body))).json).toEqual({ status: "pending", poll_after_ms: 5000 })
      // stored rows that cannot be used
      sql(engine.databasePath, "UPDATE device_approvals SET server_nonce = '###' WHERE approval_reference = ?", req.approval_reference)
      expect((yield* promise(() => c.post("/api/agent/enroll/poll", body))).json).toEqual({ error: "server_nonce_invalid" })
      sql(engine.databasePath, "UPDATE device_approvals SET server_nonce = ?, agent_pubkey_der = ? WHERE approval_reference = ?", req.server_nonce, Buffer.from("junk-der-bytes"), req.approval_reference)
      expect((yield* promise(() => c.post("/api/agent/enroll/poll", body))).json).toEqual({ error: "agent_pubkey_invalid" })
      sql(engine.databasePath, "UPDATE device_approvals SET agent_pubkey_der = ?, status = 'weird' WHERE approval_reference = ?",
        Buffer.from(agent.publicKeyB64, "base64"), req.approval_reference)
      const weird = yield* promise(() => c.post("/api/agent/enroll/poll", body))
      expect([weird.status, weird.json]).toEqual([400, { status: "weird" }])

      // denied by an operator
      sql(engine.databasePath, "UPDATE device_approvals SET status = 'pending' WHERE approval_reference = ?", req.approval_reference)
      const approval = yield* promise(() => approvalFor(admin, req.approval_reference))
      expect((yield* promise(() => admin.post(`/api/admin/device-approvals/${approval["id"]}/deny`, {}))).json).toEqual({ status: "denied" })
      expect((yield* promise(() => c.post("/api/agent/enroll/poll", body))).json).toEqual({ status: "denied", reason: "operator_denied" })
    }))

  it.scoped("approval → tokens exactly once; then `finalized`; the device, key and code are recorded", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const admin = yield* promise(() => adminClient(engine.client))
      const { id: codeId, code } = yield* promise(() => createCode(admin))
      const agent = new TestAgent(engine.client(), "final-host")
      const req = (yield* promise(() => agent.request(code))).json
      yield* promise(() => approve(admin, req.approval_reference))
      const body = { approval_reference: req.approval_reference, client_nonce: agent.clientNonce, proof_sig: agent.proof(req.server_nonce, req.approval_reference) }
      // Concurrent polls with the same proof: exactly one finalises.
      const replies = yield* promise(() => Promise.all(Array.from({ length: 6 }, () => agent.client.post("/api/agent/enroll/poll", body))))
      const finalised = replies.filter((r) => r.json?.access_token !== undefined)
      expect(finalised).toHaveLength(1)
      for (const r of replies.filter((r) => r.json?.access_token === undefined)) {
        expect([[409, { error: "proof_replayed" }], [200, { status: "approved", detail: "finalized" }]]).toContainEqual([r.status, r.json])
      }
      const tokens = finalised[0]!.json
      expect(Object.keys(tokens).sort()).toEqual(["access_token", "expires_in", "guid", "refresh_token", "server_certificate", "signing_key", "status", "token_type"])
      expect(tokens).toMatchObject({ status: "approved", expires_in: 900, token_type: "Bearer" })
      expect(tokens.guid).toMatch(/^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$/)
      expect(tokens.refresh_token).toMatch(/^[A-Za-z0-9_-]{64}$/)
      // the access token: EdDSA, kid rule, claims, 900 s, verifiable with the published JWKS
      const header = jose.decodeProtectedHeader(tokens.access_token)
      expect(header).toEqual({ alg: "EdDSA", kid: expect.stringMatching(/^[0-9a-f]{16}$/), typ: "JWT" })
      const jwks = (yield* promise(() => engine.client().get("/.well-known/jwks.json"))).json
      expect(jwks.keys[0].kid).toBe(header.kid)
      const { payload } = yield* promise(() => jose.jwtVerify(tokens.access_token, jose.createLocalJWKSet(jwks)))
      expect(payload).toMatchObject({ sub: `device:${tokens.guid}`, guid: tokens.guid, ssl_key_fingerprint: agent.fingerprint, token_version: 1 })
      expect(payload.exp! - payload.iat!).toBe(900)
      expect(payload.nbf).toBe(payload.iat)
      // once completed, polls answer `finalized` without tokens (the replay cache is not even consulted)
      const later = yield* promise(() => agent.client.post("/api/agent/enroll/poll", body))
      expect([later.status, later.json]).toEqual([200, { status: "approved", detail: "finalized" }])
      const db = engine.databasePath
      expect(sql(db, "SELECT hostname, ssl_key_fingerprint, token_version, status FROM devices WHERE guid = ?", tokens.guid)).toEqual([
        { hostname: "final-host", ssl_key_fingerprint: agent.fingerprint, token_version: 1, status: "active" }
      ])
      expect(sql(db, "SELECT ssl_key_fingerprint, retired_at FROM device_keys WHERE guid = ?", tokens.guid)).toEqual([{ ssl_key_fingerprint: agent.fingerprint, retired_at: null }])
      expect(sql(db, "SELECT status, guid FROM device_approvals WHERE approval_reference = ?", req.approval_reference)).toEqual([{ status: "completed", guid: tokens.guid }])
      expect(sql(db, "SELECT use_count, used_by_guid FROM enrollment_install_codes WHERE id = ?", codeId)).toEqual([{ use_count: 1, used_by_guid: tokens.guid }])
      const stored = sql<{ token_hash: string; expires_at: string; revoked_at: string | null }>(db, "SELECT token_hash, expires_at, revoked_at FROM refresh_tokens WHERE guid = ?", tokens.guid)
      expect(stored).toHaveLength(1)
      expect(stored[0]!.token_hash).toBe(crypto.createHash("sha256").update(tokens.refresh_token).digest("hex"))
      expect(JSON.stringify(sql(db, "SELECT * FROM refresh_tokens"))).not.toContain(tokens.refresh_token)
      const days = (Date.parse(stored[0]!.expires_at) - Date.now()) / 86_400_000
      expect(days).toBeGreaterThan(89.9)
      expect(days).toBeLessThan(90.1)
    }))

  it.scoped("a new key for a known device: token_version bumped, old refresh tokens revoked, hostname conflicts resolved", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const admin = yield* promise(() => adminClient(engine.client))
      const { code } = yield* promise(() => createCode(admin, { max_uses: 10 }))
      const first = yield* promise(() => enrolledAgent(engine, admin, "rekey-host", code))
      // reinstall: same hostname, new key; the operator overwrites onto the existing device
      const second = new TestAgent(engine.client(), "rekey-host")
      const req = (yield* promise(() => second.request(code))).json
      const approval = yield* promise(() => approvalFor(admin, req.approval_reference))
      expect(approval["hostname_conflict"]?.["fingerprint_match"]).toBe(false)
      yield* promise(() => approve(admin, req.approval_reference, { conflict_resolution: "overwrite" }))
      yield* promise(() => second.poll(req.approval_reference, req.server_nonce))
      expect(second.guid).toBe(first.guid)
      const db = engine.databasePath
      expect(sql(db, "SELECT token_version, ssl_key_fingerprint FROM devices WHERE guid = ?", first.guid)).toEqual([
        { token_version: 2, ssl_key_fingerprint: second.fingerprint }
      ])
      expect(sql(db, "SELECT count(*) AS n FROM refresh_tokens WHERE guid = ? AND revoked_at IS NOT NULL", first.guid)[0]!["n"]).toBe(1)
      expect(sql(db, "SELECT ssl_key_fingerprint FROM device_keys WHERE guid = ? AND retired_at IS NOT NULL", first.guid)).toEqual([{ ssl_key_fingerprint: first.fingerprint }])
      // the old credentials are dead: refresh revoked, access token's version no longer matches
      expect((yield* promise(() => first.refresh())).json).toEqual({ error: "refresh_token_revoked" })
      expect((yield* promise(() => first.authed("/api/agent/heartbeat", {}))).json).toEqual({ error: "fingerprint_mismatch" })
      // coexist: a new device whose hostname gets a suffix
      const third = new TestAgent(engine.client(), "rekey-host")
      const req3 = (yield* promise(() => third.request(code))).json
      yield* promise(() => approve(admin, req3.approval_reference, { conflict_resolution: "coexist" }))
      yield* promise(() => third.poll(req3.approval_reference, req3.server_nonce))
      expect(third.guid).not.toBe(first.guid)
      expect(sql(db, "SELECT hostname FROM devices WHERE guid = ?", third.guid)).toEqual([{ hostname: "rekey-host-1" }])
    }))

  it.scoped("concurrent requests from one key leave exactly one pending approval", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const admin = yield* promise(() => adminClient(engine.client))
      const { code } = yield* promise(() => createCode(admin))
      const agent = new TestAgent(engine.client(), "racer")
      const replies = yield* promise(() => Promise.all(Array.from({ length: 8 }, () => agent.request(code))))
      for (const r of replies) expect(r.json.status).toBe("pending")
      expect(new Set(replies.map((r) => r.json.approval_reference)).size).toBe(8)
      expect(sql(engine.databasePath, "SELECT count(*) AS n FROM device_approvals WHERE status = 'pending'")[0]!["n"]).toBe(1)
    }))
})

describe("restart in the middle of an enrollment", () => {
  it.effect("the pending approval survives; tokens issued before the restart still verify", () =>
    Effect.gen(function*() {
      const root = tempRoot()
      const first = yield* Scope.make()
      const engine1 = yield* startEngine({ root }).pipe(Scope.extend(first))
      const admin1 = yield* promise(() => adminClient(engine1.client))
      const { code } = yield* promise(() => createCode(admin1))
      const veteran = yield* promise(() => enrolledAgent(engine1, admin1, "veteran", code))
      const newcomer = new TestAgent(engine1.client(), "newcomer")
      const req = (yield* promise(() => newcomer.request(code))).json
      yield* Scope.close(first, Exit.void)

      const second = yield* Scope.make()
      const engine2 = yield* startEngine({ root }).pipe(Scope.extend(second))
      const admin2 = yield* promise(() => adminClient(engine2.client))
      const moved = new TestAgent(engine2.client(), "newcomer", { privateKey: newcomer.privateKey, publicKey: crypto.createPublicKey(newcomer.privateKey) })
      Object.assign(moved, { clientNonce: newcomer.clientNonce })
      expect((yield* promise(() => moved.poll(req.approval_reference, req.server_nonce))).json).toEqual({ status: "pending", poll_after_ms: 5000 })
      yield* promise(() => approve(admin2, req.approval_reference))
      expect((yield* promise(() => moved.poll(req.approval_reference, req.server_nonce))).json.status).toBe("approved")
      // the veteran's access and refresh tokens from before the restart
      const vet2 = new TestAgent(engine2.client(), "veteran")
      Object.assign(vet2, { guid: veteran.guid, accessToken: veteran.accessToken, refreshToken: veteran.refreshToken })
      expect((yield* promise(() => vet2.authed("/api/agent/heartbeat", { hostname: "veteran" }))).json).toEqual({ status: "ok", poll_after_ms: 15000 })
      expect((yield* promise(() => vet2.refresh())).status).toBe(200)
      yield* Scope.close(second, Exit.void)
    }))
})
