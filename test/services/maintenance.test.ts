// The housekeeping pass on a real Engine's database: what has expired goes, what is live stays, and
// audit retention deletes only rows older than its cutoff (the trigger still refuses any newer one).
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { prunePass } from "../../src/services/maintenance/Maintenance.ts"
import { startEngine } from "../support/engine.ts"
import { withDb } from "../support/operators.ts"

const iso = (msFromNow: number) => new Date(Date.now() + msFromNow).toISOString()
const DAY = 86_400_000

const count = (db: string, sql: string) => withDb(db, (d) => (d.prepare(sql).get() as { n: number }).n)

describe("maintenance", () => {
  it.scopedLive("prunes expired codes, approvals, tokens, proof ids and sessions; keeps live ones", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const now = Math.floor(Date.now() / 1000)
      withDb(engine.databasePath, (db) => {
        const code = db.prepare("INSERT INTO enrollment_install_codes (id, code, expires_at, max_uses, use_count) VALUES (?, ?, ?, 2, 0)")
        code.run("old-code", "OLD", iso(-2 * DAY))
        code.run("live-code", "LIVE", iso(DAY))
        const approval = db.prepare(`INSERT INTO device_approvals (id, approval_reference, hostname_claimed, ssl_key_fingerprint_claimed,
          enrollment_code_id, status, client_nonce, server_nonce, agent_pubkey_der, created_at, updated_at) VALUES (?, ?, 'h', 'fp', 'c', ?, 'n', 'n', x'00', ?, ?)`)
        approval.run("stale", "ref-stale", "pending", iso(-2 * DAY), iso(-2 * DAY))
        approval.run("fresh", "ref-fresh", "pending", iso(0), iso(0))
        approval.run("gone", "ref-gone", "denied", iso(-40 * DAY), iso(-40 * DAY))
        const token = db.prepare("INSERT INTO refresh_tokens (id, guid, token_hash, created_at, expires_at, revoked_at) VALUES (?, 'G', ?, ?, ?, ?)")
        token.run("expired", "h1", iso(-100 * DAY), iso(-DAY), null)
        token.run("revoked-long-ago", "h2", iso(-100 * DAY), iso(DAY), iso(-91 * DAY))
        token.run("revoked-recently", "h3", iso(-10 * DAY), iso(DAY), iso(-DAY))
        token.run("live", "h4", iso(0), iso(90 * DAY), null)
        db.prepare("INSERT INTO dpop_replay (jti, expires_at) VALUES ('old', ?), ('live', ?)").run(now - 10, now + 300)
        db.prepare(`INSERT INTO operator_sessions (id_hash, user_id, username, auth_epoch, created_at, expires_at, last_seen_at)
          VALUES ('dead', 1, 'admin', 0, ?, ?, ?)`).run(now - 10 * 86_400, now + DAY / 1000, now - 2 * 86_400)
      })
      const counts = yield* prunePass.pipe(Effect.provide(engine.context))
      expect(counts).toMatchObject({ install_codes: 1, approvals_expired: 1, approvals: 1, refresh_tokens: 2, dpop_proofs: 1, operator_sessions: 1 })
      expect(withDb(engine.databasePath, (db) => db.prepare("SELECT id FROM enrollment_install_codes ORDER BY id").all())).toEqual([{ id: "live-code" }])
      expect(withDb(engine.databasePath, (db) => db.prepare("SELECT id, status FROM device_approvals ORDER BY id").all()))
        .toEqual([{ id: "fresh", status: "pending" }, { id: "stale", status: "expired" }])
      expect(withDb(engine.databasePath, (db) => db.prepare("SELECT id FROM refresh_tokens ORDER BY id").all()))
        .toEqual([{ id: "live" }, { id: "revoked-recently" }])
      expect(count(engine.databasePath, "SELECT count(*) AS n FROM dpop_replay")).toBe(1)
      expect(count(engine.databasePath, "SELECT count(*) AS n FROM operator_sessions WHERE id_hash = 'dead'")).toBe(0)
      // By default the audit trail keeps everything.
      expect(counts["audit_events"]).toBeUndefined()
    }))

  it.scopedLive("audit retention deletes only rows past the cutoff; the trail stays append-only for newer ones", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine({ env: { BOREALIS_AUDIT_RETENTION_DAYS: "7" } })
      const now = Math.floor(Date.now() / 1000)
      withDb(engine.databasePath, (db) => {
        const insert = db.prepare("INSERT INTO audit_events (ts, type, actor, outcome, details_json) VALUES (?, 'auth.logout', 'x', 'success', '{}')")
        insert.run(now - 30 * 86_400)
        insert.run(now - 8 * 86_400)
        insert.run(now - 86_400)
      })
      const counts = yield* prunePass.pipe(Effect.provide(engine.context))
      expect(counts["audit_events"]).toBe(2)
      expect(count(engine.databasePath, "SELECT count(*) AS n FROM audit_events WHERE actor = 'x'")).toBe(1)
      expect(() => withDb(engine.databasePath, (db) => db.prepare("DELETE FROM audit_events WHERE actor = 'x'").run())).toThrow(/append-only/)
      expect(() => withDb(engine.databasePath, (db) => db.prepare("UPDATE audit_events SET actor = 'y'").run())).toThrow(/append-only/)
    }))
})
