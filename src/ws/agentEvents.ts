// Agent presence and reports over the socket: connect_agent, heartbeats, collector status, config
// requests, screenshots, and the agent → operator relays. Each only for the sender's own agent ids;
// payloads are decoded with the realtime capability's schemas (a decoder per event, built here once).
// spec: realtime-jobs.md §2.1, §2.2
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { AgentRegistry } from "../services/realtime/AgentRegistry.ts"
import { agentRoom, RealtimeOutbox } from "../services/realtime/RealtimeOutbox.ts"
import {
  AgentHeartbeatPayload,
  AgentIdPayload,
  CollectorStatusPayload,
  ConnectAgentPayload,
  ListAgentWindowsPayload,
  MacroStatusPayload,
  ScreenshotPayload,
  ScreenshotTaskPayload
} from "../services/realtime/requests.ts"
import { ScreenshotCache } from "../services/realtime/ScreenshotCache.ts"
import { ackOf, type EventHandler, eventPayload, ownAgentPayload, payloadOf } from "./events.ts"

const connectPayload = ownAgentPayload(ConnectAgentPayload)
const heartbeatPayload = ownAgentPayload(AgentHeartbeatPayload)
const collectorPayload = ownAgentPayload(CollectorStatusPayload)
const agentIdPayload = ownAgentPayload(AgentIdPayload)
const macroStatusPayload = ownAgentPayload(MacroStatusPayload)
const screenshotTaskPayload = ownAgentPayload(ScreenshotTaskPayload)
const screenshotPayload = ownAgentPayload(ScreenshotPayload)
const listWindowsPayload = eventPayload(ListAgentWindowsPayload)

export const connectAgent: EventHandler = (ctx, args) =>
  Effect.gen(function*() {
    const ack = ackOf(args)
    // A later agent variant sends the id as a bare string.
    const payload = yield* connectPayload(ctx, "connect_agent", typeof args[0] === "string" ? [{ agent_id: args[0] }] : args)
    if (Option.isNone(payload)) {
      ack?.({ error: "agent_id_required" })
      return
    }
    const agentId = payload.value.agent_id
    const record = yield* (yield* AgentRegistry).connectAgent(ctx.socket.id, payload.value)
    yield* Effect.promise(async () => ctx.socket.join(agentRoom(agentId)))
    yield* Effect.logInfo("agent-connected").pipe(
      Effect.annotateLogs({ agent_id: record.agent_id, mode: record.service_mode, status: record.status, guid: record.agent_guid })
    )
    ack?.({ status: "ok" })
  })

export const agentHeartbeat: EventHandler = (ctx, args) =>
  Effect.gen(function*() {
    const payload = yield* heartbeatPayload(ctx, "agent_heartbeat", args)
    if (Option.isNone(payload)) return
    yield* (yield* AgentRegistry).heartbeat(ctx.socket.id, payload.value)
    ackOf(args)?.({ status: "ok" })
  })

export const collectorStatus: EventHandler = (ctx, args) =>
  Effect.gen(function*() {
    const payload = yield* collectorPayload(ctx, "collector_status", args)
    if (Option.isNone(payload)) return
    yield* (yield* AgentRegistry).collectorStatus(ctx.socket.id, payload.value)
  })

export const requestConfig: EventHandler = (ctx, args) =>
  Effect.gen(function*() {
    const payload = yield* agentIdPayload(ctx, "request_config", args)
    if (Option.isNone(payload)) return
    const agentId = payload.value.agent_id
    const config = yield* (yield* AgentRegistry).getConfig(agentId)
    // Only the requesting socket gets it; no config, no reply.
    if (Option.isSome(config)) ctx.socket.emit("agent_config", { ...config.value, agent_id: agentId })
  })

export const screenshotTask: EventHandler = (ctx, args) =>
  Effect.gen(function*() {
    const payload = yield* screenshotTaskPayload(ctx, "agent_screenshot_task", args)
    if (Option.isNone(payload)) return
    const { agent_id, image_base64, node_id } = payload.value
    if (image_base64 !== undefined) yield* (yield* ScreenshotCache).put(agent_id, node_id, image_base64)
    // Geometry-only frames are relayed too, unchanged.
    yield* (yield* RealtimeOutbox).toOperators("agent_screenshot_task", payloadOf(args))
  })

export const screenshot: EventHandler = (ctx, args) =>
  Effect.gen(function*() {
    const payload = yield* screenshotPayload(ctx, "screenshot", args)
    if (Option.isNone(payload)) return
    const { agent_id, image_base64 } = payload.value
    yield* (yield* ScreenshotCache).put(agent_id, null, image_base64)
    yield* (yield* RealtimeOutbox).toOperators("new_screenshot", { agent_id, image_base64 })
  })

/** `macro_status`, agent → operators unchanged (and logged). */
export const macroStatus: EventHandler = (ctx, args) =>
  Effect.gen(function*() {
    const payload = yield* macroStatusPayload(ctx, "macro_status", args)
    if (Option.isNone(payload)) return
    const { agent_id, node_id, success } = payload.value
    yield* Effect.logInfo("macro-status").pipe(Effect.annotateLogs({ agent: agent_id, node: node_id, success }))
    yield* (yield* RealtimeOutbox).toOperators("macro_status", payloadOf(args))
  })

/** Agent → operators, unchanged (agent_window_list). */
export const relayToOperators = (event: string): EventHandler => (ctx, args) =>
  Effect.gen(function*() {
    if (Option.isNone(yield* agentIdPayload(ctx, event, args))) return
    yield* (yield* RealtimeOutbox).toOperators(event, payloadOf(args))
  })

/** Operator → the agent(s) concerned, unchanged. */
export const listAgentWindows: EventHandler = (ctx, args) =>
  Effect.gen(function*() {
    const payload = yield* listWindowsPayload(ctx, "list_agent_windows", args)
    if (Option.isNone(payload)) return
    const outbox = yield* RealtimeOutbox
    const agentId = payload.value.agent_id
    if (agentId !== undefined) yield* outbox.toAgent(agentId, "list_agent_windows", payloadOf(args))
    else yield* outbox.toAllAgents("list_agent_windows", payloadOf(args))
  })
