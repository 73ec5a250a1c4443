// The audit trail's event types, one Schema per type, tagged by `type`. Adding an event type is one
// line in `AuditEvent` below: `defineEvent("<area>.<what>", { ...detail fields })`.
// Details hold identifiers and outcomes only — never a password, hash, token, secret or code value.
import * as Schema from "effect/Schema"

const AuditOutcome = Schema.Literal("success", "failure")
type AuditOutcome = typeof AuditOutcome.Type

/** Who did it, from where, to what: shared by every event. */
const envelope = {
  /** Operator username, `cli:<os user>`, `system`, or a device GUID for agent-side events. */
  actor: Schema.optional(Schema.String),
  actor_ip: Schema.optional(Schema.String),
  /** What was acted on: a username, site id, code id, approval id, device GUID or hostname. */
  target: Schema.optional(Schema.String)
}

/**
 * One event type: its `type` literal, the shared envelope, typed `details`, and the outcome it
 * records unless told otherwise.
 */
const defineEvent = <const T extends string, D extends Schema.Struct.Fields>(
  type: T,
  details: D,
  outcome: AuditOutcome = "success"
) =>
  Schema.Struct({
    type: Schema.Literal(type),
    ...envelope,
    outcome: Schema.optionalWith(AuditOutcome, { default: () => outcome }),
    details: Schema.optionalWith(Schema.Struct(details), { default: () => ({}) as Schema.Struct.Type<D> })
  })

const Role = Schema.String
const LoginMethod = Schema.Literal("password", "mfa")
const LoginFailure = Schema.Literal(
  "invalid_credentials",
  "invalid_payload",
  "rate_limited",
  "invalid_mfa_code",
  "mfa_session_invalid",
  "mfa_expired",
  "mfa_not_configured"
)

/**
 * Generic security event other capabilities record (enrollment, token refresh reuse detection, …):
 * `{ type: "security.<something>", actor, target, details }`.
 */
const SecurityEvent = Schema.Struct({
  type: Schema.TemplateLiteral(Schema.Literal("security."), Schema.String),
  ...envelope,
  outcome: Schema.optionalWith(AuditOutcome, { default: () => "failure" as const }),
  details: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Schema.Unknown }), { default: () => ({}) })
})

export const AuditEvent = Schema.Union(
  // Operator sessions (spec: config-bootstrap-tests.md §6.9)
  defineEvent("auth.login.succeeded", { method: LoginMethod, role: Role }),
  defineEvent("auth.login.failed", { reason: LoginFailure, stage: Schema.optional(Schema.String) }, "failure"),
  defineEvent("auth.logout", {}),
  defineEvent("auth.mfa.challenged", { stage: Schema.Literal("setup", "verify") }),
  defineEvent("auth.mfa.enrolled", {}),
  // Operator accounts (§6.13)
  defineEvent("user.created", { role: Role }),
  defineEvent("user.deleted", {}),
  defineEvent("user.role_changed", { from: Role, to: Role }),
  defineEvent("user.password_reset", {}),
  defineEvent("user.mfa_changed", { enabled: Schema.Boolean, reset_secret: Schema.Boolean }),
  // Sites and devices (§6.11)
  defineEvent("site.created", { name: Schema.String }),
  defineEvent("site.renamed", { from: Schema.String, to: Schema.String }),
  defineEvent("site.deleted", { ids: Schema.Array(Schema.Number), deleted: Schema.Number }),
  defineEvent("site.devices_assigned", { hostnames: Schema.Array(Schema.String) }),
  defineEvent("device.description_changed", {}),
  defineEvent("device.activity_cleared", { deleted: Schema.Number }),
  // A device renaming itself (heartbeat or details); the actor is the device's GUID.
  defineEvent("device.renamed", { from: Schema.String, to: Schema.String, via: Schema.Literal("heartbeat", "details") }),
  // Operators revoking, quarantining, restoring or deleting a device: who, and why.
  defineEvent("device.revoked", { hostname: Schema.String, reason: Schema.String, refresh_tokens_revoked: Schema.Number }),
  defineEvent("device.quarantined", { hostname: Schema.String, reason: Schema.String }),
  defineEvent("device.restored", { hostname: Schema.String, reason: Schema.String, from: Schema.String }),
  defineEvent("device.deleted", { hostname: Schema.String, reason: Schema.String, required_token_version: Schema.Number }),
  // Enrollment administration (auth-enrollment.md §1.6, §2.4)
  defineEvent("enrollment.code_created", { ttl_hours: Schema.Number, max_uses: Schema.Number, expires_at: Schema.String }),
  defineEvent("enrollment.code_deleted", {}),
  defineEvent("enrollment.approval_approved", {
    hostname: Schema.String,
    guid: Schema.NullOr(Schema.String),
    conflict_resolution: Schema.NullOr(Schema.String)
  }),
  defineEvent("enrollment.approval_denied", { hostname: Schema.String }),
  // Scheduled jobs and ad-hoc runs (realtime-jobs.md §5.2, §5.3)
  defineEvent("job.created", { name: Schema.String, schedule_type: Schema.String, targets: Schema.Number }),
  defineEvent("job.updated", { fields: Schema.Array(Schema.String) }),
  defineEvent("job.toggled", { enabled: Schema.Boolean }),
  defineEvent("job.deleted", { name: Schema.String }),
  defineEvent("job.runs_cleared", { cleared: Schema.Number, kept_occurrence: Schema.NullOr(Schema.Number) }),
  defineEvent("script.quick_run", { script_path: Schema.String, run_mode: Schema.String, targets: Schema.Number, dispatched: Schema.Number }),
  SecurityEvent
)

/** What a caller hands to `Audit.record` (outcome and details may be left out). */
export type AuditEventInput = typeof AuditEvent.Encoded
/** A decoded event. */
export type AuditEvent = typeof AuditEvent.Type

/** A stored event, as `GET /api/audit` returns it. */
export const AuditRecord = Schema.Struct({
  id: Schema.Number,
  ts: Schema.Number,
  ts_iso: Schema.String,
  type: Schema.String,
  actor: Schema.NullOr(Schema.String),
  actor_ip: Schema.NullOr(Schema.String),
  target: Schema.NullOr(Schema.String),
  outcome: Schema.String,
  details: Schema.Unknown
})
export type AuditRecord = typeof AuditRecord.Type

const SECRET_KEY = /pass(word)?|secret|token|nonce|hash|proof|pubkey|otp|^code$/i

/** Details as they may appear in a log line: any secret-looking key is masked. */
export const redactForLog = (value: unknown): unknown => {
  if (Array.isArray(value)) return value.map(redactForLog)
  if (typeof value !== "object" || value === null) return value
  const out: Record<string, unknown> = {}
  for (const [key, v] of Object.entries(value)) out[key] = SECRET_KEY.test(key) ? "[redacted]" : redactForLog(v)
  return out
}
