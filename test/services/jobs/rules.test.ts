// The rules above the jobs repository, without SQLite (JobsRepo.Test gives each case the rows it
// needs; any other query would die): who may change a job and in which order a PUT is answered
// (404, 403, then 400), toggling, and when an Ansible recap or a job result is taken.
// spec: realtime-jobs.md §5.2, §5.3, §2.4
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { EngineConfig } from "../../../src/layers/Config.ts"
import { Assemblies } from "../../../src/services/assemblies/Assemblies.ts"
import { Audit } from "../../../src/services/audit/Audit.ts"
import { emptyChannelsState, JobChannels, type TestChannelsState } from "../../../src/services/jobs/JobChannels.ts"
import { JobResults, RECAP_LIMIT, type Reporter } from "../../../src/services/jobs/JobResults.ts"
import { type JobRow, JobsRepo, type RecapRow } from "../../../src/services/jobs/JobsRepo.ts"
import { jobRow } from "./fixtures.ts"
import { AnsibleRecap, JobReport, JobToggle, JobUpdate } from "../../../src/services/jobs/requests.ts"
import { ScheduledJobs } from "../../../src/services/jobs/ScheduledJobs.ts"

const root = fs.mkdtempSync(path.join(os.tmpdir(), "borealis-job-rules-"))

const job = jobRow({ id: 7, created_by: "Alice" })

const alice = { username: "alice", role: "User" }
const bob = { username: "bob", role: "User" }
const admin = { username: "root", role: "Admin" }
const cli = { username: "cli:root" }

const jobUpdate = Schema.decodeUnknownSync(JobUpdate)
const jobToggle = Schema.decodeUnknownSync(JobToggle)
const recap = Schema.decodeUnknownSync(AnsibleRecap)
const jobReport = Schema.decodeUnknownSync(JobReport)

const channels = Layer.unwrapEffect(Effect.map(Ref.make<TestChannelsState>(emptyChannelsState), JobChannels.Test))

/** ScheduledJobs over a repository holding `row` (or nothing); `updates` records what was written. */
const scheduledJobs = (row: JobRow | undefined, updates: Array<unknown> = []) =>
  ScheduledJobs.Default.pipe(
    Layer.provide(JobsRepo.Test({
      getJob: (id) => Effect.succeed(row !== undefined && id === row.id ? Option.some(row) : Option.none()),
      latestOccurrenceOf: () => Effect.succeed(Option.none()),
      updateJob: (id, columns) => Effect.sync(() => updates.push({ id, ...columns })).pipe(Effect.as(row !== undefined && id === row.id ? 1 : 0))
    })),
    Layer.provide([channels, Assemblies.at(path.join(root, "Assemblies")), Audit.Test, EngineConfig.forRoot(root)]),
    Layer.orDie
  )

const failure = <A, E extends { readonly _tag: string; readonly error: string }>(effect: Effect.Effect<A, E>) =>
  Effect.map(Effect.flip(effect), (e) => ({ tag: e._tag, error: e.error }))

describe("who may change a job, and the order of a PUT's answers", () => {
  it.effect("404 for an unknown or non-numeric id, before the body is judged", () =>
    Effect.gen(function*() {
      const jobs = yield* ScheduledJobs
      const bad = jobUpdate({ name: 42 })
      expect(yield* failure(jobs.update("8", bad, admin))).toEqual({ tag: "NotFound", error: "not found" })
      expect(yield* failure(jobs.update("abc", bad, admin))).toEqual({ tag: "NotFound", error: "not found" })
      expect(yield* failure(jobs.toggle("-1", jobToggle({}), admin))).toEqual({ tag: "NotFound", error: "not found" })
    }).pipe(Effect.provide(scheduledJobs(job))))

  it.effect("403 for a User that did not create the job, before the body is judged; nothing written", () => {
    const updates: Array<unknown> = []
    return Effect.gen(function*() {
      const jobs = yield* ScheduledJobs
      expect(yield* failure(jobs.update("7", jobUpdate({ name: 42 }), bob))).toEqual({ tag: "Forbidden", error: "forbidden" })
      expect(yield* failure(jobs.toggle("7", jobToggle({ enabled: false }), bob))).toEqual({ tag: "Forbidden", error: "forbidden" })
      expect(yield* failure(jobs.delete("7", bob))).toEqual({ tag: "Forbidden", error: "forbidden" })
      expect(updates).toEqual([])
    }).pipe(Effect.provide(scheduledJobs(job, updates)))
  })

  it.effect("the creator (any case), an Admin and the CLI change it; then the body is judged", () => {
    const updates: Array<unknown> = []
    return Effect.gen(function*() {
      const jobs = yield* ScheduledJobs
      expect(yield* failure(jobs.update("7", jobUpdate({ name: 42 }), alice))).toEqual({ tag: "BadRequest", error: "name must be text" })
      expect(yield* failure(jobs.update("7", jobUpdate({}), alice))).toEqual({ tag: "BadRequest", error: "no fields to update" })
      for (const actor of [alice, admin, cli]) yield* jobs.update("7", jobUpdate({ name: ` by ${actor.username} ` }), actor)
      yield* jobs.toggle("7", jobToggle({ enabled: 0 }), alice)
      yield* jobs.toggle("7", jobToggle({}), admin)
      expect(updates).toEqual([
        { id: 7, name: "by alice" },
        { id: 7, name: "by root" },
        { id: 7, name: "by cli:root" },
        { id: 7, enabled: 0 },
        { id: 7, enabled: 1 }
      ])
      const audit = yield* (yield* Audit).query({ limit: 10, offset: 0 })
      expect(audit.events.map((e) => e.type)).toEqual(["job.toggled", "job.toggled", "job.updated", "job.updated", "job.updated"])
    }).pipe(Effect.provide(Layer.merge(scheduledJobs(job, updates), Audit.Test)))
  })

  it.effect("a job from before creators were recorded: only an Admin (or the CLI) changes it", () =>
    Effect.gen(function*() {
      const jobs = yield* ScheduledJobs
      expect(yield* failure(jobs.toggle("7", jobToggle({}), alice))).toEqual({ tag: "Forbidden", error: "forbidden" })
      yield* jobs.toggle("7", jobToggle({}), admin)
      yield* jobs.toggle("7", jobToggle({}), cli)
    }).pipe(Effect.provide(scheduledJobs({ ...job, created_by: null }))))

  it.effect("job_status_request: {job} for a known id, {error} otherwise", () =>
    Effect.gen(function*() {
      const jobs = yield* ScheduledJobs
      expect(yield* jobs.statusRequest({ job_id: undefined })).toEqual({ error: "job_id required" })
      expect(yield* jobs.statusRequest({ job_id: 8 })).toEqual({ error: "not found" })
      expect(yield* jobs.statusRequest({ job_id: 7 })).toMatchObject({ job: { id: 7, name: "Nightly", enabled: true } })
    }).pipe(Effect.provide(scheduledJobs(job))))
})

// ---------------------------------------------------------------------------------------------

const dispatched: RecapRow = {
  id: 1,
  run_id: "run-1",
  hostname: "ans-host",
  agent_id: null,
  playbook_path: "Ansible_Playbooks/p.yml",
  playbook_name: "p",
  scheduled_job_id: null,
  scheduled_run_id: null,
  activity_job_id: null,
  status: null,
  recap_text: null,
  recap_json: null,
  started_ts: null,
  finished_ts: null,
  created_at: 1,
  updated_at: 1,
  dispatched_at: 1,
  device_guid: "GUID-ANS",
  source: "relay"
}

const activity = {
  id: 11,
  hostname: "host-1",
  script_path: "Scripts/a.json",
  script_name: "a",
  script_type: "powershell",
  status: "Running",
  ran_at: 1,
  stdout: "",
  stderr: "",
  device_guid: "GUID-1" as string | null
}

/** JobResults over recaps and activities held in memory; `written` records the writes. */
const jobResults = (recaps: ReadonlyArray<RecapRow>, activities: ReadonlyArray<typeof activity>, written: Array<unknown> = []) =>
  JobResults.Default.pipe(
    Layer.provide(JobsRepo.Test({
      getRecap: (runId) => Effect.succeed(Option.fromNullable(recaps.find((r) => r.run_id === runId))),
      reportRecap: (runId, report) => Effect.sync(() => void written.push({ recap: runId, ...report })),
      getActivity: (id) => Effect.succeed(Option.fromNullable(activities.find((a) => a.id === id))),
      updateActivity: (id, fields) => Effect.sync(() => written.push({ activity: id, ...fields })).pipe(Effect.as(1)),
      runOfActivity: () => Effect.succeed(Option.none())
    })),
    Layer.provide(channels),
    Layer.orDie
  )

const sender = (clientIp: string, deviceGuid?: string) => ({ clientIp, deviceGuid: Option.fromNullable(deviceGuid) })

describe("Ansible recap reports: only for a dispatched, open run, from its target", () => {
  it.effect("unknown and undispatched runs are 404; another device is 403; a finished run is 409", () =>
    Effect.gen(function*() {
      const results = yield* JobResults
      const from = sender("10.0.0.1")
      expect(yield* failure(results.recap(recap({ run_id: "nope" }), from))).toEqual({ tag: "NotFound", error: "unknown run_id" })
      expect(yield* failure(results.recap(recap({ run_id: "legacy" }), from))).toEqual({ tag: "NotFound", error: "unknown run_id" })
      expect(yield* failure(results.recap(recap({ run_id: "run-1" }), sender("10.0.0.1", "GUID-OTHER")))).toEqual({ tag: "Forbidden", error: "forbidden" })
      expect(yield* failure(results.recap(recap({ run_id: "run-1", hostname: "evil-host" }), from))).toEqual({ tag: "Forbidden", error: "forbidden" })
      expect(yield* failure(results.recap(recap({ run_id: "done" }), from))).toEqual({ tag: "Conflict", error: "run already finished" })
    }).pipe(Effect.provide(jobResults([
      dispatched,
      { ...dispatched, run_id: "legacy", dispatched_at: null },
      { ...dispatched, run_id: "done", status: "Success" }
    ], []))))

  it.effect("its target's report is taken (by token, else by hostname in any case), capped and canonical", () => {
    const written: Array<unknown> = []
    return Effect.gen(function*() {
      const results = yield* JobResults
      expect(yield* results.recap(recap({ run_id: "run-1", status: "running", agent_id: "x".repeat(300) }), sender("10.0.0.1", "GUID-ANS"))).toEqual({ status: "ok" })
      expect(yield* results.recap(recap({ run_id: "run-1", hostname: "ANS-HOST", recap_json: { ok: 2 } }), sender("10.0.0.1"))).toEqual({ status: "ok" })
      expect(yield* results.recap(recap({ run_id: "run-1" }), sender("10.0.0.1"))).toEqual({ status: "ok" })
      expect(written).toEqual([
        { recap: "run-1", agent_id: "x".repeat(256), status: "Running", recap_text: null, recap_json: null, started_ts: null, finished_ts: null },
        { recap: "run-1", agent_id: null, status: null, recap_text: null, recap_json: "{\"ok\":2}", started_ts: null, finished_ts: null },
        { recap: "run-1", agent_id: null, status: null, recap_text: null, recap_json: null, started_ts: null, finished_ts: null }
      ])
    }).pipe(Effect.provide(jobResults([dispatched], [], written)))
  })

  it.effect(`at most ${RECAP_LIMIT.limit} reports a minute per client address, checked before the run is looked up`, () =>
    Effect.gen(function*() {
      const results = yield* JobResults
      for (let i = 0; i < RECAP_LIMIT.limit; i++) {
        expect(yield* failure(results.recap(recap({ run_id: `r${i}` }), sender("10.0.0.9")))).toEqual({ tag: "NotFound", error: "unknown run_id" })
      }
      expect(yield* failure(results.recap(recap({ run_id: "run-1" }), sender("10.0.0.9", "GUID-ANS")))).toEqual({ tag: "RateLimited", error: "rate_limited" })
      expect(yield* results.recap(recap({ run_id: "run-1" }), sender("10.0.0.10", "GUID-ANS"))).toEqual({ status: "ok" })
    }).pipe(Effect.provide(jobResults([dispatched], []))))
})

describe("quick_job_result / quick_job_progress", () => {
  const device = (guid: string): Reporter => ({ _tag: "Device", guid, hostname: "host-1" })

  it.effect("only the device it was dispatched to; unknown ids say so; progress never reopens a final activity", () => {
    const written: Array<unknown> = []
    return Effect.gen(function*() {
      const results = yield* JobResults
      expect(yield* results.report(device("GUID-1"), jobReport({ job_id: 99, status: "Success" }), "result")).toBe("unknown")
      expect(yield* results.report(device("GUID-2"), jobReport({ job_id: 11, status: "Success" }), "result")).toBe("refused")
      expect(yield* results.report({ _tag: "Anonymous" }, jobReport({ job_id: 11, status: "Success" }), "result")).toBe("refused")
      expect(yield* results.report(device("GUID-1"), jobReport({ job_id: 12 }), "progress")).toBe("stale")
      expect(yield* results.report(device("GUID-1"), jobReport({ job_id: "11", status: "success", stdout: "ok" }), "result")).toBe("updated")
      // a row without a device (pre-token) is settled by a pre-token agent
      expect(yield* results.report({ _tag: "Anonymous" }, jobReport({ job_id: 13 }), "result")).toBe("updated")
      expect(written).toEqual([
        { activity: 11, status: "Success", stdout: "ok", stderr: "" },
        { activity: 13, status: "Failed", stdout: "", stderr: "" }
      ])
    }).pipe(Effect.provide(jobResults([], [
      activity,
      { ...activity, id: 12, status: "Success" },
      { ...activity, id: 13, device_guid: null }
    ], written)))
  })
})
