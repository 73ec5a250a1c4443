// Socket.IO events (namespace `/`): the plumbing every handler shares (payload decoding, acks, the
// sender's own agent ids). The handlers live by concern: agentEvents.ts (presence, config, screenshots,
// relays) and jobEvents.ts (job reports, job status, playbook relays); handlers.ts says who may emit
// what. Payload shapes are the original's; who may send and who hears each event is not (see
// RealtimeOutbox). spec: realtime-jobs.md §2.1–§2.3
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type * as Schema from "effect/Schema"
import type { Socket } from "socket.io"
import { logDebugWith } from "../layers/Logging.ts"
import { lenientDecoder } from "../services/lenientSchema.ts"
import { agentIdBelongsTo } from "../services/realtime/agentRules.ts"
import { AgentRegistry, type SocketIdentity } from "../services/realtime/AgentRegistry.ts"
import { RealtimeOutbox } from "../services/realtime/RealtimeOutbox.ts"
import { ScreenshotCache } from "../services/realtime/ScreenshotCache.ts"
import { JobResults } from "../services/jobs/JobResults.ts"
import { ScheduledJobs } from "../services/jobs/ScheduledJobs.ts"

export interface EventContext {
  readonly socket: Socket
  readonly identity: SocketIdentity
}

export type Json = Readonly<Record<string, unknown>>

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

export const nonEmptyString = (v: unknown): string | undefined => (typeof v === "string" && v.trim() !== "" ? v : undefined)

export const dropped = (ctx: EventContext, event: string, reason: string) =>
  logDebugWith("ws-payload-dropped", () => ({ event, reason, sid: ctx.socket.id }))

/**
 * An event's payload decoded with its schema (the first argument; a missing or non-object payload
 * reads as `{}`): the typed payload, or the `ws-payload-dropped` debug line, with the failing piece's
 * code as its reason, and nothing. Build once per event (the decoder is compiled here).
 */
export const eventPayload = <A, I>(schema: Schema.Schema<A, I>) => {
  const decode = lenientDecoder(schema)
  return (ctx: EventContext, event: string, args: ReadonlyArray<unknown>): Effect.Effect<Option.Option<A>> =>
    Either.match(decode(payloadOf(args)), {
      onLeft: (reason) => Effect.as(dropped(ctx, event, reason), Option.none()),
      onRight: (payload) => Effect.succeed(Option.some(payload))
    })
}

/** A device socket speaks only for its own agent ids; a pre-token (anonymous) agent for any. */
const mayActAs = (ctx: EventContext, agentId: string): boolean =>
  ctx.identity._tag === "LegacyAgent" ||
  (ctx.identity._tag === "Agent" && agentIdBelongsTo(agentId, { guid: ctx.identity.guid, hostname: ctx.identity.hostname }))

/**
 * An agent event's payload decoded with its schema (as `eventPayload`), and only when its `agent_id`
 * is one this socket may speak for: otherwise a `ws-agent-id-refused` warning and nothing. Build once
 * per event.
 */
export const ownAgentPayload = <A extends { readonly agent_id: string }, I>(schema: Schema.Schema<A, I>) => {
  const decode = eventPayload(schema)
  return (ctx: EventContext, event: string, args: ReadonlyArray<unknown>): Effect.Effect<Option.Option<A>> =>
    Effect.flatMap(decode(ctx, event, args), (payload) => {
      if (Option.isNone(payload) || mayActAs(ctx, payload.value.agent_id)) return Effect.succeed(payload)
      return Effect.as(
        Effect.logWarning("ws-agent-id-refused").pipe(Effect.annotateLogs({ event, agent_id: payload.value.agent_id, sid: ctx.socket.id })),
        Option.none()
      )
    })
}
