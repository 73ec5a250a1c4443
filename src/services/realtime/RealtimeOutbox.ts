// Who hears what: server→agent events go to that agent's (or host's) sockets only, agent→operator
// relays and server notices go to authenticated operator sockets only. The original broadcast all of
// it to everyone, agents included. spec: realtime-jobs.md §1.2, §2.3–§2.4
import * as SqlClient from "@effect/sql/SqlClient"
import * as SqlSchema from "@effect/sql/SqlSchema"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { normalizeGuid } from "../devices/identity.ts"
import { SocketIo } from "../../layers/SocketIo.ts"
import * as Row from "../../layers/sqlRows.ts"
import type { ServiceMode } from "./agentRules.ts"
import { AgentRegistry } from "./AgentRegistry.ts"

/**
 * Where a delivery for a hostname goes: the enrolled device holding it (any letter case), found by
 * GUID — or, when no device holds it, pre-token agents that claimed it (anonymous mode only).
 */
export interface DeliveryTarget {
  readonly hostname: string
  readonly guid: string | null
}

/** Internal room names (clients never see them); prefixed so an agent id cannot name a role room. */
export const OPERATORS_ROOM = "role:operators"
export const AGENTS_ROOM = "role:agents"
export const agentRoom = (agentId: string) => `agent:${agentId}`

export class RealtimeOutbox extends Effect.Service<RealtimeOutbox>()("borealis/RealtimeOutbox", {
  effect: Effect.gen(function*() {
    const io = yield* SocketIo
    const registry = yield* AgentRegistry
    const sql = yield* SqlClient.SqlClient
    const deviceHolding = SqlSchema.findOne({
      Request: Schema.String,
      Result: Schema.Struct({ guid: Row.Nullable(Row.Text) }),
      execute: (hostname) => sql`SELECT guid FROM devices WHERE LOWER(hostname) = LOWER(${hostname}) LIMIT 1`
    })
    return {
      toOperators: (event: string, payload: unknown) => Effect.sync(() => void io.to(OPERATORS_ROOM).emit(event, payload)),
      /** To the sockets that announced `agentId` with `connect_agent`. */
      toAgent: (agentId: string, event: string, payload: unknown) => Effect.sync(() => void io.to(agentRoom(agentId)).emit(event, payload)),
      toAllAgents: (event: string, payload: unknown) => Effect.sync(() => void io.to(AGENTS_ROOM).emit(event, payload)),
      resolveHost: (hostname: string): Effect.Effect<DeliveryTarget> =>
        deviceHolding(hostname).pipe(
          Effect.map((row) => ({ hostname, guid: Option.isNone(row) ? null : normalizeGuid(row.value.guid) })),
          Effect.orDie
        ),
      /**
       * To the target's agent sockets (optionally only those in a service mode); how many sockets
       * received it (0 = no such agent connected). Never to a socket by a hostname it merely claims.
       */
      toTarget: (target: DeliveryTarget, mode: Option.Option<ServiceMode>, event: string, payload: unknown) =>
        Effect.gen(function*() {
          const ids = yield* registry.agentSockets(
            target.guid !== null ? { _tag: "Device", guid: target.guid } : { _tag: "LegacyHost", hostname: target.hostname },
            mode
          )
          if (ids.length > 0) io.to([...ids]).emit(event, payload)
          return ids.length
        })
    } as const
  })
}) {}
