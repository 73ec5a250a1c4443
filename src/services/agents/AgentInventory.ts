// What authenticated agents report over REST: heartbeats (last_seen + metrics, written behind) and
// inventory details (written through). spec: realtime-jobs.md §2.2; config-bootstrap-tests.md §6.8
import * as SqlClient from "@effect/sql/SqlClient"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { DeviceAuthContextShape } from "../deviceAuth/DeviceAuth.ts"
import { Audit } from "../audit/Audit.ts"
import { capText, hostnameProblem, normalizeGuid } from "../devices/identity.ts"
import { BadRequest, Conflict, Forbidden, NotFound } from "../errors.ts"
import { KeyMaterial } from "../../layers/keys/KeyMaterial.ts"
import { DeviceWriteBehind, type DeviceColumns } from "../presence/DeviceWriteBehind.ts"
import { AgentRegistry } from "../realtime/AgentRegistry.ts"
import { pyIntOption, pyTruthy } from "../pyValues.ts"
import { Revocations } from "../revocations/Revocations.ts"
import { isoUtc } from "../time.ts"

type Json = Readonly<Record<string, unknown>>

const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v)

/** Longest agent-reported text kept per column (OS names, users, addresses, …). */
export const MAX_FIELD_CHARS = 1024
/** Longest inventory document (software list, …) kept per column; a larger one is not stored. */
export const MAX_INVENTORY_CHARS = 2 * 1024 * 1024

/** `clean_device_str`: a trimmed non-empty string (numbers rendered), capped, else undefined. */
export const cleanStr = (value: unknown): string | undefined => {
  if (value === undefined || value === null || typeof value === "object") return undefined
  const s = String(value).trim()
  return s === "" ? undefined : capText(s, MAX_FIELD_CHARS)
}

/** A JSON document of the inventory, unless it is too large to keep. */
const inventoryJson = (value: unknown): string | undefined => {
  const text = JSON.stringify(value)
  return text.length <= MAX_INVENTORY_CHARS ? text : undefined
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
  const list = (k: string) => (Array.isArray(inventory[k]) ? inventoryJson(inventory[k]) : undefined)
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
    cpu: isObject(inventory["cpu"]) ? inventoryJson(inventory["cpu"]) : undefined
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
    const audit = yield* Audit
    const revocations = yield* Revocations

    /** The device holding a hostname, in any letter case. */
    const hostnameHolder = (hostname: string) =>
      sql<{ guid: string }>`SELECT guid FROM devices WHERE LOWER(hostname) = LOWER(${hostname})`.pipe(
        Effect.map((rows) => Option.fromNullable(rows[0]).pipe(Option.map((r) => normalizeGuid(r.guid)))),
        Effect.orDie
      )

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
    const heartbeat = Effect.fn("AgentInventory.heartbeat")(function*(auth: DeviceAuthContextShape, payload: Json) {
      const now = Math.floor((yield* Clock.currentTimeMillis) / 1000)
      const exists = yield* sql<{ n: number }>`SELECT count(*) AS n FROM devices WHERE guid = ${auth.guid} OR UPPER(guid) = ${auth.guid}`.pipe(
        Effect.orDie
      )
      if ((exists[0]?.n ?? 0) === 0) return yield* new NotFound({ error: "device_not_registered" })
      const { hostname: reported, ...columns } = heartbeatColumns(payload, now)
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
    const details = Effect.fn("AgentInventory.details")(function*(auth: DeviceAuthContextShape, payload: Json) {
      const incoming = payload["details"]
      if (!isObject(incoming)) return yield* new BadRequest({ error: "invalid_payload", detail: "details object required" })
      const summaryIn = isObject(incoming["summary"]) ? incoming["summary"] : {}
      const hostname = yield* checkedHostname(cleanStr(payload["hostname"]) ?? cleanStr(summaryIn["hostname"]))
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
        return inventoryJson(Array.isArray(value.v) ? value.v : parseJson(row[column], [])) ?? row[column] ?? "[]"
      }
      const cpuIn = isObject(summaryIn["cpu"]) ? summaryIn["cpu"] : incoming["cpu"]
      const cpu = inventoryJson(mergePreserve(parseJson(row.cpu, {}), isObject(cpuIn) ? cpuIn : {})) ?? row.cpu ?? "{}"
      const description = cleanStr(summaryIn["description"]) ?? row.description ?? ""
      const agentHash = cleanStr(payload["agent_hash"])
      const agentId = cleanStr(summaryIn["agent_id"]) ?? cleanStr(payload["agent_id"])
      const now = yield* Clock.currentTimeMillis
      // A rename of its own is recorded and audited (and cuts its sockets) before the inventory lands.
      if ((row.hostname ?? "") !== hostname && !(yield* rename({ ...auth, hostname: row.hostname ?? "" }, hostname, "details"))) {
        return yield* new Forbidden({ error: "guid_mismatch" })
      }
      const set: Record<string, string | number> = {
        ...summaryColumns(summaryIn),
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
