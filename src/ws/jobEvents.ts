// Job traffic over the socket: quick-job results and progress from agents, job status requests and
// playbook relays from operators. Payloads are decoded with the jobs capability's schemas
// (jobs/requests.ts); relays forward what they got unchanged. spec: realtime-jobs.md §2.3, §2.4
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { JobResults, type Reporter } from "../services/jobs/JobResults.ts"
import { JobReport, JobStatusRequest, PlaybookCancelRelay, PlaybookRunRelay } from "../services/jobs/requests.ts"
import { ScheduledJobs } from "../services/jobs/ScheduledJobs.ts"
import { RealtimeOutbox } from "../services/realtime/RealtimeOutbox.ts"
import { ackOf, dropped, type EventHandler, eventPayload, payloadOf } from "./events.ts"

const playbookRunPayload = eventPayload(PlaybookRunRelay)
const playbookCancelPayload = eventPayload(PlaybookCancelRelay)
const jobReportPayload = eventPayload(JobReport)
const jobStatusPayload = eventPayload(JobStatusRequest)

/**
 * An Admin relaying a playbook run: delivered to the device holding the target hostname (by GUID),
 * and remembered, so that device's recap reports for this `run_id` are taken (and only its).
 */
export const ansibleRun: EventHandler = (ctx, args) =>
  Effect.gen(function*() {
    const decoded = yield* playbookRunPayload(ctx, "ansible_playbook_run", args)
    if (Option.isNone(decoded)) return
    const { target_hostname: host, run_id: runId, playbook_name: playbookName } = decoded.value
    const payload = payloadOf(args)
    const outbox = yield* RealtimeOutbox
    if (host === undefined) return yield* outbox.toAllAgents("ansible_playbook_run", payload)
    const target = yield* outbox.resolveHost(host)
    if (runId !== undefined && runId.length <= 128) {
      yield* (yield* JobResults).playbookDispatched({
        run_id: runId,
        hostname: host,
        device_guid: target.guid,
        playbook_path: null,
        playbook_name: playbookName?.slice(0, 256) ?? null,
        scheduled_job_id: null,
        scheduled_run_id: null,
        activity_job_id: null,
        source: "relay"
      })
    }
    const delivered = yield* outbox.toTarget(target, Option.none(), "ansible_playbook_run", payload)
    yield* Effect.logInfo("ansible-playbook-relayed").pipe(Effect.annotateLogs({
      host,
      guid: target.guid ?? "",
      run_id: runId ?? "",
      delivered,
      by: ctx.identity._tag === "Operator" ? ctx.identity.username : ""
    }))
  })

/** `ansible_playbook_cancel {run_id}`: to every agent, unchanged. */
export const ansibleCancel: EventHandler = (ctx, args) =>
  Effect.gen(function*() {
    if (Option.isNone(yield* playbookCancelPayload(ctx, "ansible_playbook_cancel", args))) return
    yield* (yield* RealtimeOutbox).toAllAgents("ansible_playbook_cancel", payloadOf(args))
  })

/**
 * `quick_job_result` / `quick_job_progress` (spec §2.4): a token-era socket reports only for
 * activities dispatched to its own device (GUID); a pre-token (anonymous) agent only for activities
 * that went to no enrolled device. Non-integer job ids (the schema) and unknown ones are dropped quietly.
 */
export const jobReport = (kind: "result" | "progress"): EventHandler => {
  const event = kind === "result" ? "quick_job_result" : "quick_job_progress"
  return (ctx, args) =>
    Effect.gen(function*() {
      const payload = yield* jobReportPayload(ctx, event, args)
      if (Option.isNone(payload)) return
      const reporter: Reporter = ctx.identity._tag === "Agent"
        ? { _tag: "Device", guid: ctx.identity.guid, hostname: ctx.identity.hostname }
        : { _tag: "Anonymous" }
      const outcome = yield* (yield* JobResults).report(reporter, payload.value, kind)
      if (outcome === "unknown") yield* dropped(ctx, event, "unknown job_id")
    })
}

/** `job_status_request {job_id}` (operators): the ack carries what GET /api/scheduled_jobs/<id> answers, or `{error}`. */
export const jobStatusRequest: EventHandler = (ctx, args) =>
  Effect.gen(function*() {
    const payload = yield* jobStatusPayload(ctx, "job_status_request", args)
    if (Option.isNone(payload)) return
    const answer = yield* (yield* ScheduledJobs).statusRequest(payload.value)
    ackOf(args)?.(answer)
  })
