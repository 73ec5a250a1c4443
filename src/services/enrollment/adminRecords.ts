// Pure rules of enrollment administration: install-code format, TTL and use limits, computed code
// status, and the JSON shapes the original's admin API returns (D-ADM `to_dict`).
// spec: auth-enrollment.md §1.6, §2.1; config-bootstrap-tests.md §5b (D-ADM), §6.12
import * as Option from "effect/Option"
import { randomBytes } from "node:crypto"
import { pyIntOption, pyTruthy } from "../pyValues.ts"
import { parseIsoUtc } from "../time.ts"

export const VALID_TTL_HOURS: ReadonlyArray<number> = [1, 3, 6, 12, 24]
export const DEFAULT_TTL_HOURS = 1
export const DEFAULT_MAX_USES = 2
export const MAX_USES_LIMIT = 10

/** 16 random bytes, uppercase hex, 8 groups of 4 joined by `-` (39 characters). */
export const generateInstallCode = (): string => {
  const hex = randomBytes(16).toString("hex").toUpperCase()
  return (hex.match(/.{4}/g) ?? []).join("-")
}

export const INSTALL_CODE_SHAPE = /^[0-9A-F]{4}(-[0-9A-F]{4}){7}$/

/** `ttl_hours` (alias `ttl`, default 1); `int()` of anything else unparseable also means 1. */
export const ttlFromPayload = (ttlHours: unknown, ttl: unknown): number => {
  const raw = ttlHours === undefined || ttlHours === null ? (pyTruthy(ttl) ? ttl : DEFAULT_TTL_HOURS) : ttlHours
  return Option.getOrElse(pyIntOption(raw), () => DEFAULT_TTL_HOURS)
}

/** `max_uses` (alias `allowed_uses`, default 2), clamped to 1..10; unparseable means 2. */
export const maxUsesFromPayload = (maxUses: unknown, allowedUses: unknown): number => {
  const raw = maxUses === undefined || maxUses === null ? (allowedUses === undefined ? DEFAULT_MAX_USES : allowedUses) : maxUses
  return clampMaxUses(Option.getOrElse(pyIntOption(raw), () => DEFAULT_MAX_USES))
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

export type ConflictResolution = "overwrite" | "coexist" | "auto_merge_fingerprint"

export const CONFLICT_RESOLUTIONS: ReadonlyArray<string> = ["overwrite", "coexist", "auto_merge_fingerprint"]

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

export const APPROVAL_STATUSES: ReadonlyArray<string> = ["pending", "approved", "denied", "completed", "expired"]

/** EnrollmentApprovalStatus: lowercased; unknown values count as `pending`. */
export const approvalStatusOf = (raw: unknown): string => {
  const s = typeof raw === "string" ? raw.trim().toLowerCase() : ""
  return APPROVAL_STATUSES.includes(s) ? s : "pending"
}
