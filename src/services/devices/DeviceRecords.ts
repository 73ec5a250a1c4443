// The identity side of `devices` rows: what enrollment, token refresh and device authentication read
// and write. spec: auth-enrollment.md §2.5, §3.4
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { run } from "../sqlResult.ts"
import { isoUtc } from "../time.ts"
import { deviceStatusOf, type DeviceStatus, normalizeGuid } from "./identity.ts"

export interface DeviceIdentity {
  /** As stored (legacy rows may not be canonical). */
  readonly storedGuid: string
  readonly guid: string
  readonly hostname: string
  readonly fingerprint: string
  readonly tokenVersion: number
  readonly status: DeviceStatus
  readonly agentId: string
}

interface Row {
  readonly guid: string
  readonly hostname: string | null
  readonly ssl_key_fingerprint: string | null
  readonly token_version: number | null
  readonly status: string | null
  readonly agent_id: string | null
}

const toIdentity = (row: Row): DeviceIdentity => ({
  storedGuid: row.guid,
  guid: normalizeGuid(row.guid),
  hostname: row.hostname ?? "",
  fingerprint: (row.ssl_key_fingerprint ?? "").trim().toLowerCase(),
  tokenVersion: Number(row.token_version ?? 1) || 1,
  status: deviceStatusOf(row.status),
  agentId: row.agent_id ?? ""
})

export class DeviceRecords extends Effect.Service<DeviceRecords>()("borealis/DeviceRecords", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    /** By GUID, case-insensitively (canonical rows hit the primary key; legacy ones the UPPER index). */
    const byGuid = (guid: string) =>
      Effect.gen(function*() {
        const canonical = normalizeGuid(guid)
        const exact = yield* sql<Row>`SELECT guid, hostname, ssl_key_fingerprint, token_version, status, agent_id
          FROM devices WHERE guid = ${canonical}`
        const rows = exact.length > 0
          ? exact
          : yield* sql<Row>`SELECT guid, hostname, ssl_key_fingerprint, token_version, status, agent_id
              FROM devices WHERE UPPER(guid) = ${canonical} LIMIT 1`
        return Option.map(Option.fromNullable(rows[0]), toIdentity)
      }).pipe(Effect.orDie, Effect.withSpan("DeviceRecords.byGuid", { captureStackTrace: false }))

    /** A hostname free for `guid` in any letter case: the claim, else `claim-1` … `claim-<tries>`, else `fallback`. */
    const freeHostname = (base: string, guid: string, tries: number, fallback: string) =>
      Effect.gen(function*() {
        for (let i = 0; i <= tries; i++) {
          const candidate = i === 0 ? base : `${base}-${i}`
          const taken = yield* sql<{ guid: string }>`SELECT guid FROM devices WHERE LOWER(hostname) = LOWER(${candidate})`
          if (taken.length === 0 || normalizeGuid(taken[0]!.guid) === guid) return candidate
        }
        return fallback
      })

    /**
     * Re-create the row of a device whose access token is valid but whose row is gone, as the
     * original does: `RECOVERED-<first 12 of GUID>` (suffix -1…-5 on collisions), active.
     */
    const recover = (input: { readonly guid: string; readonly fingerprint: string; readonly tokenVersion: number; readonly nowMs: number }) =>
      Effect.gen(function*() {
        const guid = normalizeGuid(input.guid)
        const now = Math.floor(input.nowMs / 1000)
        const hostname = yield* freeHostname(`RECOVERED-${guid.slice(0, 12)}`, guid, 5, guid)
        yield* run(sql`INSERT OR IGNORE INTO devices (guid, hostname, created_at, last_seen, ssl_key_fingerprint, token_version, status, key_added_at)
          VALUES (${guid}, ${hostname}, ${now}, ${now}, ${input.fingerprint}, ${Math.max(1, input.tokenVersion)}, 'active', ${isoUtc(input.nowMs)})`)
        yield* Effect.logWarning("device-row-recovered").pipe(Effect.annotateLogs({ guid, hostname }))
      }).pipe(Effect.orDie, Effect.withSpan("DeviceRecords.recover"))

    /** The token version a purged (deleted) device must reach again, if an operator deleted it. */
    const purgeBarrier = (guid: string) =>
      sql<{ required_token_version: number }>`SELECT required_token_version FROM device_purge_barriers WHERE UPPER(guid) = ${normalizeGuid(guid)}`.pipe(
        Effect.map((rows) => Option.map(Option.fromNullable(rows[0]), (r) => Number(r.required_token_version))),
        Effect.orDie
      )

    return { byGuid, recover, freeHostname, purgeBarrier } as const
  })
}) {}
