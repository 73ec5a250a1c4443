// When a scheduled job runs: next-run computation for every schedule type, the legacy scheduler's
// occurrence selection (5-minute firing window, missed slots skipped), and run-status terminality.
// Pure: plain epoch seconds and zone strings in, numbers out.
// spec: realtime-jobs.md §4.4 (next run), §4.5 (occurrence selection), §4.8 (next_run_ts)
//
// Decisions beyond the legacy text (issue 7):
// - Slots are anchored on `start` (floored to the minute) rather than chained from the previous
//   occurrence, so month-end clamping never drifts (Jan 31 → Feb 29 → Mar 31, not → Mar 29) and an
//   edited start moves the whole grid.
// - Interval types (every 5/10/15/30 minutes, every hour) are elapsed time and ignore zones; calendar
//   types (daily, weekly, monthly, yearly) repeat the start's wall-clock time in the job's zone
//   (default: the server's). A skipped wall time runs at the first valid minute after it, a repeated
//   one runs once, at its first occurrence (see `fromLocal`).
// - Yearly from Feb 29 runs on Feb 28 in common years and on Feb 29 again in leap years.
// - `Failed` (and `Skipped`, `Cancelled`) are terminal, so a failed target never stalls a job.
import { canonicalTimeZone, daysFromCivil, daysInMonth, fromLocal, type LocalDateTime, serverTimeZone, toLocal } from "./timeZone.ts"

export const SCHEDULE_TYPES = [
  "immediately",
  "once",
  "every_5_minutes",
  "every_10_minutes",
  "every_15_minutes",
  "every_30_minutes",
  "every_hour",
  "daily",
  "weekly",
  "monthly",
  "yearly"
] as const

type ScheduleType = (typeof SCHEDULE_TYPES)[number]

export const isScheduleType = (value: string): value is ScheduleType => (SCHEDULE_TYPES as ReadonlyArray<string>).includes(value)

/** How far past its slot an occurrence may still start (legacy: 5 minutes). */
export const FIRING_WINDOW_SECONDS = 300

/** A job's schedule as stored: `type` lower-cased, `startTs` epoch seconds, optional IANA zone. */
export interface JobSchedule {
  readonly type: string
  readonly startTs: number | null | undefined
  /** Zone for calendar types; empty/absent → `defaultTimeZone` (the server's zone). */
  readonly timeZone?: string | null | undefined
}

export interface ScheduleOptions {
  /** Zone used when the job names none; defaults to the server's zone. */
  readonly defaultTimeZone?: string | undefined
}

type ScheduleProblem = "unknown_schedule_type" | "missing_start" | "invalid_timezone"

/** Operator-facing text for each problem (for REST validation errors and logs). */
export const SCHEDULE_PROBLEM_MESSAGES: Readonly<Record<ScheduleProblem, string>> = {
  unknown_schedule_type: "invalid schedule type",
  missing_start: "start is required for this schedule type",
  invalid_timezone: "invalid timezone"
}

/** Seconds floored to the start of their minute (every schedule computation works in minutes). */
export const floorMinute = (ts: number): number => {
  const whole = Math.floor(ts)
  return whole - (((whole % 60) + 60) % 60)
}

/** Legacy firing window: the occurrence is now or at most `windowSeconds` in the past (minutes). */
export const withinFiringWindow = (occurrenceTs: number, nowTs: number, windowSeconds: number = FIRING_WINDOW_SECONDS): boolean => {
  const lag = floorMinute(nowTs) - floorMinute(occurrenceTs)
  return lag >= 0 && lag <= windowSeconds
}

// ---------------------------------------------------------------------------------------------
// Run statuses

/** Statuses after which nothing more happens to a run (spec §4.7). `Failed` is one of them. */
export const TERMINAL_RUN_STATUSES: ReadonlyArray<string> = ["Success", "Failed", "Expired", "Timed Out", "Skipped", "Cancelled"]

const terminal = new Set(TERMINAL_RUN_STATUSES.map((s) => s.toLowerCase()))

export const isTerminalRunStatus = (status: string | null | undefined): boolean =>
  status !== null && status !== undefined && terminal.has(status.trim().toLowerCase())

/**
 * Whether an occurrence is finished: every target has a run row in a terminal status (hostnames
 * compared case-insensitively). A job without targets has nothing outstanding.
 */
export const isOccurrenceComplete = (
  targets: ReadonlyArray<string>,
  runs: ReadonlyArray<{ readonly target_hostname: string | null; readonly status: string | null }>
): boolean => {
  const done = new Set<string>()
  for (const run of runs) {
    if (run.target_hostname !== null && isTerminalRunStatus(run.status)) done.add(run.target_hostname.toLowerCase())
  }
  return targets.every((target) => done.has(target.toLowerCase()))
}

// ---------------------------------------------------------------------------------------------
// Compiled schedules: slot n of a recurring schedule, and the slot nearest a given instant.

type Recurrence =
  | { readonly _tag: "Interval"; readonly seconds: number }
  | { readonly _tag: "Calendar"; readonly unit: "day" | "week" | "month" | "year" }

const RECURRENCES: Readonly<Record<string, Recurrence>> = {
  every_5_minutes: { _tag: "Interval", seconds: 5 * 60 },
  every_10_minutes: { _tag: "Interval", seconds: 10 * 60 },
  every_15_minutes: { _tag: "Interval", seconds: 15 * 60 },
  every_30_minutes: { _tag: "Interval", seconds: 30 * 60 },
  every_hour: { _tag: "Interval", seconds: 60 * 60 },
  daily: { _tag: "Calendar", unit: "day" },
  weekly: { _tag: "Calendar", unit: "week" },
  monthly: { _tag: "Calendar", unit: "month" },
  yearly: { _tag: "Calendar", unit: "year" }
}

/** A validated schedule, ready for repeated evaluation. */
export type CompiledSchedule =
  | { readonly _tag: "Immediately" }
  | { readonly _tag: "Once"; readonly startTs: number }
  | {
    readonly _tag: "Recurring"
    readonly type: ScheduleType
    readonly startTs: number
    readonly zone: string
    readonly recurrence: Recurrence
    readonly anchor: LocalDateTime
  }

const hasStart = (startTs: number | null | undefined): startTs is number =>
  typeof startTs === "number" && Number.isFinite(startTs)

/** Validate and prepare a schedule, or say what is wrong with it. */
export const compileSchedule = (
  schedule: JobSchedule,
  options: ScheduleOptions = {}
): { readonly _tag: "Ok"; readonly schedule: CompiledSchedule } | { readonly _tag: "Problem"; readonly problem: ScheduleProblem } => {
  const type = schedule.type.trim().toLowerCase()
  if (!isScheduleType(type)) return { _tag: "Problem", problem: "unknown_schedule_type" }
  const named = typeof schedule.timeZone === "string" && schedule.timeZone.trim() !== "" ? schedule.timeZone : undefined
  const zone = canonicalTimeZone(named ?? options.defaultTimeZone ?? serverTimeZone())
  if (zone === undefined) return { _tag: "Problem", problem: "invalid_timezone" }
  if (type === "immediately") return { _tag: "Ok", schedule: { _tag: "Immediately" } }
  if (!hasStart(schedule.startTs)) return { _tag: "Problem", problem: "missing_start" }
  const startTs = floorMinute(schedule.startTs)
  if (type === "once") return { _tag: "Ok", schedule: { _tag: "Once", startTs } }
  const recurrence = RECURRENCES[type]
  if (recurrence === undefined) return { _tag: "Problem", problem: "unknown_schedule_type" }
  return {
    _tag: "Ok",
    schedule: { _tag: "Recurring", type, startTs, zone, recurrence, anchor: toLocal(zone, startTs) }
  }
}

/** What is wrong with a schedule, if anything (REST validation). */
export const scheduleProblem = (schedule: JobSchedule, options: ScheduleOptions = {}): ScheduleProblem | undefined => {
  const compiled = compileSchedule(schedule, options)
  return compiled._tag === "Problem" ? compiled.problem : undefined
}

type Recurring = Extract<CompiledSchedule, { _tag: "Recurring" }>

const calendarLocal = (anchor: LocalDateTime, unit: "day" | "week" | "month" | "year", n: number): LocalDateTime => {
  switch (unit) {
    case "day":
    case "week": {
      const days = daysFromCivil(anchor.year, anchor.month, anchor.day) + (unit === "day" ? n : 7 * n)
      const date = new Date(days * 86_400_000)
      return { ...anchor, year: date.getUTCFullYear(), month: date.getUTCMonth() + 1, day: date.getUTCDate() }
    }
    case "month": {
      const index = anchor.year * 12 + (anchor.month - 1) + n
      const year = Math.floor(index / 12)
      const month = index - year * 12 + 1
      return { ...anchor, year, month, day: Math.min(anchor.day, daysInMonth(year, month)) }
    }
    case "year": {
      const year = anchor.year + n
      return { ...anchor, year, day: Math.min(anchor.day, daysInMonth(year, anchor.month)) }
    }
  }
}

/** Slot `n` (n ≥ 0) of a recurring schedule; slot 0 is the start itself. Strictly increasing in n. */
const slotAt = (schedule: Recurring, n: number): number => {
  if (n <= 0) return schedule.startTs
  const { recurrence } = schedule
  if (recurrence._tag === "Interval") return schedule.startTs + n * recurrence.seconds
  return fromLocal(schedule.zone, calendarLocal(schedule.anchor, recurrence.unit, n))
}

/** A slot index near the one covering `ts` (off by at most one either way). */
const estimateIndex = (schedule: Recurring, ts: number): number => {
  const { recurrence, anchor } = schedule
  if (recurrence._tag === "Interval") return Math.floor((ts - schedule.startTs) / recurrence.seconds)
  const local = toLocal(schedule.zone, ts)
  switch (recurrence.unit) {
    case "day":
      return daysFromCivil(local.year, local.month, local.day) - daysFromCivil(anchor.year, anchor.month, anchor.day)
    case "week":
      return Math.floor(
        (daysFromCivil(local.year, local.month, local.day) - daysFromCivil(anchor.year, anchor.month, anchor.day)) / 7
      )
    case "month":
      return local.year * 12 + local.month - (anchor.year * 12 + anchor.month)
    case "year":
      return local.year - anchor.year
  }
}

/** Index of the latest slot at or before `ts`, or `undefined` when `ts` is before the start. */
const indexAtOrBefore = (schedule: Recurring, ts: number): number | undefined => {
  if (ts < schedule.startTs) return undefined
  let n = Math.max(0, estimateIndex(schedule, ts) + 1)
  while (n > 0 && slotAt(schedule, n) > ts) n--
  return n
}

/** The latest slot at or before `ts` (minutes), or `null` before the start. */
export const latestSlotAtOrBefore = (schedule: Recurring, ts: number): number | null => {
  const n = indexAtOrBefore(schedule, floorMinute(ts))
  return n === undefined ? null : slotAt(schedule, n)
}

/** The first slot at or after `ts` (minutes). */
export const firstSlotAtOrAfter = (schedule: Recurring, ts: number): number => {
  const threshold = Math.ceil(ts / 60) * 60
  const before = indexAtOrBefore(schedule, threshold - 1)
  return before === undefined ? schedule.startTs : slotAt(schedule, before + 1)
}

/** Every slot in `[fromTs, toTs]`, oldest first (bounded by `limit`). */
export const slotsBetween = (schedule: Recurring, fromTs: number, toTs: number, limit = 1_000): ReadonlyArray<number> => {
  const out: Array<number> = []
  let slot = firstSlotAtOrAfter(schedule, fromTs)
  let n = indexAtOrBefore(schedule, slot) ?? 0
  while (slot <= toTs && out.length < limit) {
    out.push(slot)
    n += 1
    slot = slotAt(schedule, n)
  }
  return out
}

// ---------------------------------------------------------------------------------------------
// The two questions the Engine asks.

const toNullableMinute = (ts: number | null | undefined): number | null =>
  typeof ts === "number" && Number.isFinite(ts) ? floorMinute(ts) : null

/**
 * `next_run_ts` for the job summary (legacy `compute_next_run`): all times in minutes;
 * - `immediately`: now if it never ran, else never (`null`);
 * - `once`: the start if it never ran (even when past), else never;
 * - recurring: the first slot at or after now that is after the last occurrence (missed slots
 *   are skipped, so the answer is never in the past).
 * An invalid schedule (unknown type, missing start, unknown zone) has no next run.
 */
export const nextRunTs = (
  schedule: JobSchedule,
  lastOccurrenceTs: number | null | undefined,
  nowTs: number,
  options: ScheduleOptions = {}
): number | null => {
  const compiled = compileSchedule(schedule, options)
  if (compiled._tag === "Problem") return null
  return nextRunOf(compiled.schedule, lastOccurrenceTs, nowTs)
}

/** {@link nextRunTs} on an already compiled schedule. */
const nextRunOf = (schedule: CompiledSchedule, lastOccurrenceTs: number | null | undefined, nowTs: number): number | null => {
  const now = floorMinute(nowTs)
  const last = toNullableMinute(lastOccurrenceTs)
  switch (schedule._tag) {
    case "Immediately":
      return last === null ? now : null
    case "Once":
      return last === null ? schedule.startTs : null
    case "Recurring":
      return firstSlotAtOrAfter(schedule, last === null ? now : Math.max(now, last + 60))
  }
}

/** The job's newest occurrence (`MAX(scheduled_ts)` of its runs) and whether it is finished. */
export interface LatestOccurrence {
  readonly scheduledTs: number
  /** Every target reached a terminal status (see {@link isOccurrenceComplete}). */
  readonly complete: boolean
}

type OccurrenceDecision =
  /** Work on this occurrence now: create missing run rows for it (one per target, at most once). */
  | { readonly _tag: "Due"; readonly occurrenceTs: number; readonly reason: "first" | "next" | "continue" }
  /** Nothing to do this tick. */
  | {
    readonly _tag: "Idle"
    readonly reason: "before_start" | "already_done" | "missed_window" | "finished"
  }
  /** The stored schedule cannot fire (unknown type, no start, unknown zone); log it. */
  | { readonly _tag: "Invalid"; readonly problem: ScheduleProblem }

interface OccurrenceQuery {
  readonly schedule: JobSchedule
  readonly latest: LatestOccurrence | null
  /** The job's `created_at`: the occurrence of an `immediately` job. */
  readonly createdAt: number | null | undefined
  readonly nowTs: number
  readonly windowSeconds?: number | undefined
  readonly defaultTimeZone?: string | undefined
}

/**
 * The scheduler's per-tick question (legacy §4.5, fixed): which occurrence to work on, if any.
 * - An unfinished latest occurrence is continued regardless of the window (offline targets wait
 *   until they come online or expire).
 * - Otherwise the newest slot at or before now that is after the latest occurrence is due if it is
 *   at most `windowSeconds` old; older slots are skipped, never replayed.
 * - `immediately` fires at `created_at`, `once` at its start, each only once and within the window.
 */
export const occurrenceToWorkOn = (query: OccurrenceQuery): OccurrenceDecision => {
  const compiled = compileSchedule(query.schedule, { defaultTimeZone: query.defaultTimeZone })
  if (compiled._tag === "Problem") return { _tag: "Invalid", problem: compiled.problem }
  return occurrenceOf(compiled.schedule, query)
}

/** {@link occurrenceToWorkOn} on an already compiled schedule. */
export const occurrenceOf = (
  schedule: CompiledSchedule,
  query: Omit<OccurrenceQuery, "schedule" | "defaultTimeZone">
): OccurrenceDecision => {
  const window = query.windowSeconds ?? FIRING_WINDOW_SECONDS
  const now = floorMinute(query.nowTs)
  const { latest } = query
  if (latest !== null && !latest.complete) {
    return { _tag: "Due", occurrenceTs: floorMinute(latest.scheduledTs), reason: "continue" }
  }
  const decide = (slot: number | null, reason: "first" | "next"): OccurrenceDecision => {
    if (slot === null || now < slot) return { _tag: "Idle", reason: "before_start" }
    if (latest !== null && slot <= floorMinute(latest.scheduledTs)) return { _tag: "Idle", reason: "already_done" }
    if (now - slot > window) return { _tag: "Idle", reason: "missed_window" }
    return { _tag: "Due", occurrenceTs: slot, reason }
  }
  switch (schedule._tag) {
    case "Immediately":
      if (latest !== null) return { _tag: "Idle", reason: "finished" }
      return decide(toNullableMinute(query.createdAt) ?? now, "first")
    case "Once":
      if (latest !== null) return { _tag: "Idle", reason: "finished" }
      return decide(schedule.startTs, "first")
    case "Recurring":
      return decide(latestSlotAtOrBefore(schedule, now), latest === null ? "first" : "next")
  }
}

/**
 * While the latest occurrence is finished (or there is none), the first minute at which
 * {@link occurrenceOf} could answer Due: before it, every tick is Idle. Lets the scheduler skip the
 * calendar arithmetic for the jobs that are not due (nearly all of them, nearly every minute).
 * `Infinity` when nothing will ever be due again.
 */
export const quietUntil = (schedule: CompiledSchedule, latestOccurrenceTs: number | null, createdAt: number | null | undefined): number => {
  switch (schedule._tag) {
    case "Immediately":
      return latestOccurrenceTs !== null ? Infinity : (toNullableMinute(createdAt) ?? -Infinity)
    case "Once":
      return latestOccurrenceTs !== null ? Infinity : schedule.startTs
    case "Recurring": {
      if (latestOccurrenceTs === null) return schedule.startTs
      const last = floorMinute(latestOccurrenceTs)
      return nextRunOf(schedule, last, last + 60) ?? Infinity
    }
  }
}
