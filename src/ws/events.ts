// Socket.IO event handlers (namespace `/`). Payload shapes are the original's; who may send and who
// hears each event is not (see RealtimeOutbox). spec: realtime-jobs.md §2.1–§2.3
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { Socket } from "socket.io"
import { logDebugWith } from "../layers/Logging.ts"
import { type Role, roleAtLeast } from "../services/operators/credentials.ts"
import { agentIdBelongsTo } from "../services/realtime/agentRules.ts"
import { AgentRegistry, type SocketIdentity } from "../services/realtime/AgentRegistry.ts"
import { agentRoom, RealtimeOutbox } from "../services/realtime/RealtimeOutbox.ts"
import { ScreenshotCache } from "../services/realtime/ScreenshotCache.ts"
import { JobResults, type Reporter } from "../services/jobs/JobResults.ts"
import { ScheduledJobs } from "../services/jobs/ScheduledJobs.ts"

export interface EventContext {
  readonly socket: Socket
  readonly identity: SocketIdentity
}

type Json = Readonly<Record<string, unknown>>

/** The services event handlers use: the only ones their fibers carry (a span copies its fiber's context). */
export const eventServiceTags = [AgentRegistry, RealtimeOutbox, ScreenshotCache, JobResults, ScheduledJobs] as const

export type EventServices = Context.Tag.Identifier<(typeof eventServiceTags)[number]>

export type EventHandler = (ctx: EventContext, args: ReadonlyArray<unknown>) => Effect.Effect<void, unknown, EventServices>

const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v)

/** The first argument as an object; a missing or non-object payload is `{}` (the original's `data or {}`). */
export const payloadOf = (args: ReadonlyArray<unknown>): Json => (isObject(args[0]) ? args[0] : {})

/** The client's acknowledgement callback, when it asked for one. */
export const ackOf = (args: ReadonlyArray<unknown>): ((...reply: Array<unknown>) => void) | undefined => {
  const last = args[args.length - 1]
  return typeof last === "function" ? (last as (...reply: Array<unknown>) => void) : undefined
}

const nonEmptyString = (v: unknown): string | undefined => (typeof v === "string" && v.trim() !== "" ? v : undefined)

const dropped = (ctx: EventContext, event: string, reason: string) =>
  logDebugWith("ws-payload-dropped", () => ({ event, reason, sid: ctx.socket.id }))

/** A device socket speaks only for its own agent ids; a pre-token (anonymous) agent for any. */
const mayActAs = (ctx: EventContext, agentId: string): boolean =>
  ctx.identity._tag === "LegacyAgent" ||
  (ctx.identity._tag === "Agent" && agentIdBelongsTo(agentId, { guid: ctx.identity.guid, hostname: ctx.identity.hostname }))

/** The `agent_id` of a payload this socket may send, or a debug line and nothing. */
const ownAgentId = (ctx: EventContext, event: string, payload: Json) =>
  Effect.gen(function*() {
    const agentId = nonEmptyString(payload["agent_id"])
    if (agentId === undefined) {
      yield* dropped(ctx, event, "agent_id missing")
      return Option.none<string>()
    }
    if (!mayActAs(ctx, agentId)) {
      yield* Effect.logWarning("ws-agent-id-refused").pipe(Effect.annotateLogs({ event, agent_id: agentId, sid: ctx.socket.id }))
      return Option.none<string>()
    }
    return Option.some(agentId)
  })

const connectAgent: EventHandler = (ctx, args) =>
  Effect.gen(function*() {
    const ack = ackOf(args)
    // A later agent variant sends the id as a bare string.
    const payload: Json = typeof args[0] === "string" ? { agent_id: args[0] } : payloadOf(args)
    const agentId = yield* ownAgentId(ctx, "connect_agent", payload)
    if (Option.isNone(agentId)) {
      ack?.({ error: "agent_id_required" })
      return
    }
    const registry = yield* AgentRegistry
    const record = yield* registry.connectAgent(ctx.socket.id, agentId.value, payload)
    yield* Effect.promise(async () => ctx.socket.join(agentRoom(agentId.value)))
    yield* Effect.logInfo("agent-connected").pipe(
      Effect.annotateLogs({ agent_id: record.agent_id, mode: record.service_mode, status: record.status, guid: record.agent_guid })
    )
    ack?.({ status: "ok" })
  })

const agentHeartbeat: EventHandler = (ctx, args) =>
  Effect.gen(function*() {
    const payload = payloadOf(args)
    const agentId = yield* ownAgentId(ctx, "agent_heartbeat", payload)
    if (Option.isNone(agentId)) return
    yield* (yield* AgentRegistry).heartbeat(ctx.socket.id, payload)
    ackOf(args)?.({ status: "ok" })
  })

const collectorStatus: EventHandler = (ctx, args) =>
  Effect.gen(function*() {
    const payload = payloadOf(args)
    if (Option.isNone(yield* ownAgentId(ctx, "collector_status", payload))) return
    yield* (yield* AgentRegistry).collectorStatus(ctx.socket.id, payload)
  })

const requestConfig: EventHandler = (ctx, args) =>
  Effect.gen(function*() {
    const agentId = yield* ownAgentId(ctx, "request_config", payloadOf(args))
    if (Option.isNone(agentId)) return
    const config = yield* (yield* AgentRegistry).getConfig(agentId.value)
    // Only the requesting socket gets it; no config, no reply.
    if (Option.isSome(config)) ctx.socket.emit("agent_config", { ...config.value, agent_id: agentId.value })
  })

const screenshotTask: EventHandler = (ctx, args) =>
  Effect.gen(function*() {
    const payload = payloadOf(args)
    if (nonEmptyString(payload["node_id"]) === undefined && typeof payload["node_id"] !== "number") {
      return yield* dropped(ctx, "agent_screenshot_task", "node_id missing")
    }
    const agentId = yield* ownAgentId(ctx, "agent_screenshot_task", payload)
    if (Option.isNone(agentId)) return
    const image = payload["image_base64"]
    if (typeof image === "string" && image !== "") {
      yield* (yield* ScreenshotCache).put(agentId.value, String(payload["node_id"]), image)
    }
    // Geometry-only frames are relayed too, unchanged.
    yield* (yield* RealtimeOutbox).toOperators("agent_screenshot_task", payload)
  })

const screenshot: EventHandler = (ctx, args) =>
  Effect.gen(function*() {
    const payload = payloadOf(args)
    const image = nonEmptyString(payload["image_base64"])
    if (image === undefined) return yield* dropped(ctx, "screenshot", "image_base64 missing")
    const agentId = yield* ownAgentId(ctx, "screenshot", payload)
    if (Option.isNone(agentId)) return
    yield* (yield* ScreenshotCache).put(agentId.value, null, image)
    yield* (yield* RealtimeOutbox).toOperators("new_screenshot", { agent_id: agentId.value, image_base64: image })
  })

/** Agent → operators, unchanged (macro_status, agent_window_list). */
const relayToOperators = (event: string): EventHandler => (ctx, args) =>
  Effect.gen(function*() {
    const payload = payloadOf(args)
    if (Option.isNone(yield* ownAgentId(ctx, event, payload))) return
    if (event === "macro_status") {
      yield* Effect.logInfo("macro-status").pipe(
        Effect.annotateLogs({ agent: String(payload["agent_id"]), node: String(payload["node_id"] ?? ""), success: String(payload["success"] ?? "") })
      )
    }
    yield* (yield* RealtimeOutbox).toOperators(event, payload)
  })

/** Operator → the agent(s) concerned, unchanged. */
const listAgentWindows: EventHandler = (_ctx, args) =>
  Effect.gen(function*() {
    const payload = payloadOf(args)
    const outbox = yield* RealtimeOutbox
    const agentId = nonEmptyString(payload["agent_id"])
    if (agentId !== undefined) yield* outbox.toAgent(agentId, "list_agent_windows", payload)
    else yield* outbox.toAllAgents("list_agent_windows", payload)
  })

/**
 * An Admin relaying a playbook run: delivered to the device holding the target hostname (by GUID),
 * and remembered, so that device's recap reports for this `run_id` are taken (and only its).
 */
const ansibleRun: EventHandler = (ctx, args) =>
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

const ansibleCancel: EventHandler = (_ctx, args) => Effect.flatMap(RealtimeOutbox, (o) => o.toAllAgents("ansible_playbook_cancel", payloadOf(args)))

/**
 * `quick_job_result` / `quick_job_progress` (spec §2.4): a token-era socket reports only for
 * activities dispatched to its own device (GUID); a pre-token (anonymous) agent only for activities
 * that went to no enrolled device. Unknown or non-integer job ids are dropped quietly.
 */
const jobReport = (kind: "result" | "progress"): EventHandler => (ctx, args) =>
  Effect.gen(function*() {
    const reporter: Reporter = ctx.identity._tag === "Agent"
      ? { _tag: "Device", guid: ctx.identity.guid, hostname: ctx.identity.hostname }
      : { _tag: "Anonymous" }
    const outcome = yield* (yield* JobResults).report(reporter, payloadOf(args), kind)
    if (outcome === "dropped" || outcome === "unknown") yield* dropped(ctx, kind === "result" ? "quick_job_result" : "quick_job_progress", outcome === "dropped" ? "job_id not an integer" : "unknown job_id")
  })

/** `job_status_request {job_id}` (operators): the ack carries what GET /api/scheduled_jobs/<id> answers, or `{error}`. */
const jobStatusRequest: EventHandler = (_ctx, args) =>
  Effect.gen(function*() {
    const answer = yield* (yield* ScheduledJobs).statusRequest(payloadOf(args))
    ackOf(args)?.(answer)
  })

/** What an agent socket (token-era or pre-token) may emit: each only for the sender's own agent ids. */
export const agentHandlers: Record<string, EventHandler> = {
  connect_agent: connectAgent,
  agent_heartbeat: agentHeartbeat,
  collector_status: collectorStatus,
  request_config: requestConfig,
  agent_screenshot_task: screenshotTask,
  screenshot,
  macro_status: relayToOperators("macro_status"),
  agent_window_list: relayToOperators("agent_window_list"),
  quick_job_result: jobReport("result"),
  quick_job_progress: jobReport("progress")
}

/** The role each operator event needs (relaying a playbook runs code on devices: Admin only). */
export const OPERATOR_EVENT_ROLES = {
  job_status_request: "Viewer",
  list_agent_windows: "User",
  ansible_playbook_cancel: "User",
  ansible_playbook_run: "Admin"
} as const satisfies Record<string, Role>

/** An operator event refused for the sender's role: dropped with a warning (and `{error}` to an ack). */
const forRole = (event: keyof typeof OPERATOR_EVENT_ROLES, handler: EventHandler): EventHandler => (ctx, args) => {
  const role = OPERATOR_EVENT_ROLES[event]
  if (ctx.identity._tag === "Operator" && roleAtLeast(ctx.identity.role, role)) return handler(ctx, args)
  ackOf(args)?.({ error: "forbidden" })
  return Effect.logWarning("ws-event-forbidden").pipe(
    Effect.annotateLogs({ event, sid: ctx.socket.id, required: role, as: ctx.identity._tag === "Operator" ? ctx.identity.username : ctx.identity._tag })
  )
}

/** What an operator's browser may emit, each behind its role. */
export const operatorHandlers: Record<string, EventHandler> = {
  list_agent_windows: forRole("list_agent_windows", listAgentWindows),
  ansible_playbook_run: forRole("ansible_playbook_run", ansibleRun),
  ansible_playbook_cancel: forRole("ansible_playbook_cancel", ansibleCancel),
  job_status_request: forRole("job_status_request", jobStatusRequest)
}
