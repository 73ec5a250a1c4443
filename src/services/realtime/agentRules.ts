// Pure rules of the agent registry. spec: realtime-jobs.md §2.2, §3.1, §3.5 (E-REG)

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

/**
 * May a device-authenticated socket speak for `agentId`? Token-era ids embed the device GUID
 * (`<HOST>_<GUID>_<MODE>`); older helpers start with the hostname (`<host>-script`).
 */
export const agentIdBelongsTo = (agentId: string, device: { readonly guid: string; readonly hostname: string }): boolean => {
  const id = agentId.toUpperCase()
  if (device.guid !== "" && id.includes(device.guid.toUpperCase())) return true
  const host = device.hostname.toUpperCase().replaceAll(" ", "-")
  if (host === "") return false
  return id === host || id.startsWith(`${host}_`) || id.startsWith(`${host}-`)
}

export const COLLECTOR_ACTIVE_SECONDS = 130
export const ONLINE_WINDOW_SECONDS = 300
