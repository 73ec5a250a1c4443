// A `devices` row as the original's API shows it (D-DEV `assemble_device_snapshot`): top-level fields,
// a `summary`, and `details` with the inventory lists. Pure: it only reshapes a row.
// spec: config-bootstrap-tests.md §5b (D-DEV)
import { normalizeGuid } from "./identity.ts"

/** Every column of `devices`, in the original's order. */
export const DEVICE_COLUMNS = [
  "guid", "hostname", "description", "created_at", "agent_hash", "memory", "network", "software", "storage", "cpu",
  "device_type", "domain", "external_ip", "internal_ip", "last_reboot", "last_seen", "last_user", "operating_system",
  "uptime", "agent_id", "ansible_ee_ver", "connection_type", "connection_endpoint", "ssl_key_fingerprint",
  "token_version", "status", "key_added_at"
] as const

export type DeviceRow = { readonly [K in (typeof DEVICE_COLUMNS)[number]]?: unknown }

/** `clean_device_str`: numbers and strings as text, trimmed; empty or absent is undefined. */
export const cleanDeviceStr = (value: unknown): string | undefined => {
  if (value === null || value === undefined) return undefined
  const text = typeof value === "string" ? value : typeof value === "number" || typeof value === "bigint" ? String(value) : String(value)
  const trimmed = text.trim()
  return trimmed === "" ? undefined : trimmed
}

/** `coerce_int`: `int(float(value))`; blank or unparseable is undefined. */
const coerceInt = (value: unknown): number | undefined => {
  if (value === null || value === undefined || typeof value === "boolean") return typeof value === "boolean" ? Number(value) : undefined
  if (typeof value === "number") return Number.isFinite(value) ? Math.trunc(value) : undefined
  if (typeof value === "bigint") return Number(value)
  if (typeof value === "string") {
    const t = value.trim()
    if (t === "" || !/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t)) return undefined
    const n = Number(t)
    return Number.isFinite(n) ? Math.trunc(n) : undefined
  }
  return undefined
}

const pad = (n: number) => String(n).padStart(2, "0")

/** Python `datetime.fromtimestamp(ts, timezone.utc).isoformat()`; `""` for 0. */
const tsToIso = (ts: number): string => {
  if (!ts) return ""
  const d = new Date(ts * 1000)
  if (Number.isNaN(d.getTime())) return ""
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}+00:00`
}

/** `YYYY-MM-DD HH:MM:SS` in UTC; `""` for 0. */
const tsToHuman = (ts: number): string => {
  const iso = tsToIso(ts)
  return iso === "" ? "" : iso.slice(0, 19).replace("T", " ")
}

const parseJson = <A>(raw: unknown, fallback: A, accept: (v: unknown) => boolean): A => {
  if (raw === null || raw === undefined) return structuredClone(fallback)
  try {
    const value: unknown = JSON.parse(String(raw))
    return accept(value) ? (value as A) : structuredClone(fallback)
  } catch {
    return structuredClone(fallback)
  }
}

const isPlainObject = (v: unknown) => typeof v === "object" && v !== null && !Array.isArray(v)

export type DeviceSnapshot = {
  readonly hostname: string
  readonly description: string
  readonly created_at: number
  readonly created_at_iso: string
  readonly agent_hash: string
  readonly agent_guid: string
  readonly guid: string
  readonly memory: ReadonlyArray<unknown>
  readonly network: ReadonlyArray<unknown>
  readonly software: ReadonlyArray<unknown>
  readonly storage: ReadonlyArray<unknown>
  readonly cpu: Readonly<Record<string, unknown>>
  readonly device_type: string
  readonly domain: string
  readonly external_ip: string
  readonly internal_ip: string
  readonly last_reboot: string
  readonly last_seen: number
  readonly last_seen_iso: string
  readonly last_user: string
  readonly operating_system: string
  readonly uptime: number
  readonly agent_id: string
  readonly ansible_ee_ver: string
  readonly connection_type: string
  readonly connection_endpoint: string
  readonly ssl_key_fingerprint: string
  readonly token_version: number
  readonly status: string
  readonly key_added_at: string
  readonly details: Readonly<Record<string, unknown>>
  readonly summary: Readonly<Record<string, unknown>>
}

export const assembleSnapshot = (row: DeviceRow): DeviceSnapshot => {
  const str = (key: keyof DeviceRow) => cleanDeviceStr(row[key]) ?? ""
  const created = coerceInt(row.created_at) ?? 0
  const lastSeen = coerceInt(row.last_seen) ?? 0
  const uptime = coerceInt(row.uptime) ?? 0
  const tokenVersion = coerceInt(row.token_version) ?? 0
  const guidRaw = cleanDeviceStr(row.guid)
  const guid = guidRaw === undefined ? "" : normalizeGuid(guidRaw)
  const memory = parseJson<ReadonlyArray<unknown>>(row.memory, [], Array.isArray)
  const network = parseJson<ReadonlyArray<unknown>>(row.network, [], Array.isArray)
  const software = parseJson<ReadonlyArray<unknown>>(row.software, [], Array.isArray)
  const storage = parseJson<ReadonlyArray<unknown>>(row.storage, [], Array.isArray)
  const cpu = parseJson<Readonly<Record<string, unknown>>>(row.cpu, {}, isPlainObject)
  const summary = {
    hostname: str("hostname"),
    description: str("description"),
    agent_hash: str("agent_hash"),
    agent_guid: guid,
    agent_id: str("agent_id"),
    device_type: str("device_type"),
    domain: str("domain"),
    external_ip: str("external_ip"),
    internal_ip: str("internal_ip"),
    last_reboot: str("last_reboot"),
    last_seen: lastSeen,
    last_user: str("last_user"),
    operating_system: str("operating_system"),
    uptime,
    uptime_sec: uptime,
    ansible_ee_ver: str("ansible_ee_ver"),
    connection_type: str("connection_type"),
    connection_endpoint: str("connection_endpoint"),
    ssl_key_fingerprint: str("ssl_key_fingerprint"),
    status: str("status"),
    token_version: tokenVersion,
    key_added_at: str("key_added_at"),
    created_at: created,
    created: tsToHuman(created)
  }
  return {
    hostname: summary.hostname,
    description: summary.description,
    created_at: created,
    created_at_iso: tsToIso(created),
    agent_hash: summary.agent_hash,
    agent_guid: guid,
    guid,
    memory,
    network,
    software,
    storage,
    cpu,
    device_type: summary.device_type,
    domain: summary.domain,
    external_ip: summary.external_ip,
    internal_ip: summary.internal_ip,
    last_reboot: summary.last_reboot,
    last_seen: lastSeen,
    last_seen_iso: tsToIso(lastSeen),
    last_user: summary.last_user,
    operating_system: summary.operating_system,
    uptime,
    agent_id: summary.agent_id,
    ansible_ee_ver: summary.ansible_ee_ver,
    connection_type: summary.connection_type,
    connection_endpoint: summary.connection_endpoint,
    ssl_key_fingerprint: summary.ssl_key_fingerprint,
    token_version: tokenVersion,
    status: summary.status,
    key_added_at: summary.key_added_at,
    details: { memory, network, software, storage, cpu, summary: { ...summary } },
    summary
  }
}

/** Listed devices: the snapshot plus site fields, and `status` Online when seen in the last 300 s. */
export const listedDevice = (
  row: DeviceRow,
  site: { readonly id: number | null; readonly name: string | null; readonly description: string | null },
  nowSeconds: number
) => {
  const snapshot = assembleSnapshot(row)
  const online = snapshot.last_seen > 0 && nowSeconds - snapshot.last_seen <= 300
  return {
    ...snapshot,
    site_id: site.id,
    site_name: site.name ?? "",
    site_description: site.description ?? "",
    status: online ? "Online" : "Offline"
  }
}
