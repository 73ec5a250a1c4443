// Who hears what: server→agent events go to that agent's (or host's) sockets only, agent→operator
// relays and server notices go to authenticated operator sockets only. The original broadcast all of
// it to everyone, agents included. spec: realtime-jobs.md §1.2, §2.3–§2.4
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { SocketIo } from "../../layers/HttpServer.ts"
import type { ServiceMode } from "./agentRules.ts"
import { AgentRegistry } from "./AgentRegistry.ts"

/** Internal room names (clients never see them); prefixed so an agent id cannot name a role room. */
export const OPERATORS_ROOM = "role:operators"
export const AGENTS_ROOM = "role:agents"
export const agentRoom = (agentId: string) => `agent:${agentId}`

export class RealtimeOutbox extends Effect.Service<RealtimeOutbox>()("borealis/RealtimeOutbox", {
  effect: Effect.gen(function*() {
    const io = yield* SocketIo
    const registry = yield* AgentRegistry
    return {
      toOperators: (event: string, payload: unknown) => Effect.sync(() => void io.to(OPERATORS_ROOM).emit(event, payload)),
      /** To the sockets that announced `agentId` with `connect_agent`. */
      toAgent: (agentId: string, event: string, payload: unknown) => Effect.sync(() => void io.to(agentRoom(agentId)).emit(event, payload)),
      toAllAgents: (event: string, payload: unknown) => Effect.sync(() => void io.to(AGENTS_ROOM).emit(event, payload)),
      /**
       * To the agent sockets of `hostname` (optionally only those in a service mode); how many
       * sockets received it (0 = no such agent connected).
       */
      toHost: (hostname: string, mode: Option.Option<ServiceMode>, event: string, payload: unknown) =>
        Effect.gen(function*() {
          const ids = yield* registry.agentSockets(hostname, mode)
          if (ids.length > 0) io.to([...ids]).emit(event, payload)
          return ids.length
        })
    } as const
  })
}) {}
