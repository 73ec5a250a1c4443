// Token refresh, device authentication, DPoP and rotation over real HTTPS (spec: auth-enrollment.md
// §1.3, §3.4, §4, §5), plus "never a spurious 401" when storage fails.
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as jose from "jose"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { TestAgent } from "../../support/agent.ts"
import { startEngine, tempRoot } from "../../support/engine.ts"
import { adminClient, createCode, enrolledAgent, sql } from "../../support/enrollment.ts"
import { auditRows } from "../../support/operators.ts"

const promise = <A>(f: () => Promise<A>) => Effect.promise(f)

const engineKey = (root: string) => crypto.createPrivateKey(fs.readFileSync(path.join(root, "Engine", "auth_keys", "engine-jwt-ed25519.key")))

/** A token signed with the Engine's own key but with chosen claims / header. */
const mint = (root: string, claims: Record<string, unknown>, header: Record<string, unknown> = {}) => {
  const key = engineKey(root)
  const spki = crypto.createPublicKey(key).export({ format: "der", type: "spki" })
  const kid = crypto.createHash("sha256").update(spki).digest("hex").slice(0, 16)
  return new jose.SignJWT(claims).setProtectedHeader({ alg: "EdDSA", kid, typ: "JWT", ...header }).sign(key)
}

interface DpopKey {
  readonly privateKey: crypto.KeyObject
  readonly jwk: jose.JWK
  readonly alg: string
}

const dpopKey = (kind: "ed25519" | "p256" = "ed25519"): DpopKey => {
  const pair = kind === "ed25519" ? crypto.generateKeyPairSync("ed25519") : crypto.generateKeyPairSync("ec", { namedCurve: "P-256" })
  return { privateKey: pair.privateKey, jwk: pair.publicKey.export({ format: "jwk" }) as jose.JWK, alg: kind === "ed25519" ? "EdDSA" : "ES256" }
}

const proof = (key: DpopKey, claims: Record<string, unknown>, header: Record<string, unknown> = {}) =>
  new jose.SignJWT({ jti: crypto.randomUUID(), iat: Math.floor(Date.now() / 1000), ...claims })
    .setProtectedHeader({ typ: "dpop+jwt", alg: key.alg, jwk: key.jwk, ...header })
    .sign(key.privateKey)

const ath = (token: string) => crypto.createHash("sha256").update(token).digest("base64url")

describe("POST /api/agent/token/refresh (§1.3, §5)", () => {
  it.scoped("success shape, sliding expiry, and every error of the table in order", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const admin = yield* promise(() => adminClient(engine.client))
      const agent = yield* promise(() => enrolledAgent(engine, admin, "refresh-host"))
      const db = engine.databasePath
      sql(db, "UPDATE refresh_tokens SET expires_at = ? WHERE guid = ?", new Date(Date.now() + 86_400_000).toISOString(), agent.guid)
      // the old Authorization and context headers are ignored
      const ok = yield* promise(() => agent.refresh({}, { authorization: "Bearer garbage", "x-borealis-agent-context": "SYSTEM" }))
      expect(ok.status).toBe(200)
      expect(Object.keys(ok.json).sort()).toEqual(["access_token", "expires_in", "token_type"])
      expect(ok.json).toMatchObject({ expires_in: 900, token_type: "Bearer" })
      const row = sql<{ expires_at: string; last_used_at: string }>(db, "SELECT expires_at, last_used_at FROM refresh_tokens WHERE guid = ?", agent.guid)[0]!
      expect((Date.parse(row.expires_at) - Date.now()) / 86_400_000).toBeGreaterThan(89.9)
      expect(row.last_used_at).not.toBeNull()
      // lowercase and braced GUIDs find the same token
      expect((yield* promise(() => agent.client.post("/api/agent/token/refresh", { guid: `{${agent.guid.toLowerCase()}}`, refresh_token: ` ${agent.refreshToken} ` }))).status).toBe(200)

      const c = agent.client
      const refresh = (body: Record<string, unknown>) => promise(() => c.post("/api/agent/token/refresh", body))
      const expectError = (r: { status: number; json: unknown }, status: number, error: string) =>
        expect([r.status, r.json]).toEqual([status, { error }])
      expectError(yield* refresh({ refresh_token: agent.refreshToken }), 400, "invalid_request")
      expectError(yield* refresh({ guid: agent.guid }), 400, "invalid_request")
      expectError(yield* refresh({ guid: agent.guid, refresh_token: "   " }), 400, "invalid_request")
      expectError(yield* refresh({ guid: agent.guid, refresh_token: "not-a-token" }), 401, "invalid_refresh_token")
      expectError(yield* refresh({ guid: crypto.randomUUID(), refresh_token: agent.refreshToken }), 401, "invalid_refresh_token")
      // purge barrier first
      sql(db, "INSERT INTO device_purge_barriers (guid, required_token_version, purged_at) VALUES (?, 2, ?)", agent.guid, new Date().toISOString())
      expectError(yield* promise(() => agent.refresh()), 401, "device_purged")
      sql(db, "DELETE FROM device_purge_barriers")
      sql(db, "UPDATE refresh_tokens SET expires_at = ? WHERE guid = ?", new Date(Date.now() - 1000).toISOString(), agent.guid)
      expectError(yield* promise(() => agent.refresh()), 401, "refresh_token_expired")
      sql(db, "UPDATE refresh_tokens SET expires_at = 'someday' WHERE guid = ?", agent.guid)
      expect((yield* promise(() => agent.refresh())).status).toBe(200)
      for (const status of ["revoked", "decommissioned"]) {
        sql(db, "UPDATE devices SET status = ? WHERE guid = ?", status, agent.guid)
        expectError(yield* promise(() => agent.refresh()), 403, "device_revoked")
      }
      sql(db, "UPDATE devices SET status = 'quarantined' WHERE guid = ?", agent.guid)
      expect((yield* promise(() => agent.refresh())).status).toBe(200)
      sql(db, "UPDATE devices SET guid = 'moved' WHERE guid = ?", agent.guid)
      expectError(yield* promise(() => agent.refresh()), 404, "device_not_found")
      sql(db, "UPDATE devices SET guid = ? WHERE guid = 'moved'", agent.guid)
      sql(db, "UPDATE refresh_tokens SET revoked_at = ? WHERE guid = ?", new Date().toISOString(), agent.guid)
      expectError(yield* promise(() => agent.refresh()), 401, "refresh_token_revoked")
    }))

  it.scoped("opt-in rotation: a new token each time, a 30 s grace for lost answers, reuse revokes the family", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const admin = yield* promise(() => adminClient(engine.client))
      const agent = yield* promise(() => enrolledAgent(engine, admin, "rotor"))
      const db = engine.databasePath
      const t0 = agent.refreshToken
      const r1 = yield* promise(() => agent.refresh({ rotate: true }))
      expect(r1.status).toBe(200)
      expect(r1.json.refresh_token).toMatch(/^[A-Za-z0-9_-]{64}$/)
      const t1 = r1.json.refresh_token as string
      // the answer was "lost": t0 again within the grace still works and yields t2
      const r2 = yield* promise(() => agent.refresh({ rotate: true }))
      expect(r2.status).toBe(200)
      const t2 = r2.json.refresh_token as string
      expect(new Set([t0, t1, t2]).size).toBe(3)
      // non-rotating callers keep today's behaviour: no refresh_token in the answer
      agent.refreshToken = t2
      expect(Object.keys((yield* promise(() => agent.refresh())).json)).not.toContain("refresh_token")
      // after the grace, presenting a superseded token is reuse: the whole family dies
      sql(db, "UPDATE refresh_tokens SET superseded_at = ? WHERE superseded_at IS NOT NULL", new Date(Date.now() - 60_000).toISOString())
      agent.refreshToken = t0
      const reuse = yield* promise(() => agent.refresh())
      expect([reuse.status, reuse.json]).toEqual([401, { error: "refresh_token_revoked" }])
      agent.refreshToken = t2
      expect((yield* promise(() => agent.refresh())).json).toEqual({ error: "refresh_token_revoked" })
      expect(sql(db, "SELECT count(*) AS n FROM refresh_tokens WHERE guid = ? AND revoked_at IS NULL", agent.guid)[0]!["n"]).toBe(0)
      const events = auditRows(db, "security.refresh_token_reuse")
      expect(events).toHaveLength(1)
      expect(events[0]!.target).toBe(agent.guid)
      expect(events[0]!.outcome).toBe("failure")
    }))
})

describe("device authentication (§3.4 variant B)", () => {
  it.scoped("every row of the table, auto-recovery, quarantine and the 60/min limit", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const admin = yield* promise(() => adminClient(engine.client))
      const agent = yield* promise(() => enrolledAgent(engine, admin, "auth-host"))
      const db = engine.databasePath
      const c = agent.client
      const hb = (headers: Record<string, string>) => promise(() => c.post("/api/agent/heartbeat", {}, headers))
      const bearer = (t: string) => ({ authorization: `Bearer ${t}` })
      const expectError = (r: { status: number; json: unknown }, status: number, error: string) =>
        expect([r.status, r.json]).toEqual([status, { error }])
      const now = Math.floor(Date.now() / 1000)
      const claims = { sub: `device:${agent.guid}`, guid: agent.guid, ssl_key_fingerprint: agent.fingerprint, token_version: 1, iat: now, nbf: now, exp: now + 900 }

      expectError(yield* hb({}), 401, "missing_authorization")
      expectError(yield* hb({ authorization: `bearer ${agent.accessToken}` }), 401, "missing_authorization")
      expectError(yield* hb({ authorization: "Bearer " }), 401, "missing_authorization")
      expectError(yield* hb(bearer("not.a.jwt")), 401, "invalid_token")
      expectError(yield* hb(bearer(yield* promise(() => mint(engine.root, { ...claims, iat: now - 2000, nbf: now - 2000, exp: now - 1000 })))), 401, "token_expired")
      // forged with another key, alg none, HS256 "confused" with the public key, missing exp
      const other = crypto.generateKeyPairSync("ed25519").privateKey
      expectError(yield* hb(bearer(yield* promise(() => new jose.SignJWT(claims).setProtectedHeader({ alg: "EdDSA" }).sign(other)))), 401, "invalid_token")
      expectError(yield* hb(bearer(new jose.UnsecuredJWT(claims).encode())), 401, "invalid_token")
      const publicBytes = crypto.createPublicKey(engineKey(engine.root)).export({ format: "der", type: "spki" })
      expectError(yield* hb(bearer(yield* promise(() => new jose.SignJWT(claims).setProtectedHeader({ alg: "HS256" }).sign(publicBytes)))), 401, "invalid_token")
      const { exp: _exp, ...noExp } = claims
      expectError(yield* hb(bearer(yield* promise(() => mint(engine.root, noExp)))), 401, "invalid_token")
      expectError(yield* hb(bearer(yield* promise(() => mint(engine.root, { ...claims, guid: undefined })))), 401, "invalid_claims")
      expectError(yield* hb(bearer(yield* promise(() => mint(engine.root, { ...claims, token_version: 0 })))), 401, "invalid_claims")
      expectError(yield* hb(bearer(yield* promise(() => mint(engine.root, { ...claims, token_version: "1" })))), 401, "invalid_claims")

      // stored state
      sql(db, "UPDATE devices SET ssl_key_fingerprint = 'someone-else' WHERE guid = ?", agent.guid)
      expectError(yield* hb(bearer(agent.accessToken)), 403, "fingerprint_mismatch")
      sql(db, "UPDATE devices SET ssl_key_fingerprint = ?, token_version = 2 WHERE guid = ?", agent.fingerprint, agent.guid)
      expectError(yield* hb(bearer(agent.accessToken)), 403, "token_version_mismatch")
      sql(db, "UPDATE devices SET token_version = 1, status = 'revoked' WHERE guid = ?", agent.guid)
      expectError(yield* hb(bearer(agent.accessToken)), 403, "device_revoked")
      sql(db, "UPDATE devices SET status = 'quarantined' WHERE guid = ?", agent.guid)
      expect((yield* hb(bearer(agent.accessToken))).status).toBe(200)
      const quarantined = yield* promise(() => agent.authed("/api/agent/script/request", {}))
      expect(quarantined.json).toMatchObject({ status: "quarantined", poll_after_ms: 60000, sig_alg: "ed25519" })
      sql(db, "UPDATE devices SET status = 'active' WHERE guid = ?", agent.guid)
      const idle = yield* promise(() => agent.authed("/api/agent/script/request", { guid: agent.guid }))
      expect(idle.json).toEqual({ status: "idle", poll_after_ms: 30000, sig_alg: "ed25519", signing_key: expect.any(String) })

      // a valid token whose device row is gone: the row is recovered
      sql(db, "DELETE FROM devices WHERE guid = ?", agent.guid)
      expect((yield* hb(bearer(agent.accessToken))).status).toBe(200)
      expect(sql(db, "SELECT hostname, status, token_version FROM devices WHERE guid = ?", agent.guid)).toEqual([
        { hostname: `RECOVERED-${agent.guid.slice(0, 12)}`, status: "active", token_version: 1 }
      ])
      // … unless the row cannot be recreated: then device_not_found
      sql(db, "DELETE FROM devices WHERE guid = ?", agent.guid)
      sql(db, "CREATE TRIGGER no_recovery BEFORE INSERT ON devices BEGIN SELECT RAISE(IGNORE); END")
      expectError(yield* hb(bearer(agent.accessToken)), 404, "device_not_found")
      sql(db, "DROP TRIGGER no_recovery")

      // 60 requests per minute per fingerprint
      const fresh = yield* promise(() => enrolledAgent(engine, admin, "busy-host"))
      let limited: { status: number; headers: Record<string, unknown>; json: any } | undefined
      for (let i = 0; i < 61; i++) {
        const r = yield* promise(() => fresh.authed("/api/agent/script/request", {}))
        if (r.status === 429) {
          limited = r
          break
        }
      }
      expect(limited?.json.error).toBe("rate_limited")
      expect(Number(limited?.headers["retry-after"])).toBeGreaterThanOrEqual(1)
    }))

  it.scoped("heartbeat and details persist what the agent reports (§6.8)", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const admin = yield* promise(() => adminClient(engine.client))
      const agent = yield* promise(() => enrolledAgent(engine, admin, "inv-host"))
      const db = engine.databasePath
      const start = Math.floor(Date.now() / 1000)
      const details = yield* promise(() => agent.authed("/api/agent/details", {
        hostname: "inv-host",
        agent_id: "AGENT-01",
        agent_hash: "hash-value",
        details: {
          summary: { device_type: "Laptop", last_user: "BUNNY-LAB\\nicole.rappe", operating_system: "Windows 11", description: "Primary workstation", last_reboot: "2025-10-01 10:00:00", uptime: 3600 },
          memory: [{ slot: "DIMM0", capacity: 17179869184 }],
          storage: [{ model: "NVMe", size: 512 }],
          network: [{ adapter: "Ethernet", ips: ["192.168.1.50"] }],
          software: [{ name: "App" }],
          cpu: { cores: 8 }
        }
      }))
      expect([details.status, details.json]).toEqual([200, { status: "ok" }])
      const row = sql<Record<string, any>>(db, "SELECT * FROM devices WHERE guid = ?", agent.guid)[0]!
      expect(row).toMatchObject({ device_type: "Laptop", last_user: "BUNNY-LAB\\nicole.rappe", description: "Primary workstation", agent_hash: "hash-value", agent_id: "AGENT-01", uptime: 3600 })
      expect(JSON.parse(row["memory"])[0].capacity).toBe(17179869184)
      expect(JSON.parse(row["storage"])[0].model).toBe("NVMe")
      expect(JSON.parse(row["network"])[0].ips[0]).toBe("192.168.1.50")
      // a heartbeat without a user keeps the one from details; metrics and inventory land after the flush
      const hb = yield* promise(() => agent.authed("/api/agent/heartbeat", {
        hostname: "inv-host",
        inventory: { memory: [{ total: "16GB" }], cpu: { cores: 16 } },
        metrics: { operating_system: "Windows", uptime: 120 },
        external_ip: "1.2.3.4"
      }))
      expect([hb.status, hb.json]).toEqual([200, { status: "ok", poll_after_ms: 15000 }])
      const deadline = Date.now() + 10_000
      let after = sql<Record<string, any>>(db, "SELECT * FROM devices WHERE guid = ?", agent.guid)[0]!
      while (after["external_ip"] !== "1.2.3.4" && Date.now() < deadline) {
        yield* Effect.promise(() => new Promise((r) => setTimeout(r, 100)))
        after = sql<Record<string, any>>(db, "SELECT * FROM devices WHERE guid = ?", agent.guid)[0]!
      }
      expect(after["last_seen"]).toBeGreaterThanOrEqual(start)
      expect(after["external_ip"]).toBe("1.2.3.4")
      expect(JSON.parse(after["memory"])[0].total).toBe("16GB")
      expect(JSON.parse(after["cpu"]).cores).toBe(16)
      expect(after["operating_system"]).toBe("Windows")
      expect(after["last_user"]).toBe("BUNNY-LAB\\nicole.rappe")
      // username stands in for a missing last_user
      yield* promise(() => agent.authed("/api/agent/heartbeat", { metrics: { username: "BUNNY-LAB\\alice.smith" } }))
      while (sql<Record<string, any>>(db, "SELECT last_user FROM devices WHERE guid = ?", agent.guid)[0]!["last_user"] !== "BUNNY-LAB\\alice.smith" && Date.now() < deadline + 5000) {
        yield* Effect.promise(() => new Promise((r) => setTimeout(r, 100)))
      }
      expect(sql(db, "SELECT last_user FROM devices WHERE guid = ?", agent.guid)).toEqual([{ last_user: "BUNNY-LAB\\alice.smith" }])
      // details errors: no object, no hostname, another device's hostname
      expect((yield* promise(() => agent.authed("/api/agent/details", { hostname: "inv-host" }))).json).toEqual({ error: "invalid_payload", detail: "details object required" })
      expect((yield* promise(() => agent.authed("/api/agent/details", { details: {} }))).status).toBe(400)
      const neighbour = yield* promise(() => enrolledAgent(engine, admin, "neighbour"))
      const stolen = yield* promise(() => neighbour.authed("/api/agent/details", { hostname: "inv-host", details: {} }))
      expect([stolen.status, stolen.json]).toEqual([403, { error: "guid_mismatch" }])
      const conflict = yield* promise(() => neighbour.authed("/api/agent/heartbeat", { hostname: "inv-host" }))
      expect([conflict.status, conflict.json]).toEqual([409, { error: "storage_conflict" }])
    }))
})

describe("DPoP (§4, RFC 9449 §4.3)", () => {
  it.scoped("valid proofs bind the refresh token; each check refuses its violation; replays are refused", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const admin = yield* promise(() => adminClient(engine.client))
      const agent = yield* promise(() => enrolledAgent(engine, admin, "dpop-host"))
      const htu = `${engine.url}/api/agent/token/refresh`
      const key = dpopKey("ed25519")
      const refreshWith = (dpop: string | Array<string>) =>
        promise(() => agent.client.post("/api/agent/token/refresh", { guid: agent.guid, refresh_token: agent.refreshToken }, { dpop: Array.isArray(dpop) ? dpop.join(", ") : dpop }))
      const invalid = (r: { status: number; json: any }) => expect([r.status, r.json?.error]).toEqual([400, "dpop_invalid"])

      // negative cases, before any binding exists
      invalid(yield* refreshWith("garbage"))
      invalid(yield* refreshWith(yield* promise(() => proof(key, { htm: "POST", htu }, { typ: "JWT" }))))
      const hsProof = yield* promise(() =>
        new jose.SignJWT({ htm: "POST", htu, jti: "x", iat: Math.floor(Date.now() / 1000) }).setProtectedHeader({ typ: "dpop+jwt", alg: "HS256", jwk: key.jwk }).sign(new Uint8Array(32)))
      invalid(yield* refreshWith(hsProof))
      invalid(yield* refreshWith(yield* promise(() => proof(key, { htm: "POST", htu }, { jwk: { ...key.jwk, d: "secret" } }))))
      invalid(yield* refreshWith(yield* promise(() => proof(key, { htm: "POST", htu }, { jwk: dpopKey().jwk }))))
      invalid(yield* refreshWith(yield* promise(() => proof(key, { htm: "GET", htu }))))
      invalid(yield* refreshWith(yield* promise(() => proof(key, { htm: "POST", htu: `${engine.url}/api/agent/heartbeat` }))))
      invalid(yield* refreshWith(yield* promise(() => proof(key, { htm: "POST", htu: htu.replace("https:", "http:") }))))
      invalid(yield* refreshWith(yield* promise(() => proof(key, { htm: "POST", htu, iat: Math.floor(Date.now() / 1000) - 400 }))))
      invalid(yield* refreshWith(yield* promise(() => proof(key, { htm: "POST", htu, iat: Math.floor(Date.now() / 1000) + 400 }))))
      invalid(yield* refreshWith(yield* promise(() => proof(key, { htm: "POST", htu, jti: "" }))))
      const two = yield* promise(() => Promise.all([proof(key, { htm: "POST", htu }), proof(key, { htm: "POST", htu })]))
      invalid(yield* refreshWith(two))
      expect(sql(engine.databasePath, "SELECT dpop_jkt FROM refresh_tokens WHERE guid = ?", agent.guid)).toEqual([{ dpop_jkt: null }])

      // positive: query and fragment are ignored, htm case-insensitively; the thumbprint is stored
      const good = yield* promise(() => proof(key, { htm: "post", htu: `${htu}?x=1#frag` }))
      const bound = yield* refreshWith(good)
      expect(bound.status).toBe(200)
      const jkt = yield* promise(() => jose.calculateJwkThumbprint(key.jwk, "sha256"))
      expect(sql(engine.databasePath, "SELECT dpop_jkt FROM refresh_tokens WHERE guid = ?", agent.guid)).toEqual([{ dpop_jkt: jkt }])
      expect(jose.decodeJwt(bound.json.access_token)["cnf"]).toEqual({ jkt })
      // the same proof again is a replay
      expect((yield* refreshWith(good)).json).toEqual({ error: "dpop_replayed" })
      // bound: no proof, or another key's proof, is refused (the original silently unbound)
      const noProof = yield* promise(() => agent.refresh())
      expect([noProof.status, noProof.json.error]).toEqual([400, "dpop_invalid"])
      invalid(yield* refreshWith(yield* promise(() => proof(dpopKey("p256"), { htm: "POST", htu }))))
      expect((yield* refreshWith(yield* promise(() => proof(key, { htm: "POST", htu })))).status).toBe(200)

      // device-authenticated requests: a DPoP-bound access token needs a proof with `ath`
      const access = bound.json.access_token as string
      const hbUrl = `${engine.url}/api/agent/heartbeat`
      const hb = (headers: Record<string, string>) => promise(() => agent.client.post("/api/agent/heartbeat", {}, { authorization: `Bearer ${access}`, ...headers }))
      expect((yield* hb({})).json.error).toBe("dpop_invalid")
      expect((yield* hb({ dpop: yield* promise(() => proof(key, { htm: "POST", htu: hbUrl })) })).json.error).toBe("dpop_invalid")
      expect((yield* hb({ dpop: yield* promise(() => proof(key, { htm: "POST", htu: hbUrl, ath: ath("other") })) })).json.error).toBe("dpop_invalid")
      expect((yield* hb({ dpop: yield* promise(() => proof(dpopKey(), { htm: "POST", htu: hbUrl, ath: ath(access) })) })).json.error).toBe("dpop_invalid")
      const withAth = yield* promise(() => proof(key, { htm: "POST", htu: hbUrl, ath: ath(access) }))
      expect((yield* hb({ dpop: withAth })).status).toBe(200)
      expect((yield* hb({ dpop: withAth })).json).toEqual({ error: "dpop_replayed" })
      // an ES256 key works too; agents without DPoP are unaffected
      const plain = yield* promise(() => enrolledAgent(engine, admin, "plain-host"))
      expect((yield* promise(() => plain.refresh())).status).toBe(200)
      expect((yield* promise(() => plain.authed("/api/agent/heartbeat", {}))).status).toBe(200)
      const es = dpopKey("p256")
      const esProof = yield* promise(() => proof(es, { htm: "POST", htu }))
      expect((yield* promise(() => plain.refresh({}, { dpop: esProof }))).status).toBe(200)
    }))

  it.effect("the replay store is persistent: a proof seen before a restart is refused after it", () =>
    Effect.gen(function*() {
      const root = tempRoot()
      const first = yield* Scope.make()
      const engine1 = yield* startEngine({ root }).pipe(Scope.extend(first))
      const admin = yield* promise(() => adminClient(engine1.client))
      const agent = yield* promise(() => enrolledAgent(engine1, admin, "restart-dpop"))
      const key = dpopKey()
      const seen = yield* promise(() => proof(key, { htm: "POST", htu: `${engine1.url}/api/agent/token/refresh` }))
      expect((yield* promise(() => agent.refresh({}, { dpop: seen }))).status).toBe(200)
      yield* Scope.close(first, Exit.void)
      const second = yield* Scope.make()
      const engine2 = yield* startEngine({ root, env: { BOREALIS_PORT: String(engine1.port) } }).pipe(Scope.extend(second))
      const again = new TestAgent(engine2.client(), "restart-dpop")
      Object.assign(again, { guid: agent.guid, refreshToken: agent.refreshToken })
      expect((yield* promise(() => again.refresh({}, { dpop: seen }))).json).toEqual({ error: "dpop_replayed" })
      const fresh = yield* promise(() => proof(key, { htm: "POST", htu: `${engine2.url}/api/agent/token/refresh` }))
      expect((yield* promise(() => again.refresh({}, { dpop: fresh }))).status).toBe(200)
      yield* Scope.close(second, Exit.void)
    }))

  it.scoped("BOREALIS_PUBLIC_BASE_URL defines htu behind a proxy; forwarded headers otherwise", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine({ env: { BOREALIS_PUBLIC_BASE_URL: "https://rmm.example.com/" } })
      const admin = yield* promise(() => adminClient(engine.client))
      const agent = yield* promise(() => enrolledAgent(engine, admin, "proxied"))
      const key = dpopKey()
      const local = yield* promise(() => proof(key, { htm: "POST", htu: `${engine.url}/api/agent/token/refresh` }))
      expect((yield* promise(() => agent.refresh({}, { dpop: local }))).json.error).toBe("dpop_invalid")
      const pub = yield* promise(() => proof(key, { htm: "POST", htu: "https://rmm.example.com/api/agent/token/refresh" }))
      expect((yield* promise(() => agent.refresh({}, { dpop: pub }))).status).toBe(200)
    }))
})

describe("never a spurious 401", () => {
  it.scoped("a failing repository answers 503 with Retry-After, for auth and for refresh", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const admin = yield* promise(() => adminClient(engine.client))
      const agent = yield* promise(() => enrolledAgent(engine, admin, "fragile"))
      sql(engine.databasePath, "ALTER TABLE devices RENAME TO devices_gone")
      const hb = yield* promise(() => agent.authed("/api/agent/heartbeat", {}))
      expect(hb.status).toBe(503)
      expect(hb.json.error).toBe("service_unavailable")
      expect(Number(hb.headers["retry-after"])).toBeGreaterThanOrEqual(1)
      const rf = yield* promise(() => agent.refresh())
      expect(rf.status).toBe(503)
      sql(engine.databasePath, "ALTER TABLE devices_gone RENAME TO devices")
      sql(engine.databasePath, "ALTER TABLE refresh_tokens RENAME TO refresh_gone")
      expect((yield* promise(() => agent.refresh())).status).toBe(503)
      const poll = yield* promise(() => new TestAgent(agent.client, "x").poll("00000000-0000-4000-8000-000000000000", Buffer.alloc(32).toString("base64")))
      expect(poll.status).toBe(404)
      sql(engine.databasePath, "ALTER TABLE refresh_gone RENAME TO refresh_tokens")
      expect((yield* promise(() => agent.refresh())).status).toBe(200)
    }))

  it.scoped("a busy database (another process holding the write lock past the 5 s busy timeout) is 503, not 401", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const admin = yield* promise(() => adminClient(engine.client))
      const agent = yield* promise(() => enrolledAgent(engine, admin, "locked"))
      const { default: Sqlite } = yield* promise(() => import("better-sqlite3"))
      const locker = new Sqlite(engine.databasePath)
      locker.exec("BEGIN IMMEDIATE")
      const rf = yield* promise(() => agent.refresh())
      locker.exec("ROLLBACK")
      locker.close()
      expect(rf.status).toBe(503)
      expect(rf.headers["retry-after"]).toBeDefined()
      expect((yield* promise(() => agent.refresh())).status).toBe(200)
    }), 30_000)
})

describe("GET /.well-known/jwks.json", () => {
  it.scoped("publishes the verification key with the kid rule", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const r = yield* promise(() => engine.client().get("/.well-known/jwks.json"))
      expect(r.status).toBe(200)
      const spki = crypto.createPublicKey(engineKey(engine.root)).export({ format: "der", type: "spki" })
      expect(r.json).toEqual({
        keys: [{ kty: "OKP", crv: "Ed25519", alg: "EdDSA", use: "sig", kid: crypto.createHash("sha256").update(spki).digest("hex").slice(0, 16), x: spki.subarray(12).toString("base64url") }]
      })
    }))
})

describe("the enrollment test agent itself", () => {
  it.scoped("is not trusted blindly: a wrong code never yields a pending answer", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const admin = yield* promise(() => adminClient(engine.client))
      yield* promise(() => createCode(admin))
      const r = yield* promise(() => new TestAgent(engine.client(), "h").request("WRONG"))
      expect(r.json).toEqual({ error: "invalid_enrollment_code" })
    }))
})
