// What authenticated agents report over REST: heartbeats (last_seen + metrics, written behind) and
// inventory details (written through). spec: realtime-jobs.md §2.2; config-bootstrap-tests.md §6.8
import * as SqlClient from "@effect/sql/SqlClient"
import * as SqlSchema from "@effect/sql/SqlSchema"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Row from "../../layers/sqlRows.ts"
import type { DeviceAuthContextShape } from "../deviceAuth/DeviceAuth.ts"
import { Audit } from "../audit/Audit.ts"
import { hostnameProblem, normalizeGuid } from "../devices/identity.ts"
import { BadRequest, Conflict, Forbidden, NotFound } from "../errors.ts"
import { KeyMaterial } from "../../layers/keys/KeyMaterial.ts"
import { DeviceWriteBehind, type DeviceColumns } from "../presence/DeviceWriteBehind.ts"
import { AgentRegistry } from "../realtime/AgentRegistry.ts"
import { isRecord } from "../pyValues.ts"
import { Revocations } from "../revocations/Revocations.ts"
import { isoUtc } from "../time.ts"
import type { DetailsReport, DetailsSummary, HeartbeatReport } from "./requests.ts"

/** Longest inventory document (software list, …) kept per column; a larger one is not stored. */
const MAX_INVENTORY_CHARS = 2 * 1024 * 1024

/** A JSON document of the inventory, unless it is too large to keep. */
const inventoryJson = (value: unknown): string | undefined => {
  const text = JSON.stringify(value)
  return text.length <= MAX_INVENTORY_CHARS ? text : undefined
}

/** Drop the undefined entries (so only values the agent really sent are written). */
const without = <T extends Record<string, unknown>>(o: T): { [K in keyof T]?: Exclude<T[K], undefined> } =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as { [K in keyof T]?: Exclude<T[K], undefined> }

const listJson = (list: ReadonlyArray<unknown> | undefined) => (list === undefined ? undefined : inventoryJson(list))

/** Heartbeat report → the columns to update (record_heartbeat). */
export const heartbeatColumns = (report: HeartbeatReport, nowSeconds: number): DeviceColumns => {
  const { inventory, metrics } = report
  return without({
    last_seen: nowSeconds,
    hostname: report.hostname ?? metrics.hostname,
    last_user: metrics.last_user ?? metrics.username ?? metrics.user,
    operating_system: metrics.operating_system,
    uptime: metrics.uptime,
    agent_id: metrics.agent_id,
    external_ip: report.external_ip,
    internal_ip: report.internal_ip,
    device_type: report.device_type,
    memory: listJson(inventory.memory),
    network: listJson(inventory.network),
    software: listJson(inventory.software),
    storage: listJson(inventory.storage),
    cpu: inventory.cpu === undefined ? undefined : inventoryJson(inventory.cpu)
  })
}

const InventoryRow = Schema.Struct({
  guid: Row.Text,
  hostname: Row.Nullable(Row.Text),
  description: Row.Nullable(Row.Text),
  memory: Row.Nullable(Row.Text),
  network: Row.Nullable(Row.Text),
  software: Row.Nullable(Row.Text),
  storage: Row.Nullable(Row.Text),
  cpu: Row.Nullable(Row.Text),
  ssl_key_fingerprint: Row.Nullable(Row.Text),
  key_added_at: Row.Nullable(Row.TimestampText)
})

const GuidRow = Schema.Struct({ guid: Row.Text })

const parseJson = (text: string | null, fallback: unknown): unknown => {
  if (text === null || text === "") return fallback
  try {
    return JSON.parse(text)
  } catch {
    return fallback
  }
}

/** `_deep_merge_preserve`: objects merge recursively, lists replace only when non-empty, empties never erase. */
export const mergePreserve = (prev: unknown, incoming: unknown): unknown => {
  if (!isRecord(incoming)) return incoming
  const out: Record<string, unknown> = isRecord(prev) ? { ...prev } : {}
  for (const [key, value] of Object.entries(incoming)) {
    if (isRecord(value)) out[key] = mergePreserve(out[key], value)
    else if (Array.isArray(value)) {
      if (value.length > 0) out[key] = value
    } else if (!(value === null || value === undefined || value === "")) out[key] = value
  }
  return out
}

/** The first alias that was sent (`a ?? b ?? c` on the raw values); one sent but not an integer gives none. */
const firstSent = (...values: ReadonlyArray<number | null | undefined>): number | undefined => {
  const sent = values.find((v) => v !== undefined)
  return sent === null ? undefined : sent
}

/** The summary columns of `_extract_device_columns`, with their aliases (the first one reported wins). */
export const summaryColumns = (s: DetailsSummary) =>
  without({
    device_type: s.device_type ?? s.type ?? s.device_class,
    domain: s.domain ?? s.domain_name,
    external_ip: s.external_ip ?? s.public_ip,
    internal_ip: s.internal_ip ?? s.private_ip,
    last_reboot: s.last_reboot ?? s.last_boot,
    last_user: s.last_user ?? s.last_user_name ?? s.logged_in_user ?? s.username ?? s.user,
    operating_system: s.operating_system ?? s.agent_operating_system ?? s.os,
    uptime: firstSent(s.uptime_sec, s.uptime_seconds, s.uptime),
    ansible_ee_ver: s.ansible_ee_ver
  })

export class AgentInventory extends Effect.Service<AgentInventory>()("borealis/AgentInventory", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const writeBehind = yield* DeviceWriteBehind
    const registry = yield* AgentRegistry
    const keys = yield* KeyMaterial
    const audit = yield* Audit
    const revocations = yield* Revocations

    const holderRow = SqlSchema.findOne({
      Request: Schema.String,
      Result: GuidRow,
      execute: (hostname) => sql`SELECT guid FROM devices WHERE LOWER(hostname) = LOWER(${hostname})`
    })
    const countByGuid = SqlSchema.single({
      Request: Schema.String,
      Result: Row.CountRow,
      execute: (guid) => sql`SELECT count(*) AS n FROM devices WHERE guid = ${guid} OR UPPER(guid) = ${guid}`
    })
    const inventoryRow = SqlSchema.findOne({
      Request: Schema.String,
      Result: InventoryRow,
      execute: (guid) =>
        sql`SELECT guid, hostname, description, memory, network, software, storage, cpu,
          ssl_key_fingerprint, key_added_at FROM devices WHERE guid = ${guid} OR UPPER(guid) = ${guid}`
    })

    /** The device holding a hostname, in any letter case. */
    const hostnameHolder = (hostname: string) =>
      holderRow(hostname).pipe(Effect.map(Option.map((r) => normalizeGuid(r.guid))), Effect.orDie)

    /**
     * A device renaming itself: never onto a hostname another device holds (in any letter case),
     * written at once with an audit record, and its open sockets are cut so they reconnect under
     * the new name (the legacy agent ids a socket may speak for follow the device's current name).
     */
    const rename = (auth: DeviceAuthContextShape, to: string, via: "heartbeat" | "details") =>
      Effect.gen(function*() {
        const renamed = yield* sql.withTransaction(Effect.gen(function*() {
          const holder = yield* hostnameHolder(to)
          if (Option.isSome(holder) && holder.value !== auth.guid) return false
          yield* sql`UPDATE devices SET hostname = ${to} WHERE guid = ${auth.guid} OR UPPER(guid) = ${auth.guid}`
          yield* audit.record({ type: "device.renamed", actor: auth.guid, target: auth.guid, details: { from: auth.hostname, to, via } })
          return true
        })).pipe(
          // The unique case-insensitive index is the last word when two devices race for one name.
          Effect.catchTag("SqlError", (error) =>
            /UNIQUE constraint failed/i.test(String(error.cause)) ? Effect.succeed(false) : Effect.die(error))
        )
        if (!renamed) {
          yield* Effect.logWarning("device-rename-refused").pipe(Effect.annotateLogs({ guid: auth.guid, from: auth.hostname, to, via }))
          return false
        }
        yield* Effect.logInfo("device-renamed").pipe(Effect.annotateLogs({ guid: auth.guid, from: auth.hostname, to, via }))
        yield* revocations.publish({ _tag: "Device", guid: auth.guid, reason: "renamed" })
        return true
      })

    const checkedHostname = (hostname: string | undefined) =>
      Effect.gen(function*() {
        if (hostname === undefined) return undefined
        const problem = hostnameProblem(hostname)
        if (problem !== undefined) return yield* new BadRequest({ error: "invalid_payload", detail: problem })
        return hostname
      })

    /** POST /api/agent/heartbeat: last_seen now, metrics and inventory, queued for the write-behind. */
    const heartbeat = Effect.fn("AgentInventory.heartbeat")(function*(auth: DeviceAuthContextShape, report: HeartbeatReport) {
      const now = Math.floor((yield* Clock.currentTimeMillis) / 1000)
      const exists = yield* countByGuid(auth.guid).pipe(Effect.orDie)
      if (exists.n === 0) return yield* new NotFound({ error: "device_not_registered" })
      const { hostname: reported, ...columns } = heartbeatColumns(report, now)
      const hostname = yield* checkedHostname(reported)
      // A rename onto a hostname another device holds is refused (409, the original's code), never written.
      if (hostname !== undefined && hostname !== auth.hostname && !(yield* rename(auth, hostname, "heartbeat"))) {
        return yield* new Conflict({ error: "storage_conflict" })
      }
      yield* writeBehind.enqueue({ _tag: "Guid", guid: auth.guid }, columns)
      // A REST heartbeat keeps the device online for 300 s (spec §3.5).
      yield* registry.restHeartbeat(auth.guid, hostname ?? auth.hostname)
      return { status: "ok", poll_after_ms: 15000 } as const
    })

    /** POST /api/agent/details: the agent's inventory, merged into what is stored (save_agent_details). */
    const details = Effect.fn("AgentInventory.details")(function*(auth: DeviceAuthContextShape, report: DetailsReport) {
      const incoming = report.details
      if (incoming === undefined) return yield* new BadRequest({ error: "invalid_payload", detail: "details object required" })
      const summary = incoming.summary
      const hostname = yield* checkedHostname(report.hostname ?? summary.hostname)
      if (hostname === undefined) return yield* new BadRequest({ error: "invalid_payload", detail: "hostname required" })
      const holder = yield* hostnameHolder(hostname)
      if (Option.isSome(holder) && holder.value !== auth.guid) return yield* new Forbidden({ error: "guid_mismatch" })
      const found = yield* inventoryRow(auth.guid).pipe(Effect.orDie)
      if (Option.isNone(found)) return yield* new NotFound({ error: "device_not_registered" })
      const row = found.value
      const storedFp = (row.ssl_key_fingerprint ?? "").trim().toLowerCase()
      if (storedFp !== "" && storedFp !== auth.fingerprint) return yield* new Forbidden({ error: "fingerprint_mismatch" })

      // A list replaces the stored one only when it is non-empty (`_deep_merge_preserve`); the stored
      // document is written back as read otherwise.
      const merged = (column: "memory" | "network" | "software" | "storage") => {
        const sent = incoming[column]
        return inventoryJson(sent !== undefined && sent.length > 0 ? sent : parseJson(row[column], [])) ?? row[column] ?? "[]"
      }
      const cpu = inventoryJson(mergePreserve(parseJson(row.cpu, {}), summary.cpu ?? incoming.cpu ?? {})) ?? row.cpu ?? "{}"
      const description = summary.description ?? row.description ?? ""
      const agentHash = report.agent_hash
      const agentId = summary.agent_id ?? report.agent_id
      const now = yield* Clock.currentTimeMillis
      // A rename of its own is recorded and audited (and cuts its sockets) before the inventory lands.
      if ((row.hostname ?? "") !== hostname && !(yield* rename({ ...auth, hostname: row.hostname ?? "" }, hostname, "details"))) {
        return yield* new Forbidden({ error: "guid_mismatch" })
      }
      const set: Record<string, string | number> = {
        ...summaryColumns(summary),
        description,
        memory: merged("memory"),
        network: merged("network"),
        software: merged("software"),
        storage: merged("storage"),
        cpu,
        ssl_key_fingerprint: auth.fingerprint,
        ...(agentHash === undefined ? {} : { agent_hash: agentHash }),
        ...(agentId === undefined ? {} : { agent_id: agentId }),
        ...(row.key_added_at === null || row.key_added_at === "" ? { key_added_at: isoUtc(now) } : {})
      }
      yield* sql.withTransaction(Effect.gen(function*() {
        yield* sql`UPDATE devices SET ${sql.update(set)} WHERE guid = ${row.guid}`
        yield* sql`INSERT OR IGNORE INTO device_keys (id, guid, ssl_key_fingerprint, added_at)
          VALUES (${crypto.randomUUID()}, ${auth.guid}, ${auth.fingerprint}, ${row.key_added_at ?? isoUtc(now)})`
      })).pipe(Effect.orDie)
      return { status: "ok" } as const
    })

    /** POST /api/agent/script/request: idle (or quarantined) with the script-signing key. */
    const scriptRequest = (auth: DeviceAuthContextShape) =>
      Effect.succeed({
        status: auth.status === "quarantined" ? ("quarantined" as const) : ("idle" as const),
        poll_after_ms: auth.status === "quarantined" ? 60000 : 30000,
        sig_alg: "ed25519" as const,
        ...Option.match(keys.scriptSigner, { onNone: () => ({}), onSome: (s) => ({ signing_key: s.publicKeyBase64 }) })
      })

    return { heartbeat, details, scriptRequest } as const
  })
}) {}
