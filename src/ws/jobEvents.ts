// Job traffic over the socket: quick-job results and progress from agents, job status requests and
// playbook relays from operators. spec: realtime-jobs.md §2.3, §2.4
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { JobResults, type Reporter } from "../services/jobs/JobResults.ts"
import { ScheduledJobs } from "../services/jobs/ScheduledJobs.ts"
import { RealtimeOutbox } from "../services/realtime/RealtimeOutbox.ts"
import { ackOf, dropped, type EventHandler, nonEmptyString, payloadOf } from "./events.ts"

/**
 * An Admin relaying a playbook run: delivered to the device holding the target hostname (by GUID),
 * and remembered, so that device's recap reports for this `run_id` are taken (and only its).
 */
export const ansibleRun: EventHandler = (ctx, args) =>
  Effect.gen(function*() {
    const payload = payloadOf(args)
    const outbox = yield* RealtimeOutbox
    const host = nonEmptyString(payload["target_hostname"])
    if (host === undefined) return yield* outbox.toAllAgents("ansible_playbook_run", payload)
    const target = yield* outbox.resolveHost(host)
    const runId = nonEmptyString(payload["run_id"])
    if (runId !== undefined && runId.length <= 128) {
      yield* (yield* JobResults).playbookDispatched({
        run_id: runId,
        hostname: host,
        device_guid: target.guid,
        playbook_path: null,
        playbook_name: nonEmptyString(payload["playbook_name"])?.slice(0, 256) ?? null,
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

export const ansibleCancel: EventHandler = (_ctx, args) => Effect.flatMap(RealtimeOutbox, (o) => o.toAllAgents("ansible_playbook_cancel", payloadOf(args)))

/**
 * `quick_job_result` / `quick_job_progress` (spec §2.4): a token-era socket reports only for
 * activities dispatched to its own device (GUID); a pre-token (anonymous) agent only for activities
 * that went to no enrolled device. Unknown or non-integer job ids are dropped quietly.
 */
export const jobReport = (kind: "result" | "progress"): EventHandler => (ctx, args) =>
  Effect.gen(function*() {
    const reporter: Reporter = ctx.identity._tag === "Agent"
      ? { _tag: "Device", guid: ctx.identity.guid, hostname: ctx.identity.hostname }
      : { _tag: "Anonymous" }
    const outcome = yield* (yield* JobResults).report(reporter, payloadOf(args), kind)
    if (outcome === "dropped" || outcome === "unknown") yield* dropped(ctx, kind === "result" ? "quick_job_result" : "quick_job_progress", outcome === "dropped" ? "job_id not an integer" : "unknown job_id")
  })

/** `job_status_request {job_id}` (operators): the ack carries what GET /api/scheduled_jobs/<id> answers, or `{error}`. */
export const jobStatusRequest: EventHandler = (_ctx, args) =>
  Effect.gen(function*() {
    const answer = yield* (yield* ScheduledJobs).statusRequest(payloadOf(args))
    ackOf(args)?.(answer)
  })
