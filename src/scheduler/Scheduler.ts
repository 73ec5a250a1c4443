// The scheduler: a supervised fiber in the app scope that ticks on every minute boundary (effect/Cron)
// and runs the legacy tick with the spec's fixes. spec: realtime-jobs.md §4.5 (loop), §4.6
// (dispatch), §4.7 (statuses), §8
//
// Tick order: 1. timeouts (Running past started_ts + expiration → Timed Out), 2. retention
// (BOREALIS_JOB_HISTORY_DAYS; run links cascade), 3. per enabled job: which occurrence to work on
// (nextRun.ts: 5-minute firing window, missed slots skipped, Failed is terminal, calendar math in the
// job's IANA zone), then per target: online → a Running run and dispatch; offline past occurrence +
// expiration → Expired "Device offline"; otherwise a Pending run that starts when the device is back
// (the later Engine's snapshot rows: the legacy kept no row, so an occurrence whose targets were all
// offline in its first five minutes was silently dropped and never expired).
//
// Exactly once: a run is keyed by (job, target, occurrence) in SQLite (uq_runs_job_target_occurrence),
// and dispatch happens only after this process created the row, so a restart, an overlapping tick or
// a second Engine on the same database cannot dispatch an occurrence twice. Ticks in one process
// are also serialised.
//
// Beyond the legacy: a run still Running with no expiration window is Timed Out after
// LOST_RESULT_SECONDS (the agent stops a script at 3600 s), so a lost result cannot stall a
// recurring job forever.
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Cron from "effect/Cron"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as PubSub from "effect/PubSub"
import * as Ref from "effect/Ref"
import { EngineConfig } from "../layers/Config.ts"
import type { JobDefinition, JobManifest } from "../services/jobs/fabricator.ts"
import type { SourceText } from "../services/assemblies/source.ts"
import { JobChannels } from "../services/jobs/JobChannels.ts"
import { JobDispatch } from "../services/jobs/JobDispatch.ts"
import { storedComponents, storedTargets } from "../services/jobs/jobInput.ts"
import { JobsRepo, type LatestOccurrence, type OccurrenceRun, type ScheduleRow } from "../services/jobs/JobsRepo.ts"
import { M } from "../layers/metrics.ts"
import { SchedulerHealth } from "../services/ops/Readiness.ts"
import {
  type CompiledSchedule,
  compileSchedule,
  floorMinute,
  isOccurrenceComplete,
  isTerminalRunStatus,
  occurrenceOf,
  quietUntil,
  TERMINAL_RUN_STATUSES
} from "../services/jobs/schedule/nextRun.ts"
import { parseExpiration } from "../services/jobs/schedule/scheduleInput.ts"
import { serverTimeZone } from "../services/jobs/schedule/timeZone.ts"

/** Without an expiration window, how long a run may stay Running before it is Timed Out. */
export const LOST_RESULT_SECONDS = 3600 + 600
export const LOST_RESULT_ERROR = "No result from the agent"
const DEVICE_OFFLINE = "Device offline"
/** Due jobs processed at once (their library reads overlap; SQL is serialised anyway). */
const JOB_CONCURRENCY = 4
/**
 * A job whose dispatch hangs is abandoned for this tick (its runs are keyed; the next tick continues
 * with the targets it did not reach): 30 s, plus 50 ms per target for the very large ones.
 */
const jobTimeout = (targets: number) => Duration.millis(30_000 + 50 * targets)

export interface TickReport {
  /** The instant the tick evaluated (epoch seconds). */
  readonly at: number
  readonly durationMs: number
  readonly jobs: number
  readonly due: number
  readonly started: number
  readonly expired: number
  readonly timedOut: number
  readonly retentionDeleted: number
  readonly failedJobs: number
  /** Where the time went: timeouts, retention, jobs, occurrences, online, plan, work (ms). */
  readonly phasesMs: Readonly<Record<string, number>>
}

/** What happens to one target of a due occurrence this tick. */
type TargetAction =
  /** No run yet, online: a Running run, dispatched. */
  | { readonly _tag: "Start"; readonly target: string }
  /** No run yet, offline: a Pending run that waits for the device (later Engine). */
  | { readonly _tag: "Wait"; readonly target: string }
  /** No run yet, offline past occurrence + expiration. */
  | { readonly _tag: "Expire"; readonly target: string }
  /** Pending and now online: Running, dispatched. */
  | { readonly _tag: "Promote"; readonly target: string; readonly runId: number }
  /** Pending and still offline past occurrence + expiration. */
  | { readonly _tag: "ExpirePending"; readonly target: string; readonly runId: number }

interface DuePlan {
  readonly row: ScheduleRow
  readonly occurrenceTs: number
  readonly actions: ReadonlyArray<TargetAction>
}

interface ParsedJob {
  readonly source: Pick<ScheduleRow, "schedule_type" | "start_ts" | "timezone" | "targets_json">
  readonly key: string
  readonly compiled: { readonly _tag: "Ok"; readonly schedule: CompiledSchedule } | { readonly _tag: "Problem"; readonly problem: string }
  readonly targets: ReadonlyArray<string>
  /** For a finished latest occurrence (`latest`), no tick is due before `until` (see `quietUntil`). */
  quiet: { readonly latest: number | null; readonly until: number } | undefined
}

const TERMINAL_EXACT = new Set(TERMINAL_RUN_STATUSES)

/**
 * {@link isOccurrenceComplete} without allocating for the common small jobs (this runs for every
 * enabled job every minute): every target has a run in a terminal status.
 */
const occurrenceComplete = (targets: ReadonlyArray<string>, runs: ReadonlyArray<OccurrenceRun>): boolean => {
  if (runs.length < targets.length) return false
  if (targets.length > 8) return isOccurrenceComplete(targets, runs)
  for (const target of targets) {
    let done = false
    for (const run of runs) {
      const host = run.target_hostname
      if (host === null || (host !== target && host.toLowerCase() !== target.toLowerCase())) continue
      if (run.status !== null && (TERMINAL_EXACT.has(run.status) || isTerminalRunStatus(run.status))) {
        done = true
        break
      }
    }
    if (!done) return false
  }
  return true
}

export class Scheduler extends Effect.Service<Scheduler>()("borealis/Scheduler", {
  effect: Effect.gen(function*() {
    const repo = yield* JobsRepo
    const dispatch = yield* JobDispatch
    const channels = yield* JobChannels
    const config = yield* EngineConfig
    const defaultTimeZone = serverTimeZone()
    const lock = yield* Effect.makeSemaphore(1)
    const reports = yield* PubSub.sliding<TickReport>(16)
    const running = yield* Ref.make(false)
    const lastTickAt = yield* Ref.make(Option.none<number>())
    // Parsed targets and compiled schedules, reused while a job's stored text is unchanged.
    const parsed = new Map<number, ParsedJob>()
    const warned = new Set<string>()

    const parse = (row: ScheduleRow): ParsedJob => {
      const cached = parsed.get(row.id)
      if (
        cached !== undefined && cached.source.schedule_type === row.schedule_type && cached.source.start_ts === row.start_ts &&
        cached.source.timezone === row.timezone && cached.source.targets_json === row.targets_json
      ) return cached
      const entry: ParsedJob = {
        source: { schedule_type: row.schedule_type, start_ts: row.start_ts, timezone: row.timezone, targets_json: row.targets_json },
        key: `${row.schedule_type}/${row.start_ts}/${row.timezone}`,
        compiled: compileSchedule({ type: row.schedule_type ?? "immediately", startTs: row.start_ts, timeZone: row.timezone }, { defaultTimeZone }),
        targets: storedTargets(row),
        quiet: undefined
      }
      parsed.set(row.id, entry)
      return entry
    }

    const runEvent = dispatch.runEvent

    /** 1. Running runs past their window → Timed Out. */
    const timeouts = (now: number) =>
      Effect.gen(function*() {
        let count = 0
        for (const run of yield* repo.runningRuns) {
          const window = parseExpiration(run.expiration)
          const limit = window ?? LOST_RESULT_SECONDS
          if (run.started_ts === null || run.started_ts + limit > now) continue
          const changed = yield* repo.timeOutRun(run.run_id, window === null ? LOST_RESULT_ERROR : null, now)
          if (changed === 0) continue
          count++
          M.jobsCompleted.inc({ status: "Timed Out" })
          yield* runEvent("job_run_completed", {
            job_id: run.job_id,
            run_id: run.run_id,
            target: run.target_hostname ?? "<unassigned>",
            schedule_type: run.schedule_type ?? "",
            occurrence_ts: run.scheduled_ts,
            status: "Timed Out"
          })
        }
        return count
      })

    /** 3a. What each enabled job should do now (pure evaluation, no writes). */
    const plan = (rows: ReadonlyArray<ScheduleRow>, latest: ReadonlyMap<number, LatestOccurrence>, online: ReadonlySet<string>, now: number) => {
      const plans: Array<DuePlan> = []
      const invalid: Array<{ readonly id: number; readonly problem: string }> = []
      for (const row of rows) {
        const job = parse(row)
        if (job.compiled._tag === "Problem") {
          // Warn once per job and stored schedule, not every minute.
          const note = `${row.id}:${job.key}`
          if (!warned.has(note)) {
            warned.add(note)
            invalid.push({ id: row.id, problem: job.compiled.problem })
          }
          continue
        }
        const last = latest.get(row.id)
        const complete = last === undefined || occurrenceComplete(job.targets, last.runs)
        if (complete) {
          const latestTs = last?.scheduledTs ?? null
          if (job.quiet === undefined || job.quiet.latest !== latestTs) {
            job.quiet = { latest: latestTs, until: quietUntil(job.compiled.schedule, latestTs, row.created_at) }
          }
          if (now < job.quiet.until) continue
        }
        const decision = occurrenceOf(job.compiled.schedule, {
          latest: last === undefined ? null : { scheduledTs: last.scheduledTs, complete },
          createdAt: row.created_at,
          nowTs: now
        })
        if (decision._tag !== "Due") continue
        const occurrenceTs = decision.occurrenceTs
        const existing = new Map<string, { readonly id: number; readonly status: string | null }>()
        if (last !== undefined && floorMinute(last.scheduledTs) === occurrenceTs) {
          for (const r of last.runs) {
            const key = (r.target_hostname ?? "").toLowerCase()
            if (!existing.has(key)) existing.set(key, { id: r.id, status: r.status })
          }
        }
        const window = parseExpiration(row.expiration)
        const expiredNow = window !== null && occurrenceTs + window <= now
        const actions: Array<TargetAction> = []
        for (const target of job.targets) {
          const key = target.toLowerCase()
          const run = existing.get(key)
          const isOnline = online.has(key)
          if (run === undefined) {
            actions.push({ _tag: isOnline ? "Start" : expiredNow ? "Expire" : "Wait", target })
          } else if (run.status === "Pending") {
            if (isOnline) actions.push({ _tag: "Promote", target, runId: run.id })
            else if (expiredNow) actions.push({ _tag: "ExpirePending", target, runId: run.id })
          }
        }
        if (actions.length > 0) plans.push({ row, occurrenceTs, actions })
      }
      return { plans, invalid }
    }

    /** 3b. Create or advance the runs of one due job, dispatching those that start. */
    const work = (due: DuePlan, now: number, counts: { started: number; expired: number }, sources: Map<string, SourceText>) =>
      Effect.gen(function*() {
        const { occurrenceTs } = due
        const found = yield* repo.getJob(due.row.id)
        // Deleted or disabled since the tick read it: nothing to do.
        if (Option.isNone(found) || found.value.enabled !== true) return
        const row = found.value
        const scheduleType = row.schedule_type ?? "immediately"
        const event = (runId: number, target: string, status: string) => ({
          job_id: row.id,
          run_id: runId,
          target,
          schedule_type: scheduleType,
          occurrence_ts: occurrenceTs,
          status
        })
        const insert = (target: string, status: string, fields: { startedTs: number | null; finishedTs: number | null; error: string | null }) =>
          repo.insertRun({ jobId: row.id, target, scheduledTs: occurrenceTs, status, now, ...fields })
        let manifest: JobManifest | undefined
        const components = storedComponents(row)
        const start = (runId: number, target: string) =>
          Effect.gen(function*() {
            counts.started++
            yield* runEvent("job_run_started", event(runId, target, "Running"))
            if (manifest === undefined) {
              const definition: JobDefinition = { id: row.id, name: row.name, execution_context: row.execution_context, targets: [], components }
              manifest = yield* dispatch.manifestFor(definition, occurrenceTs, sources)
            }
            yield* dispatch.dispatchRun({ jobId: row.id, runId, scheduleType, occurrenceTs, hostname: target, manifest, components, credentialId: row.credential_id })
          })
        const expire = (runId: number, target: string) =>
          Effect.gen(function*() {
            counts.expired++
            M.jobsCompleted.inc({ status: "Expired" })
            yield* runEvent("job_run_completed", event(runId, target, "Expired"))
          })
        // Every write below is conditional (unique key, or `WHERE status = 'Pending'`): when another
        // tick or process got there first, it owns the run and this one does nothing.
        for (const action of due.actions) {
          switch (action._tag) {
            case "Start": {
              const runId = yield* insert(action.target, "Running", { startedTs: now, finishedTs: null, error: null })
              if (Option.isSome(runId)) yield* start(runId.value, action.target)
              break
            }
            case "Wait":
              yield* insert(action.target, "Pending", { startedTs: null, finishedTs: null, error: null })
              break
            case "Expire": {
              const runId = yield* insert(action.target, "Expired", { startedTs: null, finishedTs: now, error: DEVICE_OFFLINE })
              if (Option.isSome(runId)) yield* expire(runId.value, action.target)
              break
            }
            case "Promote":
              if ((yield* repo.promotePendingRun(action.runId, now)) > 0) yield* start(action.runId, action.target)
              break
            case "ExpirePending":
              if ((yield* repo.expirePendingRun(action.runId, DEVICE_OFFLINE, now)) > 0) yield* expire(action.runId, action.target)
              break
          }
        }
      })

    /** One tick at `atMs` (default: now). Serialised: a tick that overlaps another waits for it. */
    const tick = (atMs?: number) =>
      lock.withPermits(1)(
        Effect.gen(function*() {
          const begun = performance.now()
          const clockMs = yield* Clock.currentTimeMillis
          const now = Math.floor(Math.max(clockMs, atMs ?? 0) / 1000)
          if (atMs !== undefined) M.schedulerTickLag.set(Math.max(0, clockMs - atMs) / 1000)
          const phases: Record<string, number> = {}
          let mark = begun
          const lap = (name: string) => {
            const t = performance.now()
            phases[name] = Math.round((t - mark) * 1000) / 1000
            mark = t
          }
          const timedOut = yield* timeouts(now)
          lap("timeouts")
          const retentionDeleted = yield* repo.deleteRunsBefore(now - config.jobHistoryDays * 86_400)
          lap("retention")
          const rows = yield* repo.enabledSchedules
          lap("jobs")
          const latest = yield* repo.latestOccurrences
          lap("occurrences")
          const online = yield* channels.onlineHostnames
          lap("online")
          const { invalid, plans } = plan(rows, latest, online, now)
          lap("plan")
          for (const bad of invalid) {
            yield* Effect.logWarning("scheduled-job-invalid").pipe(Effect.annotateLogs({ job_id: bad.id, problem: bad.problem }))
          }
          // Counted as they happen, so a job that fails half-way still shows what it did.
          const counts = { started: 0, expired: 0 }
          // Library files read at most once per tick, shared by every job that names them.
          const sources = new Map<string, SourceText>()
          let failedJobs = 0
          yield* Effect.forEach(
            plans,
            (due) =>
              work(due, now, counts, sources).pipe(
                Effect.timeoutFail({
                  duration: jobTimeout(due.actions.length),
                  onTimeout: () => new Error(`job ${due.row.id} took longer than ${Duration.format(jobTimeout(due.actions.length))}`)
                }),
                // One job's failure never stops the tick.
                Effect.catchAllCause((cause) =>
                  Cause.isInterruptedOnly(cause)
                    ? Effect.failCause(cause)
                    : Effect.sync(() => void failedJobs++).pipe(
                      Effect.zipRight(Effect.logError("scheduled-job-failed", cause).pipe(Effect.annotateLogs({ job_id: due.row.id })))
                    )
                ),
                Effect.withSpan("Scheduler.job", { attributes: { job_id: due.row.id } })
              ),
            { concurrency: JOB_CONCURRENCY, discard: true }
          )
          lap("work")
          // Forget cached parses of jobs that no longer exist or were disabled.
          if (parsed.size > rows.length) {
            const live = new Set(rows.map((r) => r.id))
            for (const id of parsed.keys()) if (!live.has(id)) parsed.delete(id)
          }
          const report: TickReport = {
            at: now,
            durationMs: Math.round((performance.now() - begun) * 1000) / 1000,
            jobs: rows.length,
            due: plans.length,
            started: counts.started,
            expired: counts.expired,
            timedOut,
            retentionDeleted,
            failedJobs,
            phasesMs: phases
          }
          M.schedulerTickDuration.observe(report.durationMs / 1000)
          yield* Ref.set(lastTickAt, Option.some(yield* Clock.currentTimeMillis))
          yield* PubSub.publish(reports, report)
          if (counts.started + counts.expired + timedOut + retentionDeleted + failedJobs > 0) {
            yield* Effect.logInfo("scheduler-tick").pipe(Effect.annotateLogs({ ...report }))
          }
          return report
        }).pipe(Effect.withSpan("Scheduler.tick"))
      )

    const everyMinute = Cron.unsafeParse("* * * * *", "UTC")

    /**
     * The production loop: tick now, then at every minute boundary. A tick that fails is logged and
     * the loop goes on; a slow tick makes the loop skip to the next boundary.
     */
    const loop = Effect.gen(function*() {
      let slotMs: number | undefined
      for (;;) {
        yield* tick(slotMs).pipe(
          Effect.catchAllCause((cause) => (Cause.isInterruptedOnly(cause) ? Effect.failCause(cause) : Effect.logError("scheduler-tick-failed", cause)))
        )
        const nowMs = yield* Clock.currentTimeMillis
        const next = Cron.next(everyMinute, new Date(nowMs)).getTime()
        slotMs = next
        yield* Effect.sleep(Duration.millis(Math.max(0, next - nowMs)))
      }
    })

    const run = Ref.set(running, true).pipe(
      Effect.zipRight(loop),
      Effect.ensuring(Ref.set(running, false))
    )

    return {
      tick,
      run,
      /** Every completed tick's report (sliding: a slow subscriber sees the newest). */
      reports,
      /** Whether the minute loop is running (readiness). */
      alive: Ref.get(running),
      /** Epoch ms when the last tick completed. */
      lastTickAt: Ref.get(lastTickAt)
    } as const
  })
}) {}

/**
 * The scheduler fiber, forked in the app scope (interrupted on shutdown, never left running); it
 * reports itself to readiness as `SchedulerHealth`.
 */
export const SchedulerLive = Layer.scoped(
  SchedulerHealth,
  Effect.gen(function*() {
    const scheduler = yield* Scheduler
    yield* Effect.forkScoped(scheduler.run)
    yield* Effect.logInfo("scheduler-started")
    return { alive: scheduler.alive, lastTickAt: scheduler.lastTickAt }
  })
)
