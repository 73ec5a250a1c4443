// What authenticated agents report over REST: heartbeats (last_seen + metrics, written behind) and
// inventory details (written through). spec: realtime-jobs.md §2.2; config-bootstrap-tests.md §6.8
import * as SqlClient from "@effect/sql/SqlClient"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { DeviceAuthContextShape } from "../deviceAuth/DeviceAuth.ts"
import { normalizeGuid } from "../devices/identity.ts"
import { BadRequest, Conflict, Forbidden, NotFound } from "../errors.ts"
import { KeyMaterial } from "../keys/KeyMaterial.ts"
import { DeviceWriteBehind, type DeviceColumns } from "../presence/DeviceWriteBehind.ts"
import { AgentRegistry } from "../realtime/AgentRegistry.ts"
import { pyIntOption, pyTruthy } from "../pyValues.ts"
import { isoUtc } from "../time.ts"

type Json = Readonly<Record<string, unknown>>

const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v)

/** `clean_device_str`: a trimmed non-empty string (numbers rendered), else undefined. */
export const cleanStr = (value: unknown): string | undefined => {
  if (value === undefined || value === null || typeof value === "object") return undefined
  const s = String(value).trim()
  return s === "" ? undefined : s
}

const int = (value: unknown): number | undefined => Option.getOrUndefined(pyIntOption(value))

const firstStr = (o: Json, ...keys: ReadonlyArray<string>): string | undefined => {
  for (const k of keys) {
    if (!pyTruthy(o[k])) continue
    const v = cleanStr(o[k])
    if (v !== undefined) return v
  }
  return undefined
}

/** Drop the undefined entries (so only values the agent really sent are written). */
const without = <T extends Record<string, unknown>>(o: T): { [K in keyof T]?: Exclude<T[K], undefined> } =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as { [K in keyof T]?: Exclude<T[K], undefined> }

/** Heartbeat payload → the columns to update (record_heartbeat). */
export const heartbeatColumns = (payload: Json, nowSeconds: number): DeviceColumns => {
  const metrics = isObject(payload["metrics"]) ? payload["metrics"] : {}
  const inventory = isObject(payload["inventory"]) ? payload["inventory"] : {}
  const list = (k: string) => (Array.isArray(inventory[k]) ? JSON.stringify(inventory[k]) : undefined)
  const uptime = metrics["uptime"] === undefined || metrics["uptime"] === null ? undefined : int(metrics["uptime"])
  return without({
    last_seen: nowSeconds,
    hostname: cleanStr(payload["hostname"]) ?? cleanStr(metrics["hostname"]),
    last_user: firstStr(metrics, "last_user", "username", "user"),
    operating_system: firstStr(metrics, "operating_system"),
    uptime,
    agent_id: firstStr(metrics, "agent_id"),
    external_ip: cleanStr(payload["external_ip"]),
    internal_ip: cleanStr(payload["internal_ip"]),
    device_type: cleanStr(payload["device_type"]),
    memory: list("memory"),
    network: list("network"),
    software: list("software"),
    storage: list("storage"),
    cpu: isObject(inventory["cpu"]) ? JSON.stringify(inventory["cpu"]) : undefined
  })
}

interface InventoryRow {
  readonly guid: string
  readonly hostname: string | null
  readonly description: string | null
  readonly memory: string | null
  readonly network: string | null
  readonly software: string | null
  readonly storage: string | null
  readonly cpu: string | null
  readonly ssl_key_fingerprint: string | null
  readonly key_added_at: string | null
}

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
  if (!isObject(incoming)) return incoming
  const out: Record<string, unknown> = isObject(prev) ? { ...prev } : {}
  for (const [key, value] of Object.entries(incoming)) {
    if (isObject(value)) out[key] = mergePreserve(out[key], value)
    else if (Array.isArray(value)) {
      if (value.length > 0) out[key] = value
    } else if (!(value === null || value === undefined || value === "")) out[key] = value
  }
  return out
}

/** The summary columns of `_extract_device_columns`, with their aliases. */
export const summaryColumns = (summary: Json) =>
  without({
    device_type: firstStr(summary, "device_type", "type", "device_class"),
    domain: firstStr(summary, "domain", "domain_name"),
    external_ip: firstStr(summary, "external_ip", "public_ip"),
    internal_ip: firstStr(summary, "internal_ip", "private_ip"),
    last_reboot: firstStr(summary, "last_reboot", "last_boot"),
    last_user: firstStr(summary, "last_user", "last_user_name", "logged_in_user", "username", "user"),
    operating_system: firstStr(summary, "operating_system", "agent_operating_system", "os"),
    uptime: int(summary["uptime_sec"] ?? summary["uptime_seconds"] ?? summary["uptime"]),
    agent_id: firstStr(summary, "agent_id"),
    ansible_ee_ver: firstStr(summary, "ansible_ee_ver")
  })

export class AgentInventory extends Effect.Service<AgentInventory>()("borealis/AgentInventory", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const writeBehind = yield* DeviceWriteBehind
    const registry = yield* AgentRegistry
    const keys = yield* KeyMaterial

    const hostnameHolder = (hostname: string) =>
      sql<{ guid: string }>`SELECT guid FROM devices WHERE hostname = ${hostname}`.pipe(
        Effect.map((rows) => Option.fromNullable(rows[0]).pipe(Option.map((r) => normalizeGuid(r.guid)))),
        Effect.orDie
      )

    /** POST /api/agent/heartbeat: last_seen now, metrics and inventory, queued for the write-behind. */
    const heartbeat = Effect.fn("AgentInventory.heartbeat")(function*(auth: DeviceAuthContextShape, payload: Json) {
      const now = Math.floor((yield* Clock.currentTimeMillis) / 1000)
      const exists = yield* sql<{ n: number }>`SELECT count(*) AS n FROM devices WHERE guid = ${auth.guid} OR UPPER(guid) = ${auth.guid}`.pipe(
        Effect.orDie
      )
      if ((exists[0]?.n ?? 0) === 0) return yield* new NotFound({ error: "device_not_registered" })
      const columns = heartbeatColumns(payload, now)
      if (columns.hostname !== undefined && columns.hostname !== auth.hostname) {
        // A rename onto a hostname another device holds is refused now, not lost at flush time.
        const holder = yield* hostnameHolder(columns.hostname)
        if (Option.isSome(holder) && holder.value !== auth.guid) {
          yield* Effect.logWarning("device-heartbeat-conflict").pipe(Effect.annotateLogs({ guid: auth.guid, hostname: columns.hostname }))
          return yield* new Conflict({ error: "storage_conflict" })
        }
      }
      yield* writeBehind.enqueue({ _tag: "Guid", guid: auth.guid }, columns)
      // A REST heartbeat keeps the device online for 300 s (spec §3.5).
      yield* registry.restHeartbeat(auth.guid, columns.hostname ?? auth.hostname)
      return { status: "ok", poll_after_ms: 15000 } as const
    })

    /** POST /api/agent/details: the agent's inventory, merged into what is stored (save_agent_details). */
    const details = Effect.fn("AgentInventory.details")(function*(auth: DeviceAuthContextShape, payload: Json) {
      const incoming = payload["details"]
      if (!isObject(incoming)) return yield* new BadRequest({ error: "invalid_payload", detail: "details object required" })
      const summaryIn = isObject(incoming["summary"]) ? incoming["summary"] : {}
      const hostname = cleanStr(payload["hostname"]) ?? cleanStr(summaryIn["hostname"])
      if (hostname === undefined) return yield* new BadRequest({ error: "invalid_payload", detail: "hostname required" })
      const holder = yield* hostnameHolder(hostname)
      if (Option.isSome(holder) && holder.value !== auth.guid) return yield* new Forbidden({ error: "guid_mismatch" })
      const rows = yield* sql<InventoryRow>`SELECT guid, hostname, description, memory, network, software, storage, cpu,
          ssl_key_fingerprint, key_added_at FROM devices WHERE guid = ${auth.guid} OR UPPER(guid) = ${auth.guid}`.pipe(Effect.orDie)
      const row = rows[0]
      if (row === undefined) return yield* new NotFound({ error: "device_not_registered" })
      const storedFp = (row.ssl_key_fingerprint ?? "").trim().toLowerCase()
      if (storedFp !== "" && storedFp !== auth.fingerprint) return yield* new Forbidden({ error: "fingerprint_mismatch" })

      const merged = (column: "memory" | "network" | "software" | "storage") => {
        const value = mergePreserve({ v: parseJson(row[column], []) }, { v: incoming[column] }) as { v: unknown }
        return JSON.stringify(Array.isArray(value.v) ? value.v : parseJson(row[column], []))
      }
      const cpuIn = isObject(summaryIn["cpu"]) ? summaryIn["cpu"] : incoming["cpu"]
      const cpu = JSON.stringify(mergePreserve(parseJson(row.cpu, {}), isObject(cpuIn) ? cpuIn : {}))
      const description = cleanStr(summaryIn["description"]) ?? row.description ?? ""
      const agentHash = cleanStr(payload["agent_hash"])
      const agentId = cleanStr(summaryIn["agent_id"]) ?? cleanStr(payload["agent_id"])
      const now = yield* Clock.currentTimeMillis
      const set: Record<string, string | number> = {
        ...summaryColumns(summaryIn),
        hostname,
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
