// Results coming back: `quick_job_result` / `quick_job_progress` from agent sockets and Ansible recap
// reports over REST. They update the activity row and the scheduled run it was dispatched for (by
// the link table, else the `context` the agent echoes), and tell operators.
// spec: realtime-jobs.md §2.4 (quick_job_result, quick_job_progress), §5.3 (recap report), §7 items 8–10
//
// Beyond the original:
// - only the agent of the activity's host may report it (another host's socket is ignored);
// - a result for an unknown or non-integer `job_id` is dropped quietly, as is progress for an
//   activity that already finished, so a duplicated or late message never regresses a row;
// - a run with several components is final when all of its activities are (Failed if any failed),
//   not at the first result.
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { isTerminalRunStatus } from "../../scheduler/nextRun.ts"
import { BadRequest } from "../errors.ts"
import { M } from "../metrics/metrics.ts"
import { JobChannels } from "./JobChannels.ts"
import { JobsRepo, type RecapFields, type RecapRow } from "./JobsRepo.ts"
import { field, isRecord, type JsonRecord, pyInt, pyText, pyTruthy } from "../pyValues.ts"
import { nowSeconds } from "./time.ts"

/** Output kept per activity stream; more is cut (with a note) so one report cannot bloat the database. */
export const MAX_OUTPUT_CHARS = 8 * 1024 * 1024
export const RUN_ID_REQUIRED = "run_id is required"

/** Who sent a report: the authenticated device's hostname, or `null` for a pre-token agent. */
export interface Reporter {
  readonly hostname: string | null
}

export type ReportOutcome = "updated" | "dropped" | "unknown" | "refused" | "stale"

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

/** Python `int(job_id)` for integers and digit strings only; `undefined` otherwise (dropped). */
export const reportedId = (value: unknown): number | undefined => {
  if (typeof value === "number") return Number.isSafeInteger(value) && value > 0 ? value : undefined
  if (typeof value === "string" && /^\s*\d{1,15}\s*$/.test(value)) {
    const n = Number.parseInt(value, 10)
    return n > 0 ? n : undefined
  }
  return undefined
}

const capped = (text: string): string =>
  text.length <= MAX_OUTPUT_CHARS ? text : `${text.slice(0, MAX_OUTPUT_CHARS)}\n[output truncated by the server at ${MAX_OUTPUT_CHARS} characters]`

const textOf = (value: unknown): string | undefined => (typeof value === "string" ? value : value === null || value === undefined ? undefined : String(value))

const intOrNull = (value: unknown): number | null => (pyTruthy(value) ? (pyInt(value) ?? null) : null)

const textOrNull = (value: unknown): string | null => {
  const text = pyText(value)
  return text === "" ? null : text
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
    const runFor = (activityId: number, hostname: string | null, context: unknown) =>
      Effect.gen(function*() {
        const linked = yield* repo.runOfActivity(activityId)
        if (Option.isSome(linked)) return linked
        if (!isRecord(context)) return Option.none<number>()
        const runId = reportedId(field(context, "scheduled_job_run_id"))
        if (runId === undefined) return Option.none<number>()
        const run = yield* repo.getRun(runId)
        if (Option.isNone(run)) return Option.none<number>()
        const jobId = reportedId(field(context, "scheduled_job_id"))
        const sameJob = jobId === undefined || jobId === run.value.job_id
        const sameHost = (run.value.target_hostname ?? "").toLowerCase() === (hostname ?? "").toLowerCase()
        return sameJob && sameHost ? Option.some(runId) : Option.none<number>()
      })

    /**
     * `quick_job_result {job_id, status, stdout, stderr, context?}` (status defaults to Failed) and
     * `quick_job_progress {job_id, status (default Running), stdout?, stderr?, append_output?, context?}`.
     */
    const report = Effect.fn("JobResults.report")(function*(reporter: Reporter, payload: JsonRecord, kind: "result" | "progress") {
      const activityId = reportedId(field(payload, "job_id"))
      if (activityId === undefined) return "dropped" satisfies ReportOutcome
      const found = yield* repo.getActivity(activityId)
      if (Option.isNone(found)) return "unknown" satisfies ReportOutcome
      const activity = found.value
      if (reporter.hostname !== null && (activity.hostname ?? "").toLowerCase() !== reporter.hostname.toLowerCase()) {
        yield* Effect.logWarning("job-result-refused").pipe(
          Effect.annotateLogs({ activity_id: activityId, activity_host: activity.hostname ?? "", reporter: reporter.hostname })
        )
        return "refused" satisfies ReportOutcome
      }
      const rawStatus = pyText(field(payload, "status"))
      const status = canonicalStatus(rawStatus === "" ? (kind === "result" ? "Failed" : "Running") : rawStatus)
      if (!isPendingStatus(activity.status) && isPendingStatus(status)) return "stale" satisfies ReportOutcome
      const now = yield* nowSeconds
      const append = kind === "progress" && pyTruthy(field(payload, "append_output"))
      const stream = (key: "stdout" | "stderr", previous: string | null) => {
        const text = textOf(field(payload, key))
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
      const runId = yield* runFor(activityId, activity.hostname, field(payload, "context"))
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

    /** `POST /api/ansible/recap/report`. */
    const recap = Effect.fn("JobResults.recap")(function*(body: JsonRecord) {
      const runId = pyText(field(body, "run_id"))
      if (runId === "") return yield* new BadRequest({ error: RUN_ID_REQUIRED })
      const rawJson = field(body, "recap_json")
      const statusText = textOrNull(field(body, "status"))
      const fields: RecapFields = {
        run_id: runId,
        hostname: textOrNull(field(body, "hostname")),
        agent_id: textOrNull(field(body, "agent_id")),
        playbook_path: textOrNull(field(body, "playbook_path")),
        playbook_name: textOrNull(field(body, "playbook_name")),
        scheduled_job_id: intOrNull(field(body, "scheduled_job_id")),
        scheduled_run_id: intOrNull(field(body, "scheduled_run_id")),
        activity_job_id: intOrNull(field(body, "activity_job_id")),
        status: statusText === null ? null : canonicalStatus(statusText),
        recap_text: typeof field(body, "recap_text") === "string" ? capped(String(field(body, "recap_text"))) : null,
        recap_json: rawJson === null || rawJson === undefined ? null : typeof rawJson === "string" ? rawJson : JSON.stringify(rawJson),
        started_ts: intOrNull(field(body, "started_ts")),
        finished_ts: intOrNull(field(body, "finished_ts"))
      }
      const now = yield* nowSeconds
      yield* repo.upsertRecap(fields, now)
      const stored = yield* repo.getRecap(runId)
      if (Option.isNone(stored)) return { status: "ok" as const }
      const row = stored.value
      const host = row.hostname
      const status = row.status === null ? null : canonicalStatus(row.status)
      // Mirror into the playbook's activity row and run, only when they belong to the reported host.
      if (row.activity_job_id !== null && status !== null) {
        const activity = yield* repo.getActivity(row.activity_job_id)
        const sameHost = Option.exists(activity, (a) => host !== null && (a.hostname ?? "").toLowerCase() === host.toLowerCase())
        if (Option.exists(activity, (a) => a.script_type === "ansible") && sameHost) {
          yield* repo.updateActivity(row.activity_job_id, { status, stdout: fields.recap_text ?? undefined })
        }
      }
      if (row.scheduled_run_id !== null && status !== null) {
        const run = yield* repo.getRun(row.scheduled_run_id)
        const matches = Option.exists(run, (r) => host !== null && (r.target_hostname ?? "").toLowerCase() === host.toLowerCase())
        if (matches) {
          const linked = yield* repo.runActivityStatuses(row.scheduled_run_id)
          if (isPendingStatus(status) && linked.length === 0) yield* repo.markRunRunning(row.scheduled_run_id, fields.started_ts ?? now)
          else yield* settleRun(row.scheduled_run_id, status, fields.finished_ts ?? now)
        }
      }
      yield* channels.toOperators("ansible_recap_update", recapView(row))
      if (row.activity_job_id !== null) {
        yield* channels.toOperators("device_activity_changed", {
          hostname: host ?? "",
          activity_id: row.activity_job_id,
          status: status ?? "",
          change: "updated",
          source: "ansible"
        })
      }
      return { status: "ok" as const }
    })

    return { report, recap } as const
  })
}) {}
