// The identity side of `devices` rows: what enrollment, token refresh and device authentication read
// and write. spec: auth-enrollment.md §2.5, §3.4
import * as SqlClient from "@effect/sql/SqlClient"
import * as SqlSchema from "@effect/sql/SqlSchema"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Row from "../../layers/sqlRows.ts"
import { run } from "../sqlResult.ts"
import { isoUtc } from "../time.ts"
import { deviceStatusOf, type DeviceStatus, hostnameKey, normalizeGuid } from "./identity.ts"

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

const IdentityRow = Schema.Struct({
  guid: Row.Text,
  hostname: Row.Nullable(Row.Text),
  ssl_key_fingerprint: Row.Nullable(Row.Text),
  token_version: Row.Nullable(Row.Num),
  status: Row.Nullable(Row.Text),
  agent_id: Row.Nullable(Row.Text)
})

const GuidRow = Schema.Struct({ guid: Row.Text })
const BarrierRow = Schema.Struct({ required_token_version: Row.Num })

const toIdentity = (row: typeof IdentityRow.Type): DeviceIdentity => ({
  storedGuid: row.guid,
  guid: normalizeGuid(row.guid),
  hostname: row.hostname ?? "",
  fingerprint: (row.ssl_key_fingerprint ?? "").trim().toLowerCase(),
  tokenVersion: (row.token_version ?? 1) || 1,
  status: deviceStatusOf(row.status),
  agentId: row.agent_id ?? ""
})

export class DeviceRecords extends Effect.Service<DeviceRecords>()("borealis/DeviceRecords", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    const exactRow = SqlSchema.findOne({
      Request: Schema.String,
      Result: IdentityRow,
      execute: (guid) => sql`SELECT guid, hostname, ssl_key_fingerprint, token_version, status, agent_id FROM devices WHERE guid = ${guid}`
    })
    const legacyRow = SqlSchema.findOne({
      Request: Schema.String,
      Result: IdentityRow,
      execute: (guid) =>
        sql`SELECT guid, hostname, ssl_key_fingerprint, token_version, status, agent_id FROM devices WHERE UPPER(guid) = ${guid} LIMIT 1`
    })
    const holders = SqlSchema.findAll({
      Request: Schema.String,
      Result: GuidRow,
      execute: (hostname) => sql`SELECT guid FROM devices WHERE LOWER(hostname) = LOWER(${hostname})`
    })
    const barrierRow = SqlSchema.findOne({
      Request: Schema.String,
      Result: BarrierRow,
      execute: (guid) => sql`SELECT required_token_version FROM device_purge_barriers WHERE UPPER(guid) = ${guid}`
    })

    /** By GUID, case-insensitively (canonical rows hit the primary key; legacy ones the UPPER index). */
    const byGuid = (guid: string) =>
      Effect.gen(function*() {
        const canonical = normalizeGuid(guid)
        const exact = yield* exactRow(canonical)
        const row = Option.isSome(exact) ? exact : yield* legacyRow(canonical)
        return Option.map(row, toIdentity)
      }).pipe(Effect.orDie, Effect.withSpan("DeviceRecords.byGuid", { captureStackTrace: false }))

    /** A hostname free for `guid` in any letter case: the claim, else `claim-1` … `claim-<tries>`, else `fallback`. */
    const freeHostname = (base: string, guid: string, tries: number, fallback: string) =>
      Effect.gen(function*() {
        for (let i = 0; i <= tries; i++) {
          const candidate = i === 0 ? base : `${base}-${i}`
          const taken = yield* holders(candidate)
          const first = taken[0]
          if (first === undefined || normalizeGuid(first.guid) === guid) return candidate
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
      barrierRow(normalizeGuid(guid)).pipe(Effect.map(Option.map((r) => r.required_token_version)), Effect.orDie)

    return { byGuid, recover, freeHostname, purgeBarrier } as const
  })
}) {
  /**
   * The same reads and writes over an in-memory table the test owns (and may inspect), for tests of
   * the rules that read device identities without a database.
   */
  static readonly makeTestLayer = (table: DeviceIdentityTable): Layer.Layer<DeviceRecords> => {
    const find = (guid: string) => {
      const canonical = normalizeGuid(guid)
      return table.devices.find((d) => d.guid === canonical) ?? table.devices.find((d) => d.guid.toUpperCase() === canonical)
    }
    const freeHostname = (base: string, guid: string, tries: number, fallback: string) =>
      Effect.sync(() => {
        for (let i = 0; i <= tries; i++) {
          const candidate = i === 0 ? base : `${base}-${i}`
          const holder = table.devices.find((d) => d.hostname !== null && hostnameKey(d.hostname) === hostnameKey(candidate))
          if (holder === undefined || normalizeGuid(holder.guid) === guid) return candidate
        }
        return fallback
      })
    return Layer.succeed(
      DeviceRecords,
      DeviceRecords.make({
        byGuid: (guid) => Effect.sync(() => Option.map(Option.fromNullable(find(guid)), toIdentity)),
        freeHostname,
        recover: (input) =>
          Effect.gen(function*() {
            const guid = normalizeGuid(input.guid)
            const hostname = yield* freeHostname(`RECOVERED-${guid.slice(0, 12)}`, guid, 5, guid)
            if (find(guid) !== undefined) return
            table.devices.push({
              guid,
              hostname,
              ssl_key_fingerprint: input.fingerprint,
              token_version: Math.max(1, input.tokenVersion),
              status: "active",
              agent_id: null
            })
          }),
        purgeBarrier: (guid) => Effect.sync(() => Option.fromNullable(table.purgeBarriers.get(normalizeGuid(guid))))
      })
    )
  }
}

/** A `devices` row as far as identity goes, for the in-memory table of `makeTestLayer`. */
export interface DeviceIdentityRecord {
  readonly guid: string
  hostname: string | null
  ssl_key_fingerprint: string | null
  token_version: number | null
  status: string | null
  agent_id: string | null
}

export interface DeviceIdentityTable {
  readonly devices: Array<DeviceIdentityRecord>
  /** Required token version by uppercase GUID (`device_purge_barriers`). */
  readonly purgeBarriers: Map<string, number>
}
