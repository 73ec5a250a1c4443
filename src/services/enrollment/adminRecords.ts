// Pure rules of enrollment administration: install-code format, TTL and use limits, computed code
// status, and the JSON shapes the original's admin API returns (D-ADM `to_dict`).
// spec: auth-enrollment.md §1.6, §2.1; config-bootstrap-tests.md §5b (D-ADM), §6.12
import * as Either from "effect/Either"
import { randomBytes } from "node:crypto"
import { normalizeGuid } from "../devices/identity.ts"
import { parseIsoUtc } from "../time.ts"

export const VALID_TTL_HOURS: ReadonlyArray<number> = [1, 3, 6, 12, 24]
export const DEFAULT_TTL_HOURS = 1
export const DEFAULT_MAX_USES = 2
const MAX_USES_LIMIT = 10

/** 16 random bytes, uppercase hex, 8 groups of 4 joined by `-` (39 characters). */
export const generateInstallCode = (): string => {
  const hex = randomBytes(16).toString("hex").toUpperCase()
  return (hex.match(/.{4}/g) ?? []).join("-")
}

export const clampMaxUses = (n: number): number => Math.min(MAX_USES_LIMIT, Math.max(1, Math.trunc(n)))

export type CodeStatus = "active" | "expired" | "used"

/** `used` when exhausted, else `expired` when past its expiry, else `active`. */
export const codeStatus = (code: { readonly use_count: number; readonly max_uses: number; readonly expiresAtMs: number | undefined }, nowMs: number): CodeStatus =>
  code.use_count >= code.max_uses ? "used" : code.expiresAtMs === undefined || code.expiresAtMs <= nowMs ? "expired" : "active"

const pad = (n: number, w = 2) => String(n).padStart(w, "0")

/** Python `datetime.isoformat()` of a UTC instant: `2024-01-01T03:00:00+00:00`, microseconds when non-zero. */
export const pythonIso = (ms: number): string => {
  const d = new Date(ms)
  const base = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`
  const micros = d.getUTCMilliseconds() * 1000
  return `${base}${micros === 0 ? "" : "." + pad(micros, 6)}+00:00`
}

/** An ISO column rendered the original's way (or null when empty or unreadable). */
export const isoOrNull = (value: unknown): string | null => {
  const ms = parseIsoUtc(value)
  return ms === undefined ? null : pythonIso(ms)
}

export interface InstallCodeRecord {
  readonly id: string
  readonly code: string
  readonly expires_at: string | null
  readonly max_uses: number
  readonly use_count: number
  readonly created_by_user_id: string | null
  readonly used_at: string | null
  readonly used_by_guid: string | null
  readonly last_used_at: string | null
  readonly status: CodeStatus
}

const CONFLICT_RESOLUTIONS: ReadonlyArray<string> = ["overwrite", "coexist", "auto_merge_fingerprint"]
const CANONICAL_GUID = /^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$/

/** What an operator asks for when approving, once checked: a conflict resolution, a GUID to bind. */
interface ApprovalChoice {
  readonly resolution: string | null
  readonly guid: string | null
}

/**
 * The resolution (any casing; empty is none), then the GUID (empty is none; `{…}`, any casing, and
 * stray characters are normalised, the result must be a canonical GUID), checked in this order.
 * `guid: null` is a GUID that was sent but is not a string.
 */
export const approvalChoice = (
  conflictResolution: string | undefined,
  guid: string | null | undefined
): Either.Either<ApprovalChoice, "invalid_conflict_resolution" | "invalid_guid"> => {
  const requested = (conflictResolution ?? "").trim().toLowerCase()
  if (requested !== "" && !CONFLICT_RESOLUTIONS.includes(requested)) return Either.left("invalid_conflict_resolution")
  if (guid === undefined || guid === "") return Either.right({ resolution: requested === "" ? null : requested, guid: null })
  const normalised = guid === null ? "" : normalizeGuid(guid)
  if (!CANONICAL_GUID.test(normalised)) return Either.left("invalid_guid")
  return Either.right({ resolution: requested === "" ? null : requested, guid: normalised })
}

export interface HostnameConflict {
  readonly guid: string | null
  readonly ssl_key_fingerprint: string | null
  readonly site_id: number | null
  readonly site_name: string
  readonly fingerprint_match: boolean
  readonly requires_prompt: boolean
}

export interface DeviceApprovalRecord {
  readonly id: string
  readonly approval_reference: string
  readonly status: string
  readonly hostname_claimed: string
  readonly ssl_key_fingerprint_claimed: string
  readonly created_at: string | null
  readonly updated_at: string | null
  readonly enrollment_code_id: string | null
  readonly guid: string | null
  readonly approved_by_user_id: string | null
  readonly approved_by_username: string | null
  readonly client_nonce: string
  readonly server_nonce: string
  readonly conflict_requires_prompt: boolean
  readonly fingerprint_match: boolean
  readonly hostname_conflict?: HostnameConflict
  readonly alternate_hostname?: string
}

const APPROVAL_STATUSES: ReadonlyArray<string> = ["pending", "approved", "denied", "completed", "expired"]

/** EnrollmentApprovalStatus: lowercased; unknown values count as `pending`. */
export const approvalStatusOf = (raw: unknown): string => {
  const s = typeof raw === "string" ? raw.trim().toLowerCase() : ""
  return APPROVAL_STATUSES.includes(s) ? s : "pending"
}
