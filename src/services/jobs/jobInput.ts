// The rules that turn a decoded job body into column values, in the spec's order, and stored rows →
// the REST `Job` shape. Pure. spec: realtime-jobs.md §4.1 (definition and aliases), §5.2 (answers)
//
// Beyond the legacy reader (which stored whatever it got, so a bad schedule never fired and a
// non-object body could raise a 500): every field is checked and a bad one is a 400 with a clear
// error; the legacy strings are kept where it had them ("name, components, targets required",
// "no fields to update"); the later Engine's "targets required" for a PUT that empties the targets.
// Each field is read by its piece (requests.ts); the checks that need another field or the stored
// job are here, and they judge the fields in the order the original checks them.
import * as Either from "effect/Either"
import { compileSchedule, SCHEDULE_PROBLEM_MESSAGES } from "./schedule/nextRun.ts"
import { parseStartTs } from "./schedule/scheduleInput.ts"
import { runModeOf } from "./fabricator.ts"
import type { JobColumns, JobRow } from "./JobsRepo.ts"
import type { JobCreate, JobUpdate } from "./requests.ts"

export const REQUIRED_FIELDS = "name, components, targets required"
export const NO_FIELDS = "no fields to update"

interface ScheduleFields {
  readonly schedule_type: string
  readonly start_ts: number | null
}

/** The schedule fields a body may name (create and update share them). */
type ScheduleBody = Pick<JobCreate, "schedule" | "schedule_type" | "start" | "duration" | "duration_stop_enabled" | "expiration">

/** `schedule.type`, else `schedule_type`, and `schedule.start`, else `start`, parsed in the job's zone. */
const scheduleOf = (body: ScheduleBody, zone: string): Either.Either<ScheduleFields, string> =>
  Either.gen(function*() {
    const schedule_type = yield* (body.schedule?.type ?? body.schedule_type ?? Either.right("immediately"))
    const startValue = body.schedule?.start ?? body.start
    if (startValue === undefined) return { schedule_type, start_ts: null }
    const start_ts = parseStartTs(yield* startValue, zone)
    if (start_ts === null) return yield* Either.left("invalid schedule start")
    return { schedule_type, start_ts }
  })

/** Would this schedule fire? Unknown types, a missing start, an unknown zone are errors. */
const checkSchedule = (schedule: ScheduleFields, timeZone: string | null, defaultTimeZone: string): Either.Either<void, string> => {
  const compiled = compileSchedule({ type: schedule.schedule_type, startTs: schedule.start_ts, timeZone }, { defaultTimeZone })
  return compiled._tag === "Problem" ? Either.left(SCHEDULE_PROBLEM_MESSAGES[compiled.problem]) : Either.void
}

const flag = (value: boolean): number => (value ? 1 : 0)

const durationStop = (body: ScheduleBody): number => flag(body.duration?.stopAfterEnabled === true || body.duration_stop_enabled === true)

/** `duration.expiration` when truthy, else `expiration`; none is `no_expire`. */
const expirationOf = (body: ScheduleBody): Either.Either<string, string> => body.duration?.expiration ?? body.expiration ?? Either.right("no_expire")

/** Only WinRM runs use the service account; it defaults to on for them (later Engine). */
const serviceAccountOf = (executionContext: string, value: boolean | undefined): number =>
  executionContext !== "winrm" ? 0 : value === undefined ? 1 : flag(value)

const DEFAULT_CONTEXT = runModeOf("system")

/** A create body → every column, or the first problem. */
export const checkCreate = (body: JobCreate, defaultTimeZone: string): Either.Either<JobColumns, string> =>
  Either.gen(function*() {
    if (body.name === "" || body.components.length === 0 || body.targets.length === 0) return yield* Either.left(REQUIRED_FIELDS)
    const zone = yield* (body.timezone ?? Either.right(null))
    const schedule = yield* scheduleOf(body, zone ?? defaultTimeZone)
    yield* checkSchedule(schedule, zone, defaultTimeZone)
    const expiration = yield* expirationOf(body)
    const context = yield* (body.execution_context ?? Either.right(DEFAULT_CONTEXT))
    return {
      name: body.name,
      components_json: JSON.stringify(body.components),
      targets_json: JSON.stringify(body.targets),
      schedule_type: schedule.schedule_type,
      start_ts: schedule.start_ts,
      duration_stop_enabled: durationStop(body),
      expiration,
      execution_context: context,
      credential_id: body.credential_id ?? null,
      use_service_account: serviceAccountOf(context, body.use_service_account),
      enabled: body.enabled === undefined ? 1 : flag(body.enabled),
      timezone: zone
    }
  })

/**
 * A PUT body → only the columns it names (legacy partial update), validated against the stored job
 * so the resulting schedule still fires. `no fields to update` when it names none.
 */
export const checkUpdate = (body: JobUpdate, current: JobRow, defaultTimeZone: string): Either.Either<Partial<JobColumns>, string> =>
  Either.gen(function*() {
    const out: { -readonly [K in keyof JobColumns]?: JobColumns[K] } = {}
    if (body.name !== undefined) out.name = yield* body.name
    if (body.components !== undefined) out.components_json = JSON.stringify(yield* body.components)
    if (body.targets !== undefined) out.targets_json = JSON.stringify(yield* body.targets)
    let zone = current.timezone
    if (body.timezone !== undefined) {
      zone = yield* body.timezone
      out.timezone = zone
    }
    let schedule: ScheduleFields = { schedule_type: current.schedule_type ?? "immediately", start_ts: current.start_ts }
    const scheduleNamed = body.schedule !== undefined || body.schedule_type !== undefined
    if (scheduleNamed) {
      schedule = yield* scheduleOf(body, zone ?? defaultTimeZone)
      out.schedule_type = schedule.schedule_type
      out.start_ts = schedule.start_ts
    }
    if (scheduleNamed || body.timezone !== undefined) yield* checkSchedule(schedule, zone, defaultTimeZone)
    if (body.duration !== undefined || body.duration_stop_enabled !== undefined) out.duration_stop_enabled = durationStop(body)
    if (body.expiration !== undefined || body.duration?.expirationNamed === true) out.expiration = yield* expirationOf(body)
    let context = runModeOf(current.execution_context)
    if (body.execution_context !== undefined) {
      context = yield* body.execution_context
      out.execution_context = context
      // Non-WinRM contexts never use the service account; WinRM defaults to it (later Engine).
      if (body.use_service_account === undefined) out.use_service_account = serviceAccountOf(context, undefined)
    }
    if (body.use_service_account !== undefined) out.use_service_account = serviceAccountOf(context, body.use_service_account)
    if (body.credential_id !== undefined) out.credential_id = body.credential_id
    if (body.enabled !== undefined) out.enabled = flag(body.enabled)
    if (Object.keys(out).length === 0) return yield* Either.left(NO_FIELDS)
    return out
  })

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

