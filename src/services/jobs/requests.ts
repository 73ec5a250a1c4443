// What operators and agents send about jobs, one schema per payload: the API declares the HTTP ones
// (`setPayload`, so the OpenAPI document shows them) and the edges decode with them (HTTP bodies,
// socket payloads). Fields are read the way the original reads them (Python truthiness, `str()`,
// `int()`); the first failing field gives the wire code.
//
// A job body's checks come in a precise order, and some need another field or the stored job (the
// schedule is parsed in the job's zone; a PUT merges with the stored job; the required-fields rule
// looks at three fields at once). A field whose check comes after such a rule is decoded to a
// `Judged` value — its reading, or the wire code it fails with — and the rules in jobInput.ts judge
// them in the spec's order. spec: realtime-jobs.md §4.1, §5.2, §5.3 (HTTP); §2.3, §2.4 (socket)
import * as Either from "effect/Either"
import * as JSONSchema from "effect/JSONSchema"
import * as Schema from "effect/Schema"
import { checked, documentRequired, Lenient, lenientStruct, piece, read, type Reader } from "../lenientSchema.ts"
import { field, isRecord, type JsonRecord, pyInt, pyText, pyTruthy } from "../pyValues.ts"
import { componentSourcePath, runModeOf } from "./fabricator.ts"
import { SCHEDULE_PROBLEM_MESSAGES } from "./schedule/nextRun.ts"
import { parseExpiration } from "./schedule/scheduleInput.ts"
import { canonicalTimeZone } from "./schedule/timeZone.ts"

const MAX_COMPONENTS = 64
const MAX_TARGETS = 10_000
const MAX_NAME_LENGTH = 512
const MAX_RUN_ID_CHARS = 128
export const RUN_ID_REQUIRED = "run_id is required"
export const MISSING_QUICK_RUN_FIELDS = "Missing script_path or hostnames[]"
/** Hosts one quick run may address (each gets its own activity row and payload). */
const MAX_QUICK_RUN_HOSTS = 10_000

const ok = Either.right
const no = Either.left

/** A reading whose check a rule judges later, in the spec's order: the value, or the wire code it fails with. */
type Judged<A> = Either.Either<A, string>

/** What the OpenAPI document shows for a field: the wire shape, not the typed reading. */
const wireDoc = (wire: Schema.Schema.Any): object => {
  const { $schema: _, ...doc } = JSONSchema.make(wire)
  return doc
}

/** A typed reading documented as its wire shape. */
const documentedAs = <A>(typed: Schema.Schema<A>, wire: Schema.Schema.Any): Schema.Schema<A> => typed.annotations({ jsonSchema: wireDoc(wire) })

/** The typed side of a judged field, documented as its wire shape. */
const JudgedOf = <A>(wire: Schema.Schema<A>) =>
  Schema.UndefinedOr(Schema.declare((value: unknown): value is Judged<A> => Either.isEither(value), { jsonSchema: wireDoc(wire) }))

/** A field judged when present: `undefined` when absent (no check), else `reader`'s judgement. */
const judged = <A>(wire: Schema.Schema<A>, reader: Reader<A>): Schema.Schema<Judged<A> | undefined, unknown> =>
  piece(JudgedOf(wire), (value) => ok(value === undefined ? undefined : reader(value)))

/** A value the original takes only when truthy (`x.get(k) or fallback`): `undefined` when falsy, else judged. */
const whenTruthy = <A>(reader: Reader<A>) => (value: unknown): Judged<A> | undefined => (pyTruthy(value) ? reader(value) : undefined)

/** A field judged only when truthy (a falsy one counts as not given). */
const judgedWhenTruthy = <A>(wire: Schema.Schema<A>, reader: Reader<A>): Schema.Schema<Judged<A> | undefined, unknown> =>
  piece(JudgedOf(wire), (value) => ok(whenTruthy(reader)(value)))

/** A field that may be absent (`undefined`); when present, `reader` reads it (and never fails). */
const ifPresent = <A>(typed: Schema.Schema<A>, reader: (value: unknown) => A): Schema.Schema<A | undefined, unknown> =>
  piece(Schema.UndefinedOr(typed), (value) => ok(value === undefined ? undefined : reader(value)))

// ---------------------------------------------------------------------------------------------
// Scheduled jobs: POST /api/scheduled_jobs, PUT /api/scheduled_jobs/<id>, POST …/<id>/toggle

/** `(value or default).strip().lower()` for a text field; a truthy non-string fails with `code`. */
const lowerText = (fallback: string, code: string): Reader<string> => (value) => {
  if (!pyTruthy(value)) return ok(fallback)
  return typeof value === "string" ? ok(value.trim().toLowerCase() || fallback) : no(code)
}

/** `name`: text, trimmed (empty when falsy), at most 512 characters. */
const readName: Reader<string> = (value) => {
  if (!pyTruthy(value)) return ok("")
  if (typeof value !== "string") return no("name must be text")
  const name = value.trim()
  return name.length > MAX_NAME_LENGTH ? no(`name is too long (at most ${MAX_NAME_LENGTH} characters)`) : ok(name)
}

/**
 * `components`: a list of objects, each a `script` or `ansible` with a path that stays inside its
 * island (empty when falsy). Whether the file exists and is dispatchable is checked against the
 * library afterwards.
 */
const readComponents: Reader<ReadonlyArray<JsonRecord>> = (value) => {
  if (!pyTruthy(value)) return ok([])
  if (!Array.isArray(value)) return no("components must be a list")
  if (value.length > MAX_COMPONENTS) return no(`too many components (at most ${MAX_COMPONENTS})`)
  const out: Array<JsonRecord> = []
  for (const [index, component] of value.entries()) {
    if (!isRecord(component)) return no(`component ${index + 1} must be an object`)
    const kindValue = field(component, "type")
    const kind = typeof kindValue === "string" ? kindValue.trim().toLowerCase() : ""
    if (kind !== "script" && kind !== "ansible") {
      return no(`Unsupported component type '${typeof kindValue === "string" ? kindValue : String(kindValue ?? "")}'`)
    }
    if (componentSourcePath(component) === undefined) {
      const raw = [field(component, "path"), field(component, "script_path"), field(component, "playbook_path")].find(pyTruthy)
      if (raw === undefined) return no(kind === "ansible" ? "Missing playbook_path" : "Missing script_path")
      const text = typeof raw === "string" ? raw : String(raw)
      return no(`invalid component path '${text}'`)
    }
    out.push(component)
  }
  return ok(out)
}

/** `targets`: hostnames, strings (trimmed, blanks dropped) or integers; duplicates in any case once (empty when falsy). */
const readTargets: Reader<ReadonlyArray<string>> = (value) => {
  if (!pyTruthy(value)) return ok([])
  if (!Array.isArray(value)) return no("targets must be a list of hostnames")
  if (value.length > MAX_TARGETS) return no(`too many targets (at most ${MAX_TARGETS})`)
  const seen = new Set<string>()
  const out: Array<string> = []
  for (const target of value) {
    const text = typeof target === "string" ? target.trim() : Number.isInteger(target) ? String(target) : undefined
    if (text === undefined) return no("targets must be a list of hostnames")
    if (text === "" || seen.has(text.toLowerCase())) continue
    if (text.length > 255) return no("targets must be a list of hostnames")
    seen.add(text.toLowerCase())
    out.push(text)
  }
  return ok(out)
}

/** `timezone`: `null` for none (the server's), else its canonical IANA id. */
const readTimeZone: Reader<string | null> = (value) => {
  if (value === null || value === undefined || value === "") return ok(null)
  if (typeof value !== "string") return no("timezone must be an IANA zone name such as Europe/Berlin")
  if (value.trim() === "") return ok(null)
  const zone = canonicalTimeZone(value)
  return zone === undefined ? no(`invalid timezone '${value.trim()}' (expected an IANA zone such as Europe/Berlin)`) : ok(zone)
}

/** `expiration`: `no_expire` (also when falsy) or `<n>m|h|d` (a bare number is minutes). */
const readExpiration: Reader<string> = (value) => {
  if (!pyTruthy(value)) return ok("no_expire")
  if (typeof value !== "string") return no("invalid expiration")
  const text = value.trim().toLowerCase()
  if (text === "no_expire") return ok(text)
  return parseExpiration(text) === null ? no("invalid expiration") : ok(text)
}

const readScheduleType = lowerText("immediately", SCHEDULE_PROBLEM_MESSAGES.unknown_schedule_type)

/** A schedule start as sent: epoch seconds or ISO-8601 text, parsed in the job's zone by the rules. */
const readStart: Reader<number | string> = (value) =>
  typeof value === "number" || typeof value === "string" ? ok(value) : no("invalid schedule start")

const Start = Schema.NullOr(Schema.Union(Schema.String, Schema.Number)).annotations({ description: "ISO-8601 (no offset: wall time in the job's zone) or epoch seconds" })

/** `schedule`: `{type, start}` (a non-object reads as `{}`); each used only when truthy. */
interface ScheduleField {
  readonly type: Judged<string> | undefined
  readonly start: Judged<number | string> | undefined
}

const scheduleField = ifPresent(
  documentedAs(
    Schema.declare((value: unknown): value is ScheduleField => isRecord(value)),
    Schema.Struct({ type: Schema.optional(Schema.String), start: Schema.optional(Start) })
  ),
  (value): ScheduleField => {
    const schedule = isRecord(value) ? value : {}
    return { type: whenTruthy(readScheduleType)(field(schedule, "type")), start: whenTruthy(readStart)(field(schedule, "start")) }
  }
)

/** `duration`: `{stopAfterEnabled, expiration}` (a non-object reads as `{}`). */
interface DurationField {
  readonly stopAfterEnabled: boolean
  /** Used only when truthy (else the top-level `expiration`). */
  readonly expiration: Judged<string> | undefined
  /** Whether the object names `expiration` at all (a PUT then re-judges the expiration). */
  readonly expirationNamed: boolean
}

const durationField = ifPresent(
  documentedAs(
    Schema.declare((value: unknown): value is DurationField => isRecord(value)),
    Schema.Struct({ stopAfterEnabled: Schema.optional(Schema.Boolean), expiration: Schema.optional(Schema.String) })
  ),
  (value): DurationField => {
    const duration = isRecord(value) ? value : {}
    return {
      stopAfterEnabled: pyTruthy(field(duration, "stopAfterEnabled")),
      expiration: whenTruthy(readExpiration)(field(duration, "expiration")),
      expirationNamed: Object.hasOwn(duration, "expiration")
    }
  }
)

/** `int(credential_id)`; `null` for none or anything that is not an integer (legacy). */
const readCredential = (value: unknown): number | null =>
  value === null || value === undefined || value === "" || value === "null" ? null : (pyInt(value) ?? null)

/**
 * The fields of a job body after the name, components and targets, shared by create and update:
 * each `undefined` when absent (a PUT changes only what it names).
 */
const scheduleAndOptions = {
  timezone: judged(Schema.NullOr(Schema.String).annotations({ description: "IANA zone for calendar schedules; default the server's" }), readTimeZone),
  schedule: scheduleField,
  schedule_type: judged(Schema.String.annotations({ description: "legacy spelling of schedule.type" }), readScheduleType),
  start: judgedWhenTruthy(Start.annotations({ description: "legacy spelling of schedule.start" }), readStart),
  duration: durationField,
  duration_stop_enabled: ifPresent(Schema.Boolean, pyTruthy),
  expiration: judged(Schema.String.annotations({ description: "no_expire | <n>m | <n>h | <n>d (legacy spelling of duration.expiration)" }), readExpiration),
  execution_context: judged(
    Schema.String.annotations({ description: "system (default) | current_user | admin | ssh | winrm" }),
    lowerText("system", "invalid execution_context")
  ),
  credential_id: ifPresent(Schema.NullOr(Schema.Number), readCredential),
  use_service_account: ifPresent(Schema.Boolean, pyTruthy),
  enabled: ifPresent(Schema.Boolean, pyTruthy)
} as const

/**
 * POST /api/scheduled_jobs. Name, components and targets are checked first, in that order (empty when
 * falsy: the rules then answer "name, components, targets required"); the rest is judged by the rules.
 */
export const JobCreate = documentRequired(lenientStruct({
  name: piece(Schema.String.annotations({ description: "≤ 512 characters" }), readName),
  components: piece(
    Schema.Array(Schema.Record({ key: Schema.String, value: Schema.Unknown })).annotations({
      description: "≤ 64 of {type: script | ansible, path, variable_values?, …}; each must name a dispatchable file of the library"
    }),
    readComponents
  ),
  targets: piece(Schema.Array(Schema.String).annotations({ description: "≤ 10,000 hostnames" }), readTargets),
  ...scheduleAndOptions
}, "ScheduledJobCreate"), ["name", "components", "targets"])
export type JobCreate = typeof JobCreate.Type

/** PUT /api/scheduled_jobs/<id>: only the fields present change; every check is judged after the job is found and owned. */
export const JobUpdate = lenientStruct({
  name: judged(Schema.String, checked(readName, (name) => (name === "" ? "name required" : undefined))),
  components: judged(
    Schema.Array(Schema.Record({ key: Schema.String, value: Schema.Unknown })),
    checked(readComponents, (components) => (components.length === 0 ? "components required" : undefined))
  ),
  targets: judged(Schema.Array(Schema.String), checked(readTargets, (targets) => (targets.length === 0 ? "targets required" : undefined))),
  ...scheduleAndOptions
}, "ScheduledJobUpdate")
export type JobUpdate = typeof JobUpdate.Type

/** POST /api/scheduled_jobs/<id>/toggle: `enabled` (truthiness), absent = enable. */
export const JobToggle = lenientStruct({
  enabled: piece(Schema.Boolean.annotations({ description: "default true" }), (value) => ok(value === undefined || pyTruthy(value)))
}, "ScheduledJobToggle")
export type JobToggle = typeof JobToggle.Type

// ---------------------------------------------------------------------------------------------
// POST /api/scripts/quick_run

/** Hostnames of a quick run: strings or numbers, trimmed, blanks dropped, each once (any case). */
const readQuickRunHosts: Reader<ReadonlyArray<string>> = (value) => {
  const list = pyTruthy(value) ? value : []
  if (!Array.isArray(list)) return no(MISSING_QUICK_RUN_FIELDS)
  const seen = new Set<string>()
  const out: Array<string> = []
  for (const host of list) {
    if (typeof host !== "string" && typeof host !== "number") return no(MISSING_QUICK_RUN_FIELDS)
    const text = String(host).trim()
    if (text === "" || seen.has(text.toLowerCase())) continue
    seen.add(text.toLowerCase())
    out.push(text)
  }
  return out.length === 0 ? no(MISSING_QUICK_RUN_FIELDS) : ok(out)
}

export const QuickRun = lenientStruct({
  script_path: piece(
    Schema.String.annotations({ description: "a PowerShell script of the library (Scripts/…)" }),
    checked((value) => ok(typeof value === "string" ? value.trim() : ""), (path) => (path === "" ? MISSING_QUICK_RUN_FIELDS : undefined))
  ),
  hostnames: piece(
    Schema.Array(Schema.String).annotations({ description: `≤ ${MAX_QUICK_RUN_HOSTS} hostnames` }),
    checked(readQuickRunHosts, (hosts) => (hosts.length > MAX_QUICK_RUN_HOSTS ? `too many hostnames (at most ${MAX_QUICK_RUN_HOSTS})` : undefined))
  ),
  run_mode: piece(
    Schema.String.annotations({ description: "system (default) | current_user | admin" }),
    (value) => ok(runModeOf(typeof value === "string" ? value : ""))
  ),
  variable_values: piece(Schema.UndefinedOr(Schema.Record({ key: Schema.String, value: Schema.Unknown })), (value) => ok(isRecord(value) ? value : undefined))
}, "QuickRun")
export type QuickRun = typeof QuickRun.Type

// ---------------------------------------------------------------------------------------------
// POST /api/ansible/recap/report (the agent's Ansible role, no credentials)

/** `str(x or "").strip()`, `null` when empty. */
const textOrNull = (value: unknown): string | null => {
  const text = pyText(value)
  return text === "" ? null : text
}

const NullableText = Schema.NullOr(Schema.String)
const NullableInt = Schema.NullOr(Schema.Number)

export const AnsibleRecap = lenientStruct({
  run_id: piece(
    Schema.String.annotations({ description: "the run_id of the ansible_playbook_run the server sent (≤ 128 characters)" }),
    checked(read.requiredText(RUN_ID_REQUIRED), (runId) => (runId.length > MAX_RUN_ID_CHARS ? "run_id is invalid" : undefined))
  ),
  hostname: piece(NullableText.annotations({ description: "the reporting host (must be the run's target when no device token is sent)" }), (value) => ok(textOrNull(value))),
  agent_id: piece(NullableText, (value) => ok(textOrNull(value))),
  status: piece(NullableText, (value) => ok(textOrNull(value))),
  recap_text: piece(NullableText, (value) => ok(typeof value === "string" ? value : null)),
  recap_json: piece(
    NullableText.annotations({ description: "an object (or its JSON text); kept up to 256 KiB" }),
    (value) => ok(value === null || value === undefined ? null : typeof value === "string" ? value : JSON.stringify(value))
  ),
  started_ts: piece(NullableInt, (value) => ok(pyTruthy(value) ? (pyInt(value) ?? null) : null)),
  finished_ts: piece(NullableInt, (value) => ok(pyTruthy(value) ? (pyInt(value) ?? null) : null))
}, "AnsibleRecap")
export type AnsibleRecap = typeof AnsibleRecap.Type

// ---------------------------------------------------------------------------------------------
// Socket.IO: quick_job_result / quick_job_progress (agents), job_status_request and the playbook
// relays (operators)

/** Python `int(job_id)` for integers and digit strings only; `undefined` otherwise. */
export const reportedId = (value: unknown): number | undefined => {
  if (typeof value === "number") return Number.isSafeInteger(value) && value > 0 ? value : undefined
  if (typeof value === "string" && /^\s*\d{1,15}\s*$/.test(value)) {
    const n = Number.parseInt(value, 10)
    return n > 0 ? n : undefined
  }
  return undefined
}

const Id = Schema.Number.annotations({ description: "a positive integer (digit strings accepted)" })

/** The `context` a scheduled run's `quick_job_run` carried, echoed back by the agent. */
export interface EchoedContext {
  readonly scheduled_job_id: number | undefined
  readonly scheduled_job_run_id: number | undefined
}

/** Output as sent: text, or `str()` of anything else but null. */
const outputText = (value: unknown): string | undefined =>
  typeof value === "string" ? value : value === null || value === undefined ? undefined : String(value)

/**
 * `quick_job_result {job_id, status, stdout, stderr, context?}` and `quick_job_progress {job_id,
 * status, stdout?, stderr?, append_output?, context?}`. A `job_id` that is not an integer is dropped
 * with that reason.
 */
export const JobReport = lenientStruct({
  job_id: piece(Id, (value) => Either.fromNullable(reportedId(value), () => "job_id not an integer")),
  status: Lenient.text,
  stdout: piece(Schema.UndefinedOr(Schema.String), (value) => ok(outputText(value))),
  stderr: piece(Schema.UndefinedOr(Schema.String), (value) => ok(outputText(value))),
  append_output: Lenient.truthy,
  context: piece(
    Schema.UndefinedOr(Schema.Struct({ scheduled_job_id: Schema.UndefinedOr(Schema.Number), scheduled_job_run_id: Schema.UndefinedOr(Schema.Number) })),
    (value) =>
      ok(isRecord(value)
        ? { scheduled_job_id: reportedId(field(value, "scheduled_job_id")), scheduled_job_run_id: reportedId(field(value, "scheduled_job_run_id")) }
        : undefined)
  )
}, "JobReport")
export type JobReport = typeof JobReport.Type

/** `job_status_request {job_id}`: a `job_id` that is not an integer is answered `{error}`, not dropped. */
export const JobStatusRequest = lenientStruct({
  job_id: piece(Schema.UndefinedOr(Schema.Number), (value) => ok(reportedId(value)))
}, "JobStatusRequest")
export type JobStatusRequest = typeof JobStatusRequest.Type

/** Text only when non-blank (sent as is). */
const nonBlank = piece(Schema.UndefinedOr(Schema.String), (value) => ok(typeof value === "string" && value.trim() !== "" ? value : undefined))

/** `ansible_playbook_run` relayed by an Admin: what the server reads of it (the payload is forwarded unchanged). */
export const PlaybookRunRelay = lenientStruct({
  target_hostname: nonBlank,
  run_id: nonBlank,
  playbook_name: nonBlank
}, "PlaybookRunRelay")
export type PlaybookRunRelay = typeof PlaybookRunRelay.Type

/** `ansible_playbook_cancel {run_id}`: forwarded unchanged to every agent. */
export const PlaybookCancelRelay = lenientStruct({ run_id: nonBlank }, "PlaybookCancelRelay")
