// Device identity value rules shared by enrollment, tokens, device auth and realtime.
// spec: auth-enrollment.md §8, config-bootstrap-tests.md §5b (D-AUTH)

/** Python's `uuid.UUID(text)`: drops `urn:`/`uuid:`, strips braces, ignores hyphens, needs 32 hex digits. */
const canonicalUuid = (value: string): string | undefined => {
  const hex = value.replaceAll("urn:", "").replaceAll("uuid:", "").replace(/^[{}]+|[{}]+$/g, "").replaceAll("-", "")
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) return undefined
  const h = hex.toUpperCase()
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}

/**
 * Trim, strip braces; a UUID becomes canonical uppercase; otherwise keep only hex digits and `-`
 * (trimmed of `-`) and retry; otherwise the trimmed input uppercased. Empty gives "".
 */
export const normalizeGuid = (value: unknown): string => {
  if (typeof value !== "string") return ""
  const trimmed = value.trim().replace(/^\{+/, "").replace(/\}+$/, "").trim()
  if (trimmed === "") return ""
  const direct = canonicalUuid(trimmed)
  if (direct !== undefined) return direct
  const cleaned = trimmed.replace(/[^0-9a-fA-F-]/g, "").replace(/^-+|-+$/g, "")
  if (cleaned !== "") {
    const retried = canonicalUuid(cleaned)
    if (retried !== undefined) return retried
  }
  return trimmed.toUpperCase()
}

/** Fingerprints are lowercase hex; trimmed and lowercased. */
export const normalizeFingerprint = (value: unknown): string =>
  typeof value === "string" ? value.trim().toLowerCase() : ""

/** `X-Borealis-Agent-Context`: keep `[A-Za-z0-9_-]`, uppercase; undefined when nothing is left. */
export const sanitizeServiceContext = (value: unknown): string | undefined => {
  if (typeof value !== "string") return undefined
  const kept = value.replace(/[^A-Za-z0-9_-]/g, "").toUpperCase()
  return kept === "" ? undefined : kept
}

const DEVICE_STATUSES = ["active", "quarantined", "revoked", "decommissioned"] as const
export type DeviceStatus = (typeof DEVICE_STATUSES)[number]

/** Lenient: unknown or empty statuses are `active` (DeviceStatus.from_string). */
export const deviceStatusOf = (value: unknown): DeviceStatus => {
  const v = typeof value === "string" ? value.trim().toLowerCase() : ""
  return (DEVICE_STATUSES as ReadonlyArray<string>).includes(v) ? (v as DeviceStatus) : "active"
}

/** Revoked and decommissioned devices are refused; quarantined ones keep access. */
export const deviceStatusAllowsAccess = (status: DeviceStatus): boolean =>
  status === "active" || status === "quarantined"

/** The DNS limit: longer hostnames are refused, not cut (a cut name could collide with another device's). */
const MAX_HOSTNAME_LENGTH = 253

const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/

/** Why a hostname an agent claims is refused (too long, or control characters), if it is. */
export const hostnameProblem = (hostname: string): string | undefined =>
  hostname.length > MAX_HOSTNAME_LENGTH ? "hostname too long" : CONTROL.test(hostname) ? "hostname has control characters" : undefined

/**
 * Hostnames name one machine whatever their letter case (Windows and DNS ignore it): the key every
 * comparison uses. ASCII-only folding, exactly what SQLite's LOWER() and the unique index do.
 */
export const hostnameKey = (hostname: string): string => hostname.replace(/[A-Z]+/g, (m) => m.toLowerCase())

/** Agent-supplied text is stored capped, so no report can bloat a row. */
export const capText = (text: string, max: number): string => (text.length <= max ? text : text.slice(0, max))
