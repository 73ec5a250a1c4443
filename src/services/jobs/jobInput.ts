// Job bodies as the UI (and older clients) send them → validated column values, and stored rows →
// the REST `Job` shape. Pure. spec: realtime-jobs.md §4.1 (definition and aliases), §5.2 (answers)
//
// Beyond the legacy reader (which stored whatever it got, so a bad schedule never fired and a
// non-object body could raise a 500): every field is checked and a bad one is a 400 with a clear
// error; the legacy strings are kept where it had them ("name, components, targets required",
// "no fields to update"); the later Engine's "targets required" for a PUT that empties the targets.
import { compileSchedule, SCHEDULE_PROBLEM_MESSAGES } from "./schedule/nextRun.ts"
import { parseExpiration, parseStartTs } from "./schedule/scheduleInput.ts"
import { canonicalTimeZone } from "./schedule/timeZone.ts"
import { componentSourcePath, runModeOf } from "./fabricator.ts"
import { field, isRecord, type JsonRecord, pyInt, pyTruthy } from "../pyValues.ts"
import type { JobColumns, JobRow } from "./JobsRepo.ts"

export const REQUIRED_FIELDS = "name, components, targets required"
export const NO_FIELDS = "no fields to update"
export const MAX_COMPONENTS = 64
export const MAX_TARGETS = 10_000
export const MAX_NAME_LENGTH = 512

export type Checked<A> = { readonly _tag: "Ok"; readonly value: A } | { readonly _tag: "Invalid"; readonly error: string }

const ok = <A>(value: A): Checked<A> => ({ _tag: "Ok", value })
const invalid = <A = never>(error: string): Checked<A> => ({ _tag: "Invalid", error })

const objectField = (body: JsonRecord, key: string): JsonRecord => {
  const value = field(body, key)
  return isRecord(value) ? value : {}
}

/** `(value or default).strip().lower()` for a text field; `undefined` when it is not text. */
const lowerText = (value: unknown, fallback: string): string | undefined => {
  if (!pyTruthy(value)) return fallback
  return typeof value === "string" ? value.trim().toLowerCase() || fallback : undefined
}

/** Hostnames: strings (trimmed, blanks dropped) or integers; duplicates in any case once. */
export const checkTargets = (value: unknown): Checked<ReadonlyArray<string>> => {
  if (!pyTruthy(value)) return ok([])
  if (!Array.isArray(value)) return invalid("targets must be a list of hostnames")
  if (value.length > MAX_TARGETS) return invalid(`too many targets (at most ${MAX_TARGETS})`)
  const seen = new Set<string>()
  const out: Array<string> = []
  for (const target of value) {
    const text = typeof target === "string" ? target.trim() : Number.isInteger(target) ? String(target) : undefined
    if (text === undefined) return invalid("targets must be a list of hostnames")
    if (text === "" || seen.has(text.toLowerCase())) continue
    if (text.length > 255) return invalid("targets must be a list of hostnames")
    seen.add(text.toLowerCase())
    out.push(text)
  }
  return ok(out)
}

/**
 * Components: a list of objects, each a `script` or `ansible` with a path that stays inside its
 * island. Whether the file exists and is dispatchable is checked against the library afterwards.
 */
export const checkComponents = (value: unknown): Checked<ReadonlyArray<JsonRecord>> => {
  if (!pyTruthy(value)) return ok([])
  if (!Array.isArray(value)) return invalid("components must be a list")
  if (value.length > MAX_COMPONENTS) return invalid(`too many components (at most ${MAX_COMPONENTS})`)
  const out: Array<JsonRecord> = []
  for (const [index, component] of value.entries()) {
    if (!isRecord(component)) return invalid(`component ${index + 1} must be an object`)
    const kindValue = field(component, "type")
    const kind = typeof kindValue === "string" ? kindValue.trim().toLowerCase() : ""
    if (kind !== "script" && kind !== "ansible") {
      return invalid(`Unsupported component type '${typeof kindValue === "string" ? kindValue : String(kindValue ?? "")}'`)
    }
    if (componentSourcePath(component) === undefined) {
      const raw = [field(component, "path"), field(component, "script_path"), field(component, "playbook_path")].find(pyTruthy)
      if (raw === undefined) return invalid(kind === "ansible" ? "Missing playbook_path" : "Missing script_path")
      const text = typeof raw === "string" ? raw : String(raw)
      return invalid(`invalid component path '${text}'`)
    }
    out.push(component)
  }
  return ok(out)
}

/** `expiration`: `no_expire` or `<n>m|h|d` (a bare number is minutes). */
export const checkExpiration = (value: unknown): Checked<string> => {
  if (!pyTruthy(value)) return ok("no_expire")
  if (typeof value !== "string") return invalid("invalid expiration")
  const text = value.trim().toLowerCase()
  if (text === "no_expire") return ok(text)
  return parseExpiration(text) === null ? invalid("invalid expiration") : ok(text)
}

/** An optional IANA zone: `null` for none (the server's), its canonical id, or an error. */
export const checkTimeZone = (value: unknown): Checked<string | null> => {
  if (value === null || value === undefined || value === "") return ok(null)
  if (typeof value !== "string") return invalid("timezone must be an IANA zone name such as Europe/Berlin")
  if (value.trim() === "") return ok(null)
  const zone = canonicalTimeZone(value)
  return zone === undefined ? invalid(`invalid timezone '${value.trim()}' (expected an IANA zone such as Europe/Berlin)`) : ok(zone)
}

interface ScheduleFields {
  readonly schedule_type: string
  readonly start_ts: number | null
}

/** `schedule.type`/`schedule_type` and `schedule.start`/`start`, parsed in the job's zone. */
const readSchedule = (body: JsonRecord, zone: string): Checked<ScheduleFields> => {
  const schedule = objectField(body, "schedule")
  const typeValue = pyTruthy(field(schedule, "type")) ? field(schedule, "type") : field(body, "schedule_type")
  const type = lowerText(typeValue, "immediately")
  if (type === undefined) return invalid(SCHEDULE_PROBLEM_MESSAGES.unknown_schedule_type)
  const startValue = pyTruthy(field(schedule, "start")) ? field(schedule, "start") : field(body, "start")
  if (!pyTruthy(startValue)) return ok({ schedule_type: type, start_ts: null })
  const start = parseStartTs(startValue, zone)
  if (start === null) return invalid("invalid schedule start")
  return ok({ schedule_type: type, start_ts: start })
}

/** Would this schedule fire? Unknown types, a missing start, an unknown zone are errors. */
const checkSchedule = (schedule: ScheduleFields, timeZone: string | null, defaultTimeZone: string): string | undefined => {
  const compiled = compileSchedule({ type: schedule.schedule_type, startTs: schedule.start_ts, timeZone }, { defaultTimeZone })
  return compiled._tag === "Problem" ? SCHEDULE_PROBLEM_MESSAGES[compiled.problem] : undefined
}

const flag = (value: unknown): number => (pyTruthy(value) ? 1 : 0)

const durationStop = (body: JsonRecord): number =>
  flag(pyTruthy(field(objectField(body, "duration"), "stopAfterEnabled")) ? true : field(body, "duration_stop_enabled"))

const expirationValue = (body: JsonRecord): unknown => {
  const fromDuration = field(objectField(body, "duration"), "expiration")
  return pyTruthy(fromDuration) ? fromDuration : field(body, "expiration")
}

/** `int(credential_id)`, `null` for none or anything that is not an integer (legacy). */
const credentialOf = (value: unknown): number | null => {
  if (value === null || value === undefined || value === "" || value === "null") return null
  return pyInt(value) ?? null
}

/** Only WinRM runs use the service account; it defaults to on for them (later Engine). */
const serviceAccountOf = (executionContext: string, value: unknown): number =>
  executionContext !== "winrm" ? 0 : value === undefined ? 1 : flag(value)

const checkName = (value: unknown): Checked<string> => {
  if (!pyTruthy(value)) return ok("")
  if (typeof value !== "string") return invalid("name must be text")
  const name = value.trim()
  return name.length > MAX_NAME_LENGTH ? invalid(`name is too long (at most ${MAX_NAME_LENGTH} characters)`) : ok(name)
}

const checkContext = (value: unknown): Checked<string> => {
  const text = lowerText(value, "system")
  return text === undefined ? invalid("invalid execution_context") : ok(runModeOf(text))
}

/** A create body → every column, or the first problem. */
export const checkCreate = (body: JsonRecord, defaultTimeZone: string): Checked<JobColumns> => {
  const name = checkName(field(body, "name"))
  if (name._tag === "Invalid") return name
  const components = checkComponents(field(body, "components"))
  if (components._tag === "Invalid") return components
  const targets = checkTargets(field(body, "targets"))
  if (targets._tag === "Invalid") return targets
  if (name.value === "" || components.value.length === 0 || targets.value.length === 0) return invalid(REQUIRED_FIELDS)
  const zone = checkTimeZone(field(body, "timezone"))
  if (zone._tag === "Invalid") return zone
  const schedule = readSchedule(body, zone.value ?? defaultTimeZone)
  if (schedule._tag === "Invalid") return schedule
  const problem = checkSchedule(schedule.value, zone.value, defaultTimeZone)
  if (problem !== undefined) return invalid(problem)
  const expiration = checkExpiration(expirationValue(body))
  if (expiration._tag === "Invalid") return expiration
  const context = checkContext(field(body, "execution_context"))
  if (context._tag === "Invalid") return context
  return ok({
    name: name.value,
    components_json: JSON.stringify(components.value),
    targets_json: JSON.stringify(targets.value),
    schedule_type: schedule.value.schedule_type,
    start_ts: schedule.value.start_ts,
    duration_stop_enabled: durationStop(body),
    expiration: expiration.value,
    execution_context: context.value,
    credential_id: credentialOf(field(body, "credential_id")),
    use_service_account: serviceAccountOf(context.value, field(body, "use_service_account")),
    enabled: Object.hasOwn(body, "enabled") ? flag(body["enabled"]) : 1,
    timezone: zone.value
  })
}

/**
 * A PUT body → only the columns it names (legacy partial update), validated against the stored job
 * so the resulting schedule still fires. `no fields to update` when it names none.
 */
export const checkUpdate = (body: JsonRecord, current: JobRow, defaultTimeZone: string): Checked<Partial<JobColumns>> => {
  const has = (key: string) => Object.hasOwn(body, key)
  const out: { -readonly [K in keyof JobColumns]?: JobColumns[K] } = {}
  if (has("name")) {
    const name = checkName(body["name"])
    if (name._tag === "Invalid") return name
    if (name.value === "") return invalid("name required")
    out.name = name.value
  }
  if (has("components")) {
    const components = checkComponents(body["components"])
    if (components._tag === "Invalid") return components
    if (components.value.length === 0) return invalid("components required")
    out.components_json = JSON.stringify(components.value)
  }
  if (has("targets")) {
    const targets = checkTargets(body["targets"])
    if (targets._tag === "Invalid") return targets
    if (targets.value.length === 0) return invalid("targets required")
    out.targets_json = JSON.stringify(targets.value)
  }
  let zone = current.timezone
  if (has("timezone")) {
    const checked = checkTimeZone(body["timezone"])
    if (checked._tag === "Invalid") return checked
    zone = checked.value
    out.timezone = checked.value
  }
  let schedule: ScheduleFields = { schedule_type: current.schedule_type ?? "immediately", start_ts: current.start_ts }
  const scheduleNamed = has("schedule") || has("schedule_type")
  if (scheduleNamed) {
    const read = readSchedule(body, zone ?? defaultTimeZone)
    if (read._tag === "Invalid") return read
    schedule = read.value
    out.schedule_type = schedule.schedule_type
    out.start_ts = schedule.start_ts
  }
  if (scheduleNamed || has("timezone")) {
    const problem = checkSchedule(schedule, zone, defaultTimeZone)
    if (problem !== undefined) return invalid(problem)
  }
  if (has("duration") || has("duration_stop_enabled")) out.duration_stop_enabled = durationStop(body)
  if (has("expiration") || Object.hasOwn(objectField(body, "duration"), "expiration")) {
    const expiration = checkExpiration(expirationValue(body))
    if (expiration._tag === "Invalid") return expiration
    out.expiration = expiration.value
  }
  let context = runModeOf(current.execution_context)
  if (has("execution_context")) {
    const checked = checkContext(body["execution_context"])
    if (checked._tag === "Invalid") return checked
    context = checked.value
    out.execution_context = checked.value
    // Non-WinRM contexts never use the service account; WinRM defaults to it (later Engine).
    if (!has("use_service_account")) out.use_service_account = serviceAccountOf(context, undefined)
  }
  if (has("use_service_account")) out.use_service_account = serviceAccountOf(context, body["use_service_account"])
  if (has("credential_id")) out.credential_id = credentialOf(body["credential_id"])
  if (has("enabled")) out.enabled = flag(body["enabled"])
  if (Object.keys(out).length === 0) return invalid(NO_FIELDS)
  return ok(out)
}

// ---------------------------------------------------------------------------------------------
// Stored rows → what the API answers

const parseList = (text: string | null): ReadonlyArray<unknown> => {
  if (text === null || text === "") return []
  try {
    const value: unknown = JSON.parse(text)
    return Array.isArray(value) ? value : []
  } catch {
    return []
  }
}

/** `components_json` decoded leniently (legacy rows may hold anything). */
export const storedComponents = (row: Pick<JobRow, "components_json">): ReadonlyArray<unknown> => parseList(row.components_json)

/** `targets_json` → hostnames (strings and integers only, as the legacy scheduler read them). */
export const storedTargets = (row: Pick<JobRow, "targets_json">): ReadonlyArray<string> => {
  const out: Array<string> = []
  const seen = new Set<string>()
  for (const t of parseList(row.targets_json)) {
    const text = typeof t === "string" ? t.trim() : Number.isInteger(t) ? String(t) : ""
    if (text === "" || seen.has(text.toLowerCase())) continue
    seen.add(text.toLowerCase())
    out.push(text)
  }
  return out
}

/** The stored fields of a job as the REST answers carry them (legacy `_job_row_to_dict`). */
export const jobFields = (row: JobRow) => ({
  id: row.id,
  name: row.name,
  components: storedComponents(row),
  targets: parseList(row.targets_json),
  schedule_type: row.schedule_type || "immediately",
  start_ts: row.start_ts,
  duration_stop_enabled: row.duration_stop_enabled ?? false,
  expiration: row.expiration || "no_expire",
  execution_context: row.execution_context || "system",
  credential_id: row.credential_id,
  use_service_account: row.use_service_account ?? false,
  enabled: row.enabled ?? false,
  created_at: row.created_at ?? 0,
  updated_at: row.updated_at ?? 0,
  timezone: row.timezone
})

