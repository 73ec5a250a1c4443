// The seeding tool against a real Engine root: rows as enrollment would leave them, tokens that verify
// with the Engine's own key, and simulated agents connecting to the running Engine with them.
import { describe, expect, it } from "@effect/vitest"
import Sqlite from "better-sqlite3"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as jose from "jose"
import * as fs from "node:fs"
import * as path from "node:path"
import { KeyMaterial } from "../../src/layers/keys/KeyMaterial.ts"
import { Fleet } from "../../src/tools/simulator/fleet.ts"
import { refreshTokenHash, runSeed } from "../../src/tools/simulator/seed.ts"
import { decodeTokensFile } from "../../src/tools/simulator/tokens.ts"
import { startEngine } from "../support/engine.ts"

describe("simulate seed", () => {
  it.scoped("writes device rows and mints tokens the Engine's key verifies; agents connect with them", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const out = path.join(engine.root, "tokens.json")
      const first = yield* Effect.promise(() => runSeed({ root: engine.root, agents: 25, out, tokenTtlSeconds: 3600 }))
      expect(first.agents).toHaveLength(25)
      // A second seed with the same prefix replaces the first one's rows.
      const file = yield* Effect.promise(() => runSeed({ root: engine.root, agents: 25, out, tokenTtlSeconds: 3600 }))
      expect(decodeTokensFile(fs.readFileSync(out, "utf8")).agents.map((a) => a.guid)).toEqual(file.agents.map((a) => a.guid))
      expect((fs.statSync(out).mode & 0o777).toString(8)).toBe("600")

      const db = new Sqlite(engine.databasePath, { readonly: true })
      const rows = db.prepare("SELECT * FROM devices WHERE hostname LIKE 'SIM-%' ORDER BY hostname").all() as Array<Record<string, unknown>>
      const refresh = db.prepare("SELECT guid, token_hash, expires_at, revoked_at FROM refresh_tokens").all() as Array<Record<string, unknown>>
      const keys = db.prepare("SELECT guid, ssl_key_fingerprint FROM device_keys").all() as Array<Record<string, unknown>>
      db.close()
      expect(rows).toHaveLength(25)
      expect(refresh).toHaveLength(25)
      expect(keys).toHaveLength(25)
      const now = Math.floor(Date.now() / 1000)
      for (const [i, row] of rows.entries()) {
        const seeded = file.agents[i]
        expect(row["hostname"]).toBe(`SIM-${String(i + 1).padStart(5, "0")}`)
        expect(row["guid"]).toBe(seeded?.guid)
        expect(row["guid"]).toMatch(/^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$/)
        expect(row["ssl_key_fingerprint"]).toMatch(/^[0-9a-f]{64}$/)
        expect(row).toMatchObject({ token_version: 1, status: "active" })
        expect(Math.abs(Number(row["created_at"]) - now)).toBeLessThan(60)
        expect(Math.abs(Number(row["last_seen"]) - now)).toBeLessThan(60)
        expect(new Date(String(row["key_added_at"])).toISOString()).toBe(row["key_added_at"])
        expect(seeded?.agent_id).toBe(`${seeded?.hostname}_${seeded?.guid}_SYSTEM`)
      }
      const hashes = new Map(refresh.map((r) => [r["guid"], r["token_hash"]]))
      for (const a of file.agents) expect(hashes.get(a.guid)).toBe(refreshTokenHash(a.refresh_token ?? ""))
      expect(refresh.every((r) => r["revoked_at"] === null && Date.parse(String(r["expires_at"])) > Date.now() + 80 * 86400_000)).toBe(true)

      // Tokens: EdDSA with the Engine's kid, the §3.2 claims, verifiable with its public key.
      const key = Context.get(engine.context, KeyMaterial).accessToken
      for (const a of file.agents.slice(0, 5)) {
        const { payload, protectedHeader } = yield* Effect.promise(() => jose.jwtVerify(a.access_token, key.publicKey, { algorithms: ["EdDSA"] }))
        expect(protectedHeader).toEqual({ alg: "EdDSA", kid: key.kid, typ: "JWT" })
        expect(payload).toEqual({
          sub: `device:${a.guid}`,
          guid: a.guid,
          ssl_key_fingerprint: a.ssl_key_fingerprint,
          token_version: 1,
          iat: expect.any(Number),
          nbf: payload.iat,
          exp: (payload.iat ?? 0) + 3600
        })
        expect(a.access_expires_at).toBe(payload.exp)
      }
      expect(new Set(file.agents.map((a) => a.ssl_key_fingerprint)).size).toBe(25)

      // Simulated agents hold connections to the running Engine (TLS with its CA) using these tokens.
      const port = new URL(engine.url).port
      const fleet = yield* Effect.acquireRelease(
        Effect.promise(() =>
          Fleet.start({
            url: `https://127.0.0.1:${port}`,
            ...(engine.ca !== undefined ? { ca: engine.ca } : {}),
            agents: 25,
            workers: 2,
            credentials: { kind: "tokens", file: out },
            behaviour: { heartbeatMs: 500 },
            reportMs: 100,
            durationMs: 60_000
          })
        ),
        (f) => Effect.promise(() => f.stop())
      )
      const connected = yield* Effect.promise(() => fleet.waitFor((f) => f.gauges.connected === 25, 20_000))
      expect(connected).toBe(true)
      expect(fleet.totals.errorTotal("connect:")).toBe(0)
      // Heartbeats flow; whether the Engine acks them depends on the realtime handlers.
      expect(yield* Effect.promise(() => fleet.waitFor((f) => f.totals.counter("heartbeats") >= 25, 10_000))).toBe(true)
    }))
})
