// The agent registry as an actor: one fiber owns every record, config, socket binding and presence
// entry; callers send it messages and (when they need an answer) wait on a reply. A failing message
// fails only its caller; the loop keeps running. spec: realtime-jobs.md §2.2, §3 (E-REG)
import * as SqlClient from "@effect/sql/SqlClient"
import * as SqlSchema from "@effect/sql/SqlSchema"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import * as PubSub from "effect/PubSub"
import * as Queue from "effect/Queue"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import { EngineConfig } from "../../layers/Config.ts"
import { logDebugWith } from "../../layers/Logging.ts"
import * as Row from "../../layers/sqlRows.ts"
import { DeviceWriteBehind } from "../presence/DeviceWriteBehind.ts"
import type { ServiceMode } from "./agentRules.ts"
import {
  type AgentConfig,
  type AgentRecord,
  makeRegistryState,
  type PresenceChange,
  type RecentDevice,
  type RegistryOutput,
  type RegistrySnapshot,
  type SocketIdentity,
  type SocketTarget
} from "./registryState.ts"
import type { AgentHeartbeatPayload, CollectorStatusPayload, ConnectAgentPayload } from "./requests.ts"

/** Who a socket is (the transports name it; the registry keeps it per socket). */
export type { SocketIdentity } from "./registryState.ts"

type Command =
  | { readonly _tag: "SocketOpened"; readonly socketId: string; readonly identity: SocketIdentity }
  | { readonly _tag: "SocketClosed"; readonly socketId: string }
  | { readonly _tag: "ConnectAgent"; readonly socketId: string; readonly payload: ConnectAgentPayload; readonly reply: Deferred.Deferred<AgentRecord> }
  | { readonly _tag: "Heartbeat"; readonly socketId: string; readonly payload: AgentHeartbeatPayload }
  | { readonly _tag: "CollectorStatus"; readonly socketId: string; readonly payload: CollectorStatusPayload; readonly reply: Deferred.Deferred<void> }
  | { readonly _tag: "GetConfig"; readonly agentId: string; readonly reply: Deferred.Deferred<Option.Option<AgentConfig>> }
  | { readonly _tag: "SetConfig"; readonly agentId: string; readonly config: AgentConfig; readonly reply: Deferred.Deferred<void> }
  | { readonly _tag: "DeleteAgent"; readonly agentId: string; readonly reply: Deferred.Deferred<boolean> }
  | { readonly _tag: "RestHeartbeat"; readonly guid: string; readonly hostname: string }
  | { readonly _tag: "AgentSockets"; readonly target: SocketTarget; readonly mode: Option.Option<ServiceMode>; readonly reply: Deferred.Deferred<ReadonlyArray<string>> }
  | { readonly _tag: "Snapshot"; readonly reply: Deferred.Deferred<RegistrySnapshot> }
  | { readonly _tag: "Seed"; readonly devices: ReadonlyArray<RecentDevice> }
  | { readonly _tag: "Sweep" }

export interface RegistryOptions {
  /** How long a device stays online after its last socket closes (so a reconnect does not flap). */
  readonly offlineGrace: Duration.DurationInput
  readonly sweepEvery: Duration.DurationInput
  readonly mailboxCapacity: number
}

const DEFAULT_REGISTRY_OPTIONS: RegistryOptions = {
  offlineGrace: Duration.seconds(30),
  sweepEvery: Duration.seconds(5),
  mailboxCapacity: 16384
}

export const makeAgentRegistry = (options: RegistryOptions = DEFAULT_REGISTRY_OPTIONS) =>
  Effect.gen(function*() {
    const writeBehind = yield* DeviceWriteBehind
    const mailbox = yield* Queue.bounded<Command>(options.mailboxCapacity)
    const changes = yield* PubSub.unbounded<PresenceChange>()
    // Touched only by the actor fiber below.
    const state = makeRegistryState({ graceSeconds: Duration.toSeconds(options.offlineGrace) })
    let processed = 0
    let failures = 0

    const perform = (output: RegistryOutput): Effect.Effect<unknown> =>
      output._tag === "Presence" ? PubSub.publish(changes, output.change) : writeBehind.enqueue(output.match, output.set)

    /** What the transition queued: presence changes published, device rows handed to the write-behind. */
    const performOutputs = Effect.suspend(() => {
      const outputs = state.takeOutputs()
      return outputs.length === 0 ? Effect.void : Effect.forEach(outputs, perform, { discard: true })
    })

    const reply = <A>(deferred: Deferred.Deferred<A>, value: A) => Effect.asVoid(Deferred.succeed(deferred, value))

    /**
     * Run a message's transition (now, synchronously); what is left to do once its outputs are
     * performed: the reply, or a log line.
     */
    const transition = (command: Command, nowMs: number): Effect.Effect<void> => {
      const now = Math.floor(nowMs / 1000)
      switch (command._tag) {
        case "SocketOpened":
          state.socketOpened(command.socketId, command.identity, now)
          return Effect.void
        case "SocketClosed":
          state.socketClosed(command.socketId, now)
          return Effect.void
        case "ConnectAgent":
          return reply(command.reply, state.connectAgent(command.socketId, command.payload, now))
        case "Heartbeat": {
          const seen = state.heartbeat(command.socketId, command.payload, now)
          return seen === undefined ? Effect.void : logDebugWith("agent-heartbeat", () => ({ agent_id: seen.agentId, host: seen.hostname }))
        }
        case "CollectorStatus":
          state.collectorStatus(command.socketId, command.payload, nowMs)
          return reply(command.reply, undefined)
        case "GetConfig":
          return reply(command.reply, state.getConfig(command.agentId))
        case "SetConfig":
          state.setConfig(command.agentId, command.config)
          return reply(command.reply, undefined)
        case "DeleteAgent":
          return reply(command.reply, state.deleteAgent(command.agentId))
        case "RestHeartbeat":
          state.restHeartbeat(command.guid, command.hostname, now)
          return Effect.void
        case "AgentSockets":
          return reply(command.reply, state.agentSockets(command.target, command.mode))
        case "Snapshot":
          return reply(command.reply, state.snapshot(nowMs))
        case "Seed":
          state.seed(command.devices, now)
          return Effect.void
        case "Sweep":
          state.sweep(now)
          return Effect.void
      }
    }

    const handle = (command: Command): Effect.Effect<void> =>
      Effect.flatMap(Clock.currentTimeMillis, (nowMs) => {
        const then = transition(command, nowMs)
        return Effect.zipRight(performOutputs, then)
      })

    /** The actor: one message at a time; a defect fails that message's caller and is logged. */
    const loop = Queue.take(mailbox).pipe(
      Effect.flatMap((command) =>
        handle(command).pipe(
          Effect.catchAllCause((cause) =>
            Effect.gen(function*() {
              failures++
              // Whatever the failed transition queued and did not perform is dropped with it.
              state.takeOutputs()
              yield* Effect.logError("agent-registry-message-failed", cause).pipe(Effect.annotateLogs({ message: command._tag }))
              if ("reply" in command) yield* Deferred.die(command.reply as Deferred.Deferred<unknown>, new Error(`registry failed on ${command._tag}`))
            })
          ),
          Effect.ensuring(Effect.sync(() => void processed++))
        )
      ),
      Effect.forever
    )

    const ask = <A>(make: (reply: Deferred.Deferred<A>) => Command) =>
      Effect.gen(function*() {
        const reply = yield* Deferred.make<A>()
        yield* Queue.offer(mailbox, make(reply))
        return yield* Deferred.await(reply)
      })
    const tell = (command: Command) => Queue.offer(mailbox, command).pipe(Effect.asVoid)

    return {
      /** Run the actor and its presence sweeper until the scope closes. */
      run: Effect.all([
        loop,
        tell({ _tag: "Sweep" }).pipe(Effect.repeat(Schedule.spaced(options.sweepEvery)), Effect.asVoid)
      ], { concurrency: "unbounded", discard: true }),
      socketOpened: (socketId: string, identity: SocketIdentity) => tell({ _tag: "SocketOpened", socketId, identity }),
      socketClosed: (socketId: string) => tell({ _tag: "SocketClosed", socketId }),
      connectAgent: (socketId: string, payload: ConnectAgentPayload) =>
        ask<AgentRecord>((reply) => ({ _tag: "ConnectAgent", socketId, payload, reply })),
      /** Told, not asked: the sender's ack does not wait for the actor (the bounded mailbox still pushes back). */
      heartbeat: (socketId: string, payload: AgentHeartbeatPayload) => tell({ _tag: "Heartbeat", socketId, payload }),
      collectorStatus: (socketId: string, payload: CollectorStatusPayload) =>
        ask<void>((reply) => ({ _tag: "CollectorStatus", socketId, payload, reply })),
      getConfig: (agentId: string) => ask<Option.Option<AgentConfig>>((reply) => ({ _tag: "GetConfig", agentId, reply })),
      setConfig: (agentId: string, config: AgentConfig) => ask<void>((reply) => ({ _tag: "SetConfig", agentId, config, reply })),
      deleteAgent: (agentId: string) => ask<boolean>((reply) => ({ _tag: "DeleteAgent", agentId, reply })),
      restHeartbeat: (guid: string, hostname: string) => tell({ _tag: "RestHeartbeat", guid, hostname }),
      /** The sockets a delivery to `target` reaches (only those in `mode`, when given). */
      agentSockets: (target: SocketTarget, mode: Option.Option<ServiceMode>) =>
        ask<ReadonlyArray<string>>((reply) => ({ _tag: "AgentSockets", target, mode, reply })),
      snapshot: ask<RegistrySnapshot>((reply) => ({ _tag: "Snapshot", reply })),
      seed: (devices: ReadonlyArray<RecentDevice>) => tell({ _tag: "Seed", devices }),
      /** Presence transitions (online ↔ offline), for operator broadcasts. */
      changes,
      /** Messages handled / failed so far, and the mailbox depth (for metrics and readiness). */
      stats: Effect.map(Queue.size(mailbox), (depth) => ({ processed, failures, depth }))
    } as const
  })

// A legacy row may lack its GUID (SQLite lets a TEXT primary key be NULL): no socket can match it.
const RecentDeviceRow = Schema.Struct({ guid: Row.Nullable(Row.Text), hostname: Row.Nullable(Row.Text), last_seen: Row.Nullable(Row.Num) })

export class AgentRegistry extends Effect.Service<AgentRegistry>()("borealis/AgentRegistry", {
  scoped: Effect.gen(function*() {
    const config = yield* EngineConfig
    const registry = yield* makeAgentRegistry({ ...DEFAULT_REGISTRY_OPTIONS, offlineGrace: Duration.seconds(config.socket.presenceGraceSeconds) })
    const sql = yield* SqlClient.SqlClient
    const recentDevices = SqlSchema.findAll({
      Request: Schema.Void,
      Result: RecentDeviceRow,
      execute: () => sql`SELECT guid, hostname, last_seen FROM devices WHERE last_seen IS NOT NULL`
    })
    // Supervised in the app scope: interrupted on shutdown, never left running.
    yield* Effect.forkScoped(registry.run)
    // After a restart, devices seen in the last 300 s stay online while their agents reconnect.
    const recent = yield* recentDevices(undefined).pipe(
      // With migrations skipped on an empty file there is no devices table yet; start anyway.
      Effect.catchAll((error) =>
        Effect.as(
          Effect.logWarning("agent-registry-seed-skipped").pipe(
            Effect.annotateLogs({ reason: error._tag === "SqlError" ? String(error.cause) : error.message })
          ),
          []
        )
      )
    )
    yield* registry.seed(recent.flatMap((d) => d.guid === null ? [] : [{ guid: d.guid.toUpperCase(), hostname: d.hostname ?? "", last_seen: d.last_seen ?? 0 }]))
    return registry
  })
}) {}
