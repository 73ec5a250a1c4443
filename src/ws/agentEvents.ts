// Agent presence and reports over the socket: connect_agent, heartbeats, collector status, config
// requests, screenshots, and the agent → operator relays. Each only for the sender's own agent ids.
// spec: realtime-jobs.md §2.1, §2.2
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { AgentRegistry } from "../services/realtime/AgentRegistry.ts"
import { agentRoom, RealtimeOutbox } from "../services/realtime/RealtimeOutbox.ts"
import { ScreenshotCache } from "../services/realtime/ScreenshotCache.ts"
import { ackOf, dropped, type EventHandler, type Json, nonEmptyString, ownAgentId, payloadOf } from "./events.ts"

export const connectAgent: EventHandler = (ctx, args) =>
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

export const agentHeartbeat: EventHandler = (ctx, args) =>
  Effect.gen(function*() {
    const payload = payloadOf(args)
    const agentId = yield* ownAgentId(ctx, "agent_heartbeat", payload)
    if (Option.isNone(agentId)) return
    yield* (yield* AgentRegistry).heartbeat(ctx.socket.id, payload)
    ackOf(args)?.({ status: "ok" })
  })

export const collectorStatus: EventHandler = (ctx, args) =>
  Effect.gen(function*() {
    const payload = payloadOf(args)
    if (Option.isNone(yield* ownAgentId(ctx, "collector_status", payload))) return
    yield* (yield* AgentRegistry).collectorStatus(ctx.socket.id, payload)
  })

export const requestConfig: EventHandler = (ctx, args) =>
  Effect.gen(function*() {
    const agentId = yield* ownAgentId(ctx, "request_config", payloadOf(args))
    if (Option.isNone(agentId)) return
    const config = yield* (yield* AgentRegistry).getConfig(agentId.value)
    // Only the requesting socket gets it; no config, no reply.
    if (Option.isSome(config)) ctx.socket.emit("agent_config", { ...config.value, agent_id: agentId.value })
  })

export const screenshotTask: EventHandler = (ctx, args) =>
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

export const screenshot: EventHandler = (ctx, args) =>
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
export const relayToOperators = (event: string): EventHandler => (ctx, args) =>
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
export const listAgentWindows: EventHandler = (_ctx, args) =>
  Effect.gen(function*() {
    const payload = payloadOf(args)
    const outbox = yield* RealtimeOutbox
    const agentId = nonEmptyString(payload["agent_id"])
    if (agentId !== undefined) yield* outbox.toAgent(agentId, "list_agent_windows", payload)
    else yield* outbox.toAllAgents("list_agent_windows", payload)
  })
