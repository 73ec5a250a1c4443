// Pure rules of the agent registry. spec: realtime-jobs.md §2.2, §3.1, §3.5 (E-REG)
import { hostnameKey } from "../devices/identity.ts"

export type ServiceMode = "system" | "currentuser"

/**
 * `system`, `svc`, `service`, `system_service` → system; anything else → currentuser; with no mode,
 * an id containing `-svc-` or ending `-svc` (or, beyond the original, `_SYSTEM`) is a system service.
 */
export const normalizeServiceMode = (value: unknown, agentId?: string): ServiceMode => {
  const text = typeof value === "string" ? value.trim().toLowerCase() : ""
  if (text === "" && agentId !== undefined) {
    const lowered = agentId.toLowerCase()
    // Token-era ids end with the mode (`<HOST>_<GUID>_SYSTEM`); older service ids carry `-svc`.
    if (lowered.includes("-svc-") || lowered.endsWith("-svc") || lowered.endsWith("_system")) return "system"
  }
  return text === "system" || text === "svc" || text === "service" || text === "system_service" ? "system" : "currentuser"
}

export const isScriptAgent = (agentId: string): boolean => agentId.toLowerCase().endsWith("-script")

export const isSystemServiceAgent = (agentId: string, scriptAgent: boolean): boolean => {
  if (scriptAgent) return false
  const lowered = agentId.toLowerCase()
  return lowered.includes("-svc-") || lowered.endsWith("-svc")
}

/** Only an interactive Windows user counts as `last_user` (no machine, service or system accounts). */
export const isInteractiveUser = (candidate: unknown): boolean => {
  if (typeof candidate !== "string") return false
  const text = candidate.trim()
  if (text === "") return false
  const upper = text.toUpperCase()
  if (text.endsWith("$")) return false
  if (upper.includes("NT AUTHORITY\\") || upper.includes("NT SERVICE\\")) return false
  if (upper.endsWith("\\SYSTEM") || upper.endsWith("\\LOCAL SERVICE") || upper.endsWith("\\NETWORK SERVICE")) return false
  return upper !== "ANONYMOUS LOGON"
}

/** Hidden from `/api/agents`: non-interactive script helpers. */
export const hiddenFromAgentList = (agentId: string, mode: ServiceMode, scriptAgent: boolean): boolean =>
  mode !== "currentuser" && (agentId.toLowerCase().endsWith("-script") || scriptAgent)

const TOKEN_ERA_ID = /^(.+)_([0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})_(SYSTEM|CURRENTUSER)$/i
const LEGACY_SUFFIX = /^(?:-svc)?-agent-[0-9a-f]{8}(?:-svc)?$/

/**
 * May a device-authenticated socket speak for `agentId`? Exactly its own ids, never by prefix:
 * token-era ids `<HOST>_<GUID>_<SYSTEM|CURRENTUSER>` whose GUID segment is the device's own (the host
 * part is the agent's local name, which an operator's coexist suffix may have changed), and the legacy
 * forms of the device's current hostname (spec realtime-jobs.md §2.2): `<host>-agent-<8 hex>` (with
 * an optional `-svc`), `<host>-script`, in any letter case.
 */
export const agentIdBelongsTo = (agentId: string, device: { readonly guid: string; readonly hostname: string }): boolean => {
  const tokenEra = TOKEN_ERA_ID.exec(agentId)
  if (tokenEra !== null) return device.guid !== "" && tokenEra[2]!.toUpperCase() === device.guid.toUpperCase()
  const host = hostnameKey(device.hostname.trim().replaceAll(" ", "-"))
  const id = hostnameKey(agentId)
  if (host === "" || !id.startsWith(host)) return false
  const rest = id.slice(host.length)
  return rest === "-script" || LEGACY_SUFFIX.test(rest)
}

export const COLLECTOR_ACTIVE_SECONDS = 130
export const ONLINE_WINDOW_SECONDS = 300
