// Results coming back: `quick_job_result` / `quick_job_progress` from agent sockets and Ansible recap
// reports over REST. They update the activity row and the scheduled run it was dispatched for (by
// the link table, else the `context` the agent echoes), and tell operators.
// spec: realtime-jobs.md §2.4 (quick_job_result, quick_job_progress), §5.3 (recap report), §7 items 8–10
//
// Beyond the original:
// - only the device the activity was dispatched to may report it (by GUID; another device's socket is
//   ignored, whatever hostname it claims);
// - recap reports are taken only for playbook runs the server itself dispatched, from their target
//   (its device token decides when one is presented), while they are open, capped and rate-limited;
//   they never touch script runs;
// - a result for an unknown or non-integer `job_id` is dropped quietly, as is progress for an
//   activity that already finished, so a duplicated or late message never regresses a row;
// - a run with several components is final when all of its activities are (Failed if any failed),
//   not at the first result.
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { isTerminalRunStatus } from "./schedule/nextRun.ts"
import { capText, hostnameKey } from "../devices/identity.ts"
import { Conflict, Forbidden, NotFound, RateLimited } from "../errors.ts"
import { M } from "../../layers/metrics.ts"
import { makeSlidingWindow } from "../ratelimit/SlidingWindow.ts"
import { JobChannels } from "./JobChannels.ts"
import { type DispatchedPlaybook, JobsRepo, type RecapReport, type RecapRow } from "./JobsRepo.ts"
import type { AnsibleRecap, EchoedContext, JobReport } from "./requests.ts"
import { nowSeconds } from "./time.ts"

/** Output kept per activity stream; more is cut (with a note) so one report cannot bloat the database. */
const MAX_OUTPUT_CHARS = 8 * 1024 * 1024
/** A recap's text and JSON are kept up to this size (more text is cut with a note; larger JSON is dropped). */
const MAX_RECAP_CHARS = 256 * 1024
/** Recap reports per client address per minute (they need no credentials, as the agent's role sends them). */
export const RECAP_LIMIT = { limit: 120, windowSeconds: 60 } as const

/** Who sent a report: the authenticated device (GUID and current hostname), or a pre-token agent. */
export type Reporter =
  | { readonly _tag: "Device"; readonly guid: string; readonly hostname: string }
  | { readonly _tag: "Anonymous" }

/** Who posted a recap: the real client address, and the device its token proves, if it sent one. */
interface RecapSender {
  readonly clientIp: string
  readonly deviceGuid: Option.Option<string>
}

/** What became of a job report: `unknown` when no activity has its `job_id`. */
type ReportOutcome = "updated" | "unknown" | "refused" | "stale"

const KNOWN_STATUSES = ["Success", "Failed", "Running", "Pending", "Queued", "Expired", "Timed Out", "Skipped", "Cancelled", "Warning"]
const byLower = new Map(KNOWN_STATUSES.map((s) => [s.toLowerCase(), s]))

/** Known statuses in their canonical spelling (`success` → `Success`); anything else as sent. */
export const canonicalStatus = (raw: string): string => byLower.get(raw.trim().toLowerCase()) ?? raw.trim()

/** Still in progress: nothing final has been said. */
export const isPendingStatus = (status: string | null | undefined): boolean => {
  const s = (status ?? "").trim().toLowerCase()
  return s === "running" || s === "pending" || s === "queued" || s === ""
}

/** A run's status from its activities' (all final): Failed if any failed, else the first non-Success, else Success. */
export const aggregateRunStatus = (statuses: ReadonlyArray<string>): string => {
  if (statuses.some((s) => s === "Failed")) return "Failed"
  return statuses.find((s) => s !== "Success") ?? "Success"
}

const cappedAt = (max: number) => (text: string): string =>
  text.length <= max ? text : `${text.slice(0, max)}\n[output truncated by the server at ${max} characters]`
const capped = cappedAt(MAX_OUTPUT_CHARS)
const cappedRecap = cappedAt(MAX_RECAP_CHARS)

/** May this reporter settle this activity? Its dispatched device only; rows from before devices were recorded, by hostname. */
const mayReport = (reporter: Reporter, activity: { readonly device_guid: string | null; readonly hostname: string | null }): boolean => {
  if (activity.device_guid !== null) return reporter._tag === "Device" && reporter.guid === activity.device_guid
  // A row without a device (a pre-token agent's, or written before this was recorded).
  return reporter._tag === "Anonymous" || hostnameKey(activity.hostname ?? "") === hostnameKey(reporter.hostname)
}

const recapView = (row: RecapRow) => {
  let recapJson: unknown = null
  if (row.recap_json !== null && row.recap_json.trim() !== "") {
    try {
      recapJson = JSON.parse(row.recap_json)
    } catch {
      recapJson = null
    }
  }
  return {
    id: row.id,
    run_id: row.run_id,
    hostname: row.hostname ?? "",
    agent_id: row.agent_id ?? "",
    playbook_path: row.playbook_path ?? "",
    playbook_name: row.playbook_name ?? "",
    scheduled_job_id: row.scheduled_job_id,
    scheduled_run_id: row.scheduled_run_id,
    activity_job_id: row.activity_job_id,
    status: row.status ?? "",
    recap_text: row.recap_text ?? "",
    recap_json: recapJson,
    started_ts: row.started_ts,
    finished_ts: row.finished_ts,
    created_at: row.created_at,
    updated_at: row.updated_at
  }
}

export class JobResults extends Effect.Service<JobResults>()("borealis/JobResults", {
  effect: Effect.gen(function*() {
    const repo = yield* JobsRepo
    const channels = yield* JobChannels

    /**
     * Bring a run in line with its activities: Running while any is in progress, else final with
     * the aggregate status. Operators hear `job_run_completed` when it becomes final or changes.
     */
    const settleRun = (runId: number, fallbackStatus: string, now: number) =>
      Effect.gen(function*() {
        const run = yield* repo.getRun(runId)
        if (Option.isNone(run)) return
        const linked = yield* repo.runActivityStatuses(runId)
        const statuses = (linked.length === 0 ? [fallbackStatus] : linked).map((s) => canonicalStatus(s ?? ""))
        const before = run.value.status
        if (statuses.some(isPendingStatus)) {
          // Progress never reopens a run the server already finished (timed out, expired).
          if (!isTerminalRunStatus(before) && before !== "Running") yield* repo.markRunRunning(runId, now)
          return
        }
        const status = aggregateRunStatus(statuses)
        if (status === before) return
        yield* repo.finishRun(runId, status, null, now)
        M.jobsCompleted.inc({ status })
        yield* channels.toOperators("job_run_completed", {
          job_id: run.value.job_id,
          run_id: runId,
          target: run.value.target_hostname ?? "<unassigned>",
          schedule_type: run.value.schedule_type ?? "",
          occurrence_ts: run.value.scheduled_ts,
          status
        })
      })

    /** The run an activity was dispatched for: its link row, else the echoed `context` (later Engine). */
    const runFor = (activityId: number, hostname: string | null, context: EchoedContext | undefined) =>
      Effect.gen(function*() {
        const linked = yield* repo.runOfActivity(activityId)
        if (Option.isSome(linked)) return linked
        const runId = context?.scheduled_job_run_id
        if (runId === undefined) return Option.none<number>()
        const run = yield* repo.getRun(runId)
        if (Option.isNone(run)) return Option.none<number>()
        const jobId = context?.scheduled_job_id
        const sameJob = jobId === undefined || jobId === run.value.job_id
        const sameHost = (run.value.target_hostname ?? "").toLowerCase() === (hostname ?? "").toLowerCase()
        return sameJob && sameHost ? Option.some(runId) : Option.none<number>()
      })

    /**
     * `quick_job_result {job_id, status, stdout, stderr, context?}` (status defaults to Failed) and
     * `quick_job_progress {job_id, status (default Running), stdout?, stderr?, append_output?, context?}`.
     */
    const report = Effect.fn("JobResults.report")(function*(reporter: Reporter, payload: JobReport, kind: "result" | "progress") {
      const activityId = payload.job_id
      const found = yield* repo.getActivity(activityId)
      if (Option.isNone(found)) return "unknown" satisfies ReportOutcome
      const activity = found.value
      if (!mayReport(reporter, activity)) {
        yield* Effect.logWarning("job-result-refused").pipe(Effect.annotateLogs({
          activity_id: activityId,
          activity_device: activity.device_guid ?? activity.hostname ?? "",
          reporter: reporter._tag === "Device" ? reporter.guid : "anonymous"
        }))
        return "refused" satisfies ReportOutcome
      }
      const rawStatus = payload.status
      const status = canonicalStatus(rawStatus === "" ? (kind === "result" ? "Failed" : "Running") : rawStatus)
      if (!isPendingStatus(activity.status) && isPendingStatus(status)) return "stale" satisfies ReportOutcome
      const now = yield* nowSeconds
      const append = kind === "progress" && payload.append_output
      const stream = (key: "stdout" | "stderr", previous: string | null) => {
        const text = payload[key]
        if (text === undefined) return kind === "result" ? "" : undefined
        return capped(append ? `${previous ?? ""}${text}` : text)
      }
      yield* repo.updateActivity(activityId, {
        status,
        stdout: stream("stdout", activity.stdout),
        stderr: stream("stderr", activity.stderr)
      })
      // This report moves the activity from pending (Running, …) to a final status.
      const finishes = isPendingStatus(activity.status) && !isPendingStatus(status)
      if (finishes && activity.ran_at !== null) M.dispatchToResult.observe(Math.max(0, now - activity.ran_at))
      const runId = yield* runFor(activityId, activity.hostname, payload.context)
      if (Option.isSome(runId)) yield* settleRun(runId.value, status, now)
      // A quick run has no scheduled run to settle: its activity reaching a final status completes it.
      else if (finishes) M.jobsCompleted.inc({ status })
      if (activity.hostname !== null && activity.hostname !== "") {
        yield* channels.toOperators("device_activity_changed", {
          activity_id: activityId,
          hostname: activity.hostname,
          status,
          change: "updated",
          source: kind === "result" ? "quick_job" : "quick_job_progress"
        })
      }
      return "updated" satisfies ReportOutcome
    })

    const recapLimiter = makeSlidingWindow("ansible_recap", RECAP_LIMIT.limit, RECAP_LIMIT.windowSeconds)

    /** The server sends a playbook run: remember it, so its target's recap reports are taken. */
    const playbookDispatched = (run: DispatchedPlaybook) => Effect.flatMap(nowSeconds, (now) => repo.recordDispatchedPlaybook(run, now))

    /**
     * `POST /api/ansible/recap/report`, from the agent's Ansible role (plain JSON, no credentials).
     * Taken only for a run the server dispatched, from its target (the device token's GUID decides
     * when one is presented, else the reported hostname must be the target's), while the run is open;
     * what it may set is progress (status, texts, times), never which run, activity or host it is.
     */
    const recap = Effect.fn("JobResults.recap")(function*(body: AnsibleRecap, sender: RecapSender) {
      const runId = body.run_id
      const decision = yield* recapLimiter.check(`ip:${sender.clientIp}`)
      if (!decision.allowed) return yield* RateLimited.of(Math.max(1, decision.retryAfter))
      const found = yield* repo.getRecap(runId)
      if (Option.isNone(found) || found.value.dispatched_at === null) {
        yield* Effect.logWarning("ansible-recap-refused").pipe(Effect.annotateLogs({ run_id: capText(runId, 64), reason: "unknown_run", ip: sender.clientIp }))
        return yield* new NotFound({ error: "unknown run_id" })
      }
      const dispatched = found.value
      const reportedHost = body.hostname
      const fromTarget = Option.match(sender.deviceGuid, {
        onSome: (guid) => guid === dispatched.device_guid,
        onNone: () => reportedHost === null || hostnameKey(reportedHost) === hostnameKey(dispatched.hostname ?? "")
      })
      if (!fromTarget) {
        yield* Effect.logWarning("ansible-recap-refused").pipe(Effect.annotateLogs({
          run_id: runId,
          reason: "not_the_target",
          target: dispatched.device_guid ?? dispatched.hostname ?? "",
          sender: Option.getOrElse(sender.deviceGuid, () => capText(reportedHost ?? "", 253)),
          ip: sender.clientIp
        }))
        return yield* new Forbidden({ error: "forbidden", detail: "this run was dispatched to another device" })
      }
      if (dispatched.status !== null && !isPendingStatus(dispatched.status)) {
        return yield* new Conflict({ error: "run already finished" })
      }
      const jsonText = body.recap_json
      const report: RecapReport = {
        agent_id: body.agent_id === null ? null : capText(body.agent_id, 256),
        status: body.status === null ? null : capText(canonicalStatus(body.status), 32),
        recap_text: body.recap_text === null ? null : cappedRecap(body.recap_text),
        recap_json: jsonText !== null && jsonText.length <= MAX_RECAP_CHARS ? jsonText : null,
        started_ts: body.started_ts,
        finished_ts: body.finished_ts
      }
      if (jsonText !== null && report.recap_json === null) {
        yield* Effect.logWarning("ansible-recap-json-dropped").pipe(Effect.annotateLogs({ run_id: runId, chars: jsonText.length }))
      }
      const now = yield* nowSeconds
      yield* repo.reportRecap(runId, report, now)
      const stored = yield* repo.getRecap(runId)
      if (Option.isNone(stored)) return { status: "ok" as const }
      const row = stored.value
      const host = row.hostname ?? ""
      const status = row.status === null ? null : canonicalStatus(row.status)
      // Mirrored only into the playbook activity and the run recorded when it was dispatched.
      if (row.activity_job_id !== null && status !== null) {
        const activity = yield* repo.getActivity(row.activity_job_id)
        if (Option.exists(activity, (a) => a.script_type === "ansible")) {
          yield* repo.updateActivity(row.activity_job_id, { status, stdout: report.recap_text ?? undefined })
        }
      }
      if (row.scheduled_run_id !== null && status !== null) {
        const linked = yield* repo.runActivityStatuses(row.scheduled_run_id)
        if (isPendingStatus(status) && linked.length === 0) yield* repo.markRunRunning(row.scheduled_run_id, report.started_ts ?? now)
        else yield* settleRun(row.scheduled_run_id, status, report.finished_ts ?? now)
      }
      yield* channels.toOperators("ansible_recap_update", recapView(row))
      if (row.activity_job_id !== null) {
        yield* channels.toOperators("device_activity_changed", {
          hostname: host,
          activity_id: row.activity_job_id,
          status: status ?? "",
          change: "updated",
          source: "ansible"
        })
      }
      return { status: "ok" as const }
    })

    return { report, recap, playbookDispatched } as const
  })
}) {}
