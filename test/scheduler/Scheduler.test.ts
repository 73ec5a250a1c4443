// The scheduler on the TestClock, on a real SQLite file, with the realtime seam faked
// (`JobChannels.Test` records deliveries): firing windows, skipped slots, expiry, timeouts,
// retention, Failed is terminal, exactly once across overlapping ticks, two Engines and a restart,
// and the minute-boundary loop itself. spec: realtime-jobs.md §4.4–§4.7
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as PubSub from "effect/PubSub"
import * as Queue from "effect/Queue"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import * as path from "node:path"
import { EngineConfig } from "../../src/layers/Config.ts"
import { applyMigrations } from "../../src/layers/Migrations.ts"
import { SqlLive } from "../../src/layers/Sql.ts"
import { LOST_RESULT_ERROR, LOST_RESULT_SECONDS, Scheduler } from "../../src/scheduler/Scheduler.ts"
import { Assemblies } from "../../src/services/assemblies/Assemblies.ts"
import { Audit } from "../../src/services/audit/Audit.ts"
import { emptyChannelsState, JobChannels, type TestChannelsState } from "../../src/services/jobs/JobChannels.ts"
import { JobResults } from "../../src/services/jobs/JobResults.ts"
import { JobsCore } from "../../src/app/capabilities.ts"
import { ScheduledJobs } from "../../src/services/jobs/ScheduledJobs.ts"
import { JobCreate, JobReport } from "../../src/services/jobs/requests.ts"
import { KeyMaterial } from "../../src/layers/keys/KeyMaterial.ts"
import { tempRoot } from "../support/engine.ts"
import { sql } from "../support/enrollment.ts"
import { writeScript } from "../support/jobs.ts"

const T0 = Date.parse("2025-03-10T12:00:00Z")
const MIN = 60_000
const s = (ms: number) => Math.floor(ms / 1000)
const actor = { username: "tester" }

const servicesAt = (root: string, state: Ref.Ref<TestChannelsState>, env: Record<string, string> = {}) =>
  JobsCore.pipe(
    Layer.provideMerge(JobChannels.Test(state)),
    Layer.provideMerge(Assemblies.at(path.join(root, "Assemblies"))),
    Layer.provideMerge(KeyMaterial.Test),
    Layer.provideMerge(Audit.Default),
    Layer.provideMerge(Layer.effectDiscard(applyMigrations)),
    Layer.provideMerge(SqlLive),
    Layer.provideMerge(EngineConfig.forRoot(root, env)),
    Layer.orDie
  )

type Services = Layer.Layer.Success<ReturnType<typeof servicesAt>>

interface World {
  readonly root: string
  readonly db: string
  readonly state: Ref.Ref<TestChannelsState>
  /** Run `effect` against one Engine's services on this root (a fresh build each call = a restart). */
  readonly engine: <A, E>(effect: Effect.Effect<A, E, Services | Scope.Scope>) => Effect.Effect<A, E>
}

const world = (options: { readonly online?: ReadonlyArray<string>; readonly env?: Record<string, string> } = {}) =>
  Effect.gen(function*() {
    const root = tempRoot("borealis-sched-")
    writeScript(root, "hello.json", "Write-Output 'hello'")
    const online = options.online ?? ["host-a"]
    const state = yield* Ref.make<TestChannelsState>({
      ...emptyChannelsState,
      online,
      sockets: online.map((hostname) => ({ hostname, mode: "system" as const }))
    })
    const layer = servicesAt(root, state, options.env)
    return {
      root,
      db: path.join(root, "database.db"),
      state,
      engine: <A, E>(effect: Effect.Effect<A, E, Services | Scope.Scope>) => Effect.scoped(Effect.provide(effect, layer))
    } satisfies World
  })

// Bodies and reports as the edges decode them.
const jobBody = Schema.decodeUnknownSync(JobCreate)
const jobReport = Schema.decodeUnknownSync(JobReport)

const createJob = (body: Record<string, unknown>) =>
  Effect.flatMap(ScheduledJobs, (jobs) =>
    jobs.create(jobBody({ name: "job", components: [{ type: "script", path: "Scripts/hello.json" }], targets: ["host-a"], ...body }), actor))

const tickAt = (ms: number) =>
  Effect.gen(function*() {
    yield* TestClock.setTime(ms)
    return yield* (yield* Scheduler).tick()
  })

const runsOf = (w: World, jobId: number) =>
  sql<{ id: number; target_hostname: string; scheduled_ts: number; status: string; error: string | null; started_ts: number | null; finished_ts: number | null }>(
    w.db,
    "SELECT id, target_hostname, scheduled_ts, status, error, started_ts, finished_ts FROM scheduled_job_runs WHERE job_id = ? ORDER BY scheduled_ts, id",
    jobId
  )

const sentRuns = (w: World) => Effect.map(Ref.get(w.state), (st) => st.sent.filter((x) => x.event === "quick_job_run").map((x) => x.payload as any))

const reportSuccess = (activityId: number) =>
  Effect.flatMap(JobResults, (r) => r.report({ _tag: "Device", guid: "GUID-HOST-A", hostname: "host-a" }, jobReport({ job_id: activityId, status: "Success", stdout: "ok" }), "result"))

describe("occurrence selection", () => {
  it.effect("a slot fires within its 5-minute window, once; the next slot after the occurrence is done", () =>
    Effect.gen(function*() {
      const w = yield* world()
      yield* w.engine(Effect.gen(function*() {
        yield* TestClock.setTime(T0 - 10 * MIN)
        const { job } = yield* createJob({ schedule: { type: "every_5_minutes", start: new Date(T0).toISOString() } })
        expect((yield* tickAt(T0 - MIN)).started).toBe(0) // before the start
        expect((yield* tickAt(T0 + 4 * MIN + 59_000)).started).toBe(1) // 4:59 late: still in the window
        expect((yield* tickAt(T0 + 4 * MIN + 59_000)).started).toBe(0) // same minute again: nothing
        const [first] = yield* sentRuns(w)
        expect(first.context).toMatchObject({ scheduled_job_id: job.id, scheduled_ts: s(T0) })
        // Still Running: the next slot waits for this occurrence.
        expect((yield* tickAt(T0 + 6 * MIN)).started).toBe(0)
        yield* reportSuccess(first.job_id)
        expect((yield* tickAt(T0 + 6 * MIN)).started).toBe(1)
        expect(runsOf(w, job.id).map((r) => [r.scheduled_ts, r.status])).toEqual([[s(T0), "Success"], [s(T0 + 5 * MIN), "Running"]])
      }))
    }))

  it.effect("a once job whose start is more than 5 minutes past never fires; immediately fires at created_at", () =>
    Effect.gen(function*() {
      const w = yield* world()
      yield* w.engine(Effect.gen(function*() {
        yield* TestClock.setTime(T0)
        const late = (yield* createJob({ schedule: { type: "once", start: new Date(T0 - 6 * MIN).toISOString() } })).job
        const soon = (yield* createJob({ schedule: { type: "immediately" } })).job
        expect((yield* tickAt(T0 + 30_000)).started).toBe(1)
        expect(runsOf(w, late.id)).toEqual([])
        expect(runsOf(w, soon.id).map((r) => r.scheduled_ts)).toEqual([s(T0)])
        // an immediately job never fires twice
        yield* reportSuccess((yield* sentRuns(w))[0].job_id)
        expect((yield* tickAt(T0 + 2 * MIN)).started).toBe(0)
      }))
    }))

  it.effect("slots missed while the scheduler was down are skipped, not replayed", () =>
    Effect.gen(function*() {
      const w = yield* world()
      yield* w.engine(Effect.gen(function*() {
        yield* TestClock.setTime(T0)
        const { job } = yield* createJob({ schedule: { type: "every_5_minutes", start: new Date(T0).toISOString() } })
        yield* tickAt(T0)
        yield* reportSuccess((yield* sentRuns(w))[0].job_id)
        // down from 12:01 to 12:23: slots 12:05, 12:10, 12:15 are gone; 12:20 is 3 minutes old
        expect((yield* tickAt(T0 + 23 * MIN)).started).toBe(1)
        expect(runsOf(w, job.id).map((r) => r.scheduled_ts)).toEqual([s(T0), s(T0 + 20 * MIN)])
      }))
    }))

  it.effect("daily in the job's IANA zone: 09:00 Europe/Berlin is 08:00Z in winter and 07:00Z in summer", () =>
    Effect.gen(function*() {
      const w = yield* world()
      yield* w.engine(Effect.gen(function*() {
        const march = Date.parse("2025-03-28T07:00:00Z")
        yield* TestClock.setTime(march)
        const { job } = yield* createJob({ schedule: { type: "daily", start: "2025-03-28T09:00:00" }, timezone: "Europe/Berlin" })
        expect(job.timezone).toBe("Europe/Berlin")
        expect(job.start_ts).toBe(s(Date.parse("2025-03-28T08:00:00Z")))
        expect((yield* tickAt(Date.parse("2025-03-28T08:00:00Z"))).started).toBe(1)
        yield* reportSuccess((yield* sentRuns(w))[0].job_id)
        // DST starts on Sunday 30 March: Monday's 09:00 is 07:00Z
        expect((yield* tickAt(Date.parse("2025-03-31T07:00:00Z"))).started).toBe(1)
        expect(runsOf(w, job.id).map((r) => new Date(r.scheduled_ts * 1000).toISOString())).toEqual([
          "2025-03-28T08:00:00.000Z",
          "2025-03-31T07:00:00.000Z"
        ])
      }))
    }))
})

describe("expiry, timeouts, failures", () => {
  it.effect("an offline target waits, then is Expired 'Device offline' at occurrence + expiration", () =>
    Effect.gen(function*() {
      const w = yield* world({ online: [] })
      yield* w.engine(Effect.gen(function*() {
        yield* TestClock.setTime(T0)
        const { job } = yield* createJob({ schedule: { type: "every_hour", start: new Date(T0).toISOString() }, duration: { expiration: "30m" } })
        yield* tickAt(T0)
        expect(runsOf(w, job.id)).toEqual([expect.objectContaining({ scheduled_ts: s(T0), status: "Pending", started_ts: null })])
        yield* tickAt(T0 + 29 * MIN)
        expect(runsOf(w, job.id).map((r) => r.status)).toEqual(["Pending"])
        expect((yield* tickAt(T0 + 30 * MIN)).expired).toBe(1)
        expect(runsOf(w, job.id)).toEqual([
          expect.objectContaining({ scheduled_ts: s(T0), status: "Expired", error: "Device offline", started_ts: null, finished_ts: s(T0 + 30 * MIN) })
        ])
        expect((yield* Ref.get(w.state)).operatorEvents.map((e) => e.event)).toEqual(["job_run_completed"])
        // the occurrence is complete: the next hour fires when the host is back
        yield* Ref.update(w.state, (st) => ({ ...st, online: ["host-a"], sockets: [{ hostname: "host-a", mode: "system" as const }] }))
        expect((yield* tickAt(T0 + 60 * MIN)).started).toBe(1)
      }))
    }))

  it.effect("a Running run past started_ts + expiration is Timed Out; without an expiration after LOST_RESULT_SECONDS", () =>
    Effect.gen(function*() {
      const w = yield* world()
      yield* w.engine(Effect.gen(function*() {
        yield* TestClock.setTime(T0)
        const windowed = (yield* createJob({ schedule: { type: "once", start: new Date(T0).toISOString() }, duration: { expiration: "1h" } })).job
        const open = (yield* createJob({ schedule: { type: "once", start: new Date(T0).toISOString() } })).job
        expect((yield* tickAt(T0)).started).toBe(2)
        expect((yield* tickAt(T0 + 59 * MIN)).timedOut).toBe(0)
        expect((yield* tickAt(T0 + 60 * MIN)).timedOut).toBe(1)
        expect(runsOf(w, windowed.id)).toEqual([expect.objectContaining({ status: "Timed Out", error: null, finished_ts: null })])
        expect(runsOf(w, open.id)[0]?.status).toBe("Running")
        expect((yield* tickAt(T0 + LOST_RESULT_SECONDS * 1000)).timedOut).toBe(1)
        expect(runsOf(w, open.id)).toEqual([expect.objectContaining({ status: "Timed Out", error: LOST_RESULT_ERROR })])
        // a late result is still recorded (the agent did finish)
        const late = (yield* sentRuns(w)).find((p) => p.context.scheduled_job_id === open.id)
        yield* reportSuccess(late.job_id)
        expect(runsOf(w, open.id)[0]?.status).toBe("Success")
      }))
    }))

  it.effect("Failed is terminal: a failed target does not stall the job (no socket for the run mode)", () =>
    Effect.gen(function*() {
      const w = yield* world()
      yield* Ref.update(w.state, (st) => ({ ...st, sockets: [{ hostname: "host-a", mode: "currentuser" as const }] }))
      yield* w.engine(Effect.gen(function*() {
        yield* TestClock.setTime(T0)
        const { job } = yield* createJob({ schedule: { type: "every_5_minutes", start: new Date(T0).toISOString() } })
        yield* tickAt(T0)
        const message = "No system agent socket is registered for host host-a; unable to dispatch scheduled job."
        expect(runsOf(w, job.id)).toEqual([expect.objectContaining({ status: "Failed", error: message })])
        expect(sql(w.db, "SELECT status, stderr FROM activity_history")).toEqual([{ status: "Failed", stderr: message }])
        expect((yield* tickAt(T0 + 5 * MIN)).started).toBe(1)
        const st = yield* Ref.get(w.state)
        expect(st.operatorEvents.map((e) => [e.event, (e.payload as any).change ?? (e.payload as any).status])).toEqual([
          ["job_run_started", "Running"],
          ["device_activity_changed", "updated"],
          ["job_run_completed", "Failed"],
          ["job_run_started", "Running"],
          ["device_activity_changed", "updated"],
          ["job_run_completed", "Failed"]
        ])
      }))
    }))

  it.effect("a current_user job goes to the interactive socket only", () =>
    Effect.gen(function*() {
      const w = yield* world()
      yield* Ref.update(w.state, (st) => ({ ...st, sockets: [{ hostname: "host-a", mode: "system" as const }, { hostname: "HOST-A", mode: "currentuser" as const }] }))
      yield* w.engine(Effect.gen(function*() {
        yield* TestClock.setTime(T0)
        yield* createJob({ schedule: { type: "immediately" }, execution_context: "current_user" })
        yield* tickAt(T0)
        const sent = (yield* Ref.get(w.state)).sent
        expect(sent.map((x) => [x.event, x.mode, (x.payload as any).run_mode])).toEqual([["quick_job_run", "currentuser", "current_user"]])
      }))
    }))
})

describe("several components", () => {
  it.effect("the run is final when every activity is, Failed if one failed", () =>
    Effect.gen(function*() {
      const w = yield* world()
      writeScript(w.root, "second.json", "Write-Output 2")
      yield* w.engine(Effect.gen(function*() {
        yield* TestClock.setTime(T0)
        const { job } = yield* createJob({
          schedule: { type: "immediately" },
          components: [{ type: "script", path: "Scripts/hello.json" }, { type: "script", path: "Scripts/second.json" }]
        })
        yield* tickAt(T0)
        const [a, b] = yield* sentRuns(w)
        expect([a.script_path, b.script_path]).toEqual(["Scripts/hello.json", "Scripts/second.json"])
        expect(a.context.scheduled_job_run_id).toBe(b.context.scheduled_job_run_id)
        yield* reportSuccess(a.job_id)
        expect(runsOf(w, job.id).map((r) => r.status)).toEqual(["Running"])
        yield* Effect.flatMap(JobResults, (r) => r.report({ _tag: "Device", guid: "GUID-HOST-A", hostname: "host-a" }, jobReport({ job_id: b.job_id, status: "Failed", stderr: "x" }), "result"))
        expect(runsOf(w, job.id).map((r) => r.status)).toEqual(["Failed"])
        const completed = (yield* Ref.get(w.state)).operatorEvents.filter((e) => e.event === "job_run_completed")
        expect(completed.map((e) => (e.payload as any).status)).toEqual(["Failed"])
      }))
    }))
})

describe("retention", () => {
  it.effect("runs older than BOREALIS_JOB_HISTORY_DAYS go with their activity links; the activity history stays", () =>
    Effect.gen(function*() {
      const w = yield* world({ env: { BOREALIS_JOB_HISTORY_DAYS: "2" } })
      yield* w.engine(Effect.gen(function*() {
        yield* TestClock.setTime(T0)
        const { job } = yield* createJob({ schedule: { type: "daily", start: new Date(T0).toISOString() } })
        yield* tickAt(T0)
        yield* reportSuccess((yield* sentRuns(w))[0].job_id)
        yield* tickAt(T0 + 86_400_000)
        yield* reportSuccess((yield* sentRuns(w))[1].job_id)
        expect(sql(w.db, "SELECT count(*) AS n FROM scheduled_job_run_activity")).toEqual([{ n: 2 }])
        // day 3 + a minute: the first run (finished on day 0) is older than 2 days
        const report = yield* tickAt(T0 + 2 * 86_400_000 + MIN)
        expect(report.retentionDeleted).toBe(1)
        expect(runsOf(w, job.id).map((r) => r.scheduled_ts)).toEqual([s(T0 + 86_400_000), s(T0 + 2 * 86_400_000)])
        expect(sql(w.db, "SELECT count(*) AS n FROM scheduled_job_run_activity")).toEqual([{ n: 2 }])
        expect(sql(w.db, "SELECT count(*) AS n FROM activity_history")).toEqual([{ n: 3 }])
      }))
    }))
})

describe("exactly once per occurrence", () => {
  it.effect("overlapping ticks, two Engines on one database, and a restart dispatch each run once", () =>
    Effect.gen(function*() {
      const w = yield* world({ online: ["host-a", "host-b"] })
      const { job } = yield* w.engine(Effect.gen(function*() {
        yield* TestClock.setTime(T0)
        return yield* createJob({ schedule: { type: "every_5_minutes", start: new Date(T0).toISOString() }, targets: ["host-a", "host-b"] })
      }))
      // Two Engines (separate connections and schedulers) tick the same minute at once, twice each.
      const twice = w.engine(Effect.gen(function*() {
        yield* TestClock.setTime(T0)
        const scheduler = yield* Scheduler
        return yield* Effect.all([scheduler.tick(), scheduler.tick()], { concurrency: "unbounded" })
      }))
      const reports = yield* Effect.all([twice, twice], { concurrency: "unbounded" })
      expect(reports.flat().reduce((n, r) => n + r.started, 0)).toBe(2)
      expect((yield* sentRuns(w)).map((p) => p.target_hostname).sort()).toEqual(["host-a", "host-b"])
      // Restart: a new Engine on the same file, same minute — nothing new.
      const again = yield* w.engine(tickAt(T0 + 30_000))
      expect(again.started).toBe(0)
      expect(runsOf(w, job.id)).toHaveLength(2)
      expect(yield* sentRuns(w)).toHaveLength(2)
    }))
})

describe("the minute loop", () => {
  it.effect("ticks at start, then exactly on each minute boundary (effect/Cron on the TestClock)", () =>
    Effect.gen(function*() {
      const w = yield* world()
      yield* w.engine(Effect.gen(function*() {
        yield* TestClock.setTime(T0 + 30_000)
        const scheduler = yield* Scheduler
        const reports = yield* PubSub.subscribe(scheduler.reports)
        const fiber = yield* Effect.fork(scheduler.run)
        expect((yield* Queue.take(reports)).at).toBe(s(T0 + 30_000))
        expect(yield* scheduler.alive).toBe(true)
        yield* createJob({ schedule: { type: "once", start: new Date(T0 + MIN).toISOString() } })
        yield* TestClock.adjust("30 seconds")
        const first = yield* Queue.take(reports)
        expect(first.at).toBe(s(T0 + MIN))
        expect(first.started).toBe(1)
        yield* TestClock.adjust("59 seconds")
        expect(yield* Queue.size(reports)).toBe(0)
        yield* TestClock.adjust("1 second")
        expect((yield* Queue.take(reports)).at).toBe(s(T0 + 2 * MIN))
        yield* Fiber.interrupt(fiber)
        expect(yield* scheduler.alive).toBe(false)
      }))
    }))

  it.effect("a job that fails, or has unreadable components or an unknown schedule, does not stop the tick", () =>
    Effect.gen(function*() {
      const w = yield* world({ online: ["host-a", "host-b"] })
      yield* Ref.update(w.state, (st) => ({ ...st, failing: ["host-b"] }))
      yield* w.engine(Effect.gen(function*() {
        yield* TestClock.setTime(T0)
        const failing = (yield* createJob({ schedule: { type: "immediately" }, targets: ["host-b"] })).job
        const garbled = (yield* createJob({ schedule: { type: "immediately" } })).job
        const unknown = (yield* createJob({ schedule: { type: "immediately" } })).job
        const fine = (yield* createJob({ schedule: { type: "immediately" } })).job
        // Damage stored rows behind the API's back.
        sql(w.db, "UPDATE scheduled_jobs SET components_json = '{not json' WHERE id = ?", garbled.id)
        sql(w.db, "UPDATE scheduled_jobs SET schedule_type = 'fortnightly' WHERE id = ?", unknown.id)
        const report = yield* tickAt(T0)
        expect(report).toMatchObject({ jobs: 4, failedJobs: 1, started: 3 })
        expect(runsOf(w, garbled.id)).toEqual([expect.objectContaining({ status: "Failed", error: "No runnable activities were dispatched" })])
        expect(runsOf(w, unknown.id)).toEqual([])
        expect(runsOf(w, fine.id)).toEqual([expect.objectContaining({ status: "Running" })])
        // The failing job's run exists (at most once), stays Running and later times out.
        expect(runsOf(w, failing.id)).toEqual([expect.objectContaining({ status: "Running", target_hostname: "host-b" })])
        expect((yield* tickAt(T0 + MIN)).failedJobs).toBe(0)
      }))
    }))
})
