// The agent registry as an actor: one fiber owns every record, config, socket binding and presence
// entry; callers send it messages and (when they need an answer) wait on a reply. A failing message
// fails only its caller; the loop keeps running. spec: realtime-jobs.md §2.2, §3 (E-REG)
import * as SqlClient from "@effect/sql/SqlClient"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as PubSub from "effect/PubSub"
import * as Queue from "effect/Queue"
import * as Schedule from "effect/Schedule"
import { EngineConfig } from "../../layers/Config.ts"
import { logDebugWith } from "../../layers/Logging.ts"
import { capText, hostnameKey } from "../devices/identity.ts"
import { DeviceWriteBehind, type DeviceColumns, type DeviceMatch } from "../presence/DeviceWriteBehind.ts"
import {
  COLLECTOR_ACTIVE_SECONDS,
  isInteractiveUser,
  isScriptAgent,
  isSystemServiceAgent,
  normalizeServiceMode,
  ONLINE_WINDOW_SECONDS,
  type ServiceMode
} from "./agentRules.ts"

export interface AgentRecord {
  readonly agent_id: string
  readonly hostname: string
  readonly agent_operating_system: string
  readonly last_seen: number
  readonly status: string
  readonly service_mode: ServiceMode
  readonly is_script_agent: boolean
  readonly collector_active_ts: number | null
  /** The device this agent authenticated as (token-era agents), else "". */
  readonly agent_guid: string
}

export interface AgentSnapshotEntry extends AgentRecord {
  readonly collector_active: boolean
  readonly online: boolean
}

/** Who a socket is, as its handshake established. */
export type SocketIdentity =
  | { readonly _tag: "Agent"; readonly guid: string; readonly hostname: string; readonly serviceMode: Option.Option<string> }
  | { readonly _tag: "LegacyAgent" }
  | {
    readonly _tag: "Operator"
    readonly username: string
    readonly role: string
    /** The account and session the socket was opened with (so revoking them cuts it). */
    readonly userId?: number | undefined
    readonly sessionHash?: string | undefined
    /** When the session ends unless used again (epoch seconds): the socket is re-checked then. */
    readonly expiresAt?: number | undefined
  }

/**
 * Whose sockets a delivery goes to: an enrolled device's (by GUID: only sockets that authenticated
 * as that device), or — for a hostname no device holds — pre-token agents that claimed it (only
 * possible with BOREALIS_SOCKET_ALLOW_ANONYMOUS).
 */
export type SocketTarget =
  | { readonly _tag: "Device"; readonly guid: string }
  | { readonly _tag: "LegacyHost"; readonly hostname: string }

export interface PresenceChange {
  readonly key: string
  readonly hostname: string
  readonly guid: string
  readonly online: boolean
  readonly at: number
  readonly agent_ids: ReadonlyArray<string>
}

export interface RegistrySnapshot {
  readonly agents: ReadonlyMap<string, AgentSnapshotEntry>
  /** Lowercased hostnames whose device is online (live agent socket, or REST heartbeat ≤ 300 s). */
  readonly onlineHostnames: ReadonlySet<string>
  readonly sockets: { readonly agents: number; readonly operators: number; readonly legacy: number }
  readonly byServiceMode: Readonly<Record<ServiceMode, number>>
}

type Json = Readonly<Record<string, unknown>>

type Command =
  | { readonly _tag: "SocketOpened"; readonly socketId: string; readonly identity: SocketIdentity }
  | { readonly _tag: "SocketClosed"; readonly socketId: string }
  | { readonly _tag: "ConnectAgent"; readonly socketId: string; readonly agentId: string; readonly payload: Json; readonly reply: Deferred.Deferred<AgentRecord> }
  | { readonly _tag: "Heartbeat"; readonly socketId: string; readonly payload: Json }
  | { readonly _tag: "CollectorStatus"; readonly socketId: string; readonly payload: Json; readonly reply: Deferred.Deferred<void> }
  | { readonly _tag: "GetConfig"; readonly agentId: string; readonly reply: Deferred.Deferred<Option.Option<Json>> }
  | { readonly _tag: "SetConfig"; readonly agentId: string; readonly config: Json; readonly reply: Deferred.Deferred<void> }
  | { readonly _tag: "DeleteAgent"; readonly agentId: string; readonly reply: Deferred.Deferred<boolean> }
  | { readonly _tag: "RestHeartbeat"; readonly guid: string; readonly hostname: string }
  | { readonly _tag: "AgentSockets"; readonly target: SocketTarget; readonly mode: Option.Option<ServiceMode>; readonly reply: Deferred.Deferred<ReadonlyArray<string>> }
  | { readonly _tag: "Snapshot"; readonly reply: Deferred.Deferred<RegistrySnapshot> }
  | { readonly _tag: "Seed"; readonly devices: ReadonlyArray<{ readonly guid: string; readonly hostname: string; readonly last_seen: number }> }
  | { readonly _tag: "Sweep" }

interface MutableRecord {
  agent_id: string
  hostname: string
  agent_operating_system: string
  last_seen: number
  status: string
  service_mode: ServiceMode
  is_script_agent: boolean
  collector_active_ts: number | null
  agent_guid: string
}

interface SocketEntry {
  readonly id: string
  readonly identity: SocketIdentity
  readonly agentIds: Set<string>
  /** Presence key of the device this socket keeps online, once known. */
  presenceKey: string | undefined
  hostname: string
  mode: ServiceMode | undefined
}

interface PresenceEntry {
  readonly key: string
  hostname: string
  guid: string
  /** Open sockets keeping this device online. */
  readonly socketIds: Set<string>
  lastRest: number
  online: boolean
  offlineSince: number | undefined
}

export interface RegistryOptions {
  /** How long a device stays online after its last socket closes (so a reconnect does not flap). */
  readonly offlineGrace: Duration.DurationInput
  readonly sweepEvery: Duration.DurationInput
  readonly mailboxCapacity: number
}

export const DEFAULT_REGISTRY_OPTIONS: RegistryOptions = {
  offlineGrace: Duration.seconds(30),
  sweepEvery: Duration.seconds(5),
  mailboxCapacity: 16384
}

/** A payload field as text, capped (hostnames, OS names and users an agent reports end up stored). */
const str = (v: unknown): string => capText(typeof v === "string" ? v : v === undefined || v === null ? "" : String(v), 1024)
const freeze = (r: MutableRecord): AgentRecord => ({ ...r })

const indexAdd = (index: Map<string, Set<string>>, key: string, id: string) => {
  const set = index.get(key)
  if (set === undefined) index.set(key, new Set([id]))
  else set.add(id)
}

const indexRemove = (index: Map<string, Set<string>>, key: string, id: string) => {
  const set = index.get(key)
  if (set === undefined) return
  set.delete(id)
  if (set.size === 0) index.delete(key)
}

export const makeAgentRegistry = (options: RegistryOptions = DEFAULT_REGISTRY_OPTIONS) =>
  Effect.gen(function*() {
    const writeBehind = yield* DeviceWriteBehind
    const mailbox = yield* Queue.bounded<Command>(options.mailboxCapacity)
    const changes = yield* PubSub.unbounded<PresenceChange>()
    const graceSeconds = Duration.toSeconds(options.offlineGrace)

    // --- state, touched only by the actor fiber below -------------------------------------------
    const records = new Map<string, MutableRecord>()
    const configs = new Map<string, Json>()
    const sockets = new Map<string, SocketEntry>()
    const presence = new Map<string, PresenceEntry>()
    // Indexes, so no message scans every agent (a heartbeat from each of N agents stays O(N) overall).
    /** Exact hostname → agent ids of the records claiming it. */
    const recordsByHost = new Map<string, Set<string>>()
    /** Device GUID → ids of the sockets that authenticated as it. */
    const socketsByGuid = new Map<string, Set<string>>()
    /** Lowercased hostname → ids of the pre-token (anonymous) agent sockets that claimed it. */
    const socketsByHost = new Map<string, Set<string>>()
    let processed = 0
    let failures = 0

    const nowSeconds = Effect.map(Clock.currentTimeMillis, (ms) => Math.floor(ms / 1000))

    const recordFor = (agentId: string): MutableRecord => {
      let r = records.get(agentId)
      if (r === undefined) {
        r = {
          agent_id: agentId,
          hostname: "unknown",
          agent_operating_system: "-",
          last_seen: 0,
          status: "orphaned",
          service_mode: "currentuser",
          is_script_agent: false,
          collector_active_ts: null,
          agent_guid: ""
        }
        records.set(agentId, r)
        indexAdd(recordsByHost, r.hostname, agentId)
      }
      return r
    }

    const setRecordHost = (r: MutableRecord, hostname: string) => {
      if (r.hostname === hostname) return
      indexRemove(recordsByHost, r.hostname, r.agent_id)
      indexAdd(recordsByHost, hostname, r.agent_id)
      r.hostname = hostname
    }

    const dropRecord = (agentId: string): boolean => {
      const r = records.get(agentId)
      if (r === undefined) return false
      records.delete(agentId)
      indexRemove(recordsByHost, r.hostname, agentId)
      return true
    }

    /** Only anonymous sockets are found by hostname; a device's sockets are found by its GUID. */
    const setSocketHost = (s: SocketEntry, hostname: string) => {
      if (s.hostname === hostname) return
      if (s.identity._tag === "LegacyAgent") {
        indexRemove(socketsByHost, hostnameKey(s.hostname), s.id)
        if (hostname !== "") indexAdd(socketsByHost, hostnameKey(hostname), s.id)
      }
      s.hostname = hostname
    }

    const agentIdsOf = (key: string): Array<string> => {
      const ids = new Set<string>()
      for (const socketId of presence.get(key)?.socketIds ?? []) {
        for (const id of sockets.get(socketId)?.agentIds ?? []) ids.add(id)
      }
      return [...ids]
    }

    const publish = (entry: PresenceEntry, at: number) =>
      PubSub.publish(changes, { key: entry.key, hostname: entry.hostname, guid: entry.guid, online: entry.online, at, agent_ids: agentIdsOf(entry.key) })

    const presenceEntry = (key: string, hostname: string, guid: string): PresenceEntry => {
      let p = presence.get(key)
      if (p === undefined) {
        p = { key, hostname, guid, socketIds: new Set(), lastRest: 0, online: false, offlineSince: undefined }
        presence.set(key, p)
      }
      if (hostname !== "" && hostname !== "unknown") p.hostname = hostname
      if (guid !== "") p.guid = guid
      return p
    }

    const markOnline = (p: PresenceEntry, now: number) =>
      Effect.gen(function*() {
        p.offlineSince = undefined
        if (!p.online) {
          p.online = true
          yield* publish(p, now)
        }
      })

    /** Bind a socket to the device it keeps online. */
    const attachPresence = (socket: SocketEntry, key: string, hostname: string, guid: string, now: number) =>
      Effect.gen(function*() {
        if (socket.presenceKey === key) return
        if (socket.presenceKey !== undefined) {
          const old = presence.get(socket.presenceKey)
          old?.socketIds.delete(socket.id)
        }
        socket.presenceKey = key
        const p = presenceEntry(key, hostname, guid)
        p.socketIds.add(socket.id)
        yield* markOnline(p, now)
      })

    /** `update_device_summary` through the write-behind: only non-empty values, never "-" or "unknown". */
    const persist = (input: { readonly guid: string; readonly hostname: string; readonly agentId: string; readonly set: DeviceColumns }) => {
      const match: DeviceMatch | undefined = input.guid !== ""
        ? { _tag: "Guid", guid: input.guid }
        : input.hostname !== "" && input.hostname !== "unknown"
        ? { _tag: "Host", hostname: input.hostname, agentId: input.agentId }
        : undefined
      if (match === undefined) return Effect.void
      return writeBehind.enqueue(match, input.set)
    }

    const osColumn = (os: string): DeviceColumns => (os !== "" && os !== "-" ? { operating_system: os } : {})

    /** Socket identity constrains what the record may claim: a device socket speaks for its own device. */
    const bindToSocket = (record: MutableRecord, socket: SocketEntry | undefined) => {
      if (socket?.identity._tag === "Agent") {
        record.agent_guid = socket.identity.guid
        if (socket.identity.hostname !== "") setRecordHost(record, socket.identity.hostname)
      }
    }

    const handle = (command: Command): Effect.Effect<void> =>
      Effect.gen(function*() {
        const now = yield* nowSeconds
        switch (command._tag) {
          case "SocketOpened": {
            const entry: SocketEntry = { id: command.socketId, identity: command.identity, agentIds: new Set(), presenceKey: undefined, hostname: "", mode: undefined }
            sockets.set(command.socketId, entry)
            if (command.identity._tag === "Agent") {
              indexAdd(socketsByGuid, command.identity.guid, command.socketId)
              setSocketHost(entry, command.identity.hostname)
              yield* attachPresence(entry, `guid:${command.identity.guid}`, command.identity.hostname, command.identity.guid, now)
            }
            return
          }
          case "SocketClosed": {
            const entry = sockets.get(command.socketId)
            sockets.delete(command.socketId)
            if (entry !== undefined) setSocketHost(entry, "")
            if (entry?.identity._tag === "Agent") indexRemove(socketsByGuid, entry.identity.guid, command.socketId)
            if (entry?.presenceKey !== undefined) {
              const p = presence.get(entry.presenceKey)
              if (p !== undefined) {
                p.socketIds.delete(command.socketId)
                if (p.socketIds.size === 0 && now - p.lastRest > ONLINE_WINDOW_SECONDS && p.offlineSince === undefined) p.offlineSince = now
              }
            }
            return
          }
          case "ConnectAgent": {
            const socket = sockets.get(command.socketId)
            const r = recordFor(command.agentId)
            r.service_mode = normalizeServiceMode(command.payload["service_mode"], command.agentId)
            r.is_script_agent = isScriptAgent(command.agentId)
            r.last_seen = now
            r.status = configs.has(command.agentId) ? "provisioned" : "orphaned"
            const claimedHost = str(command.payload["hostname"]).trim()
            if (claimedHost !== "" && r.hostname === "unknown") setRecordHost(r, claimedHost)
            bindToSocket(r, socket)
            if (socket !== undefined) {
              socket.agentIds.add(command.agentId)
              socket.mode = r.service_mode
              if (socket.hostname === "" && r.hostname !== "unknown") setSocketHost(socket, r.hostname)
              if (socket.identity._tag === "LegacyAgent" && r.hostname !== "unknown") {
                yield* attachPresence(socket, `host:${r.hostname.toLowerCase()}`, r.hostname, "", now)
              }
            }
            yield* persist({ guid: r.agent_guid, hostname: r.hostname, agentId: r.agent_id, set: { last_seen: now, agent_id: r.agent_id, ...osColumn(r.agent_operating_system) } })
            yield* Deferred.succeed(command.reply, freeze(r))
            return
          }
          case "Heartbeat": {
            const payload = command.payload
            const agentId = str(payload["agent_id"])
            if (agentId === "") return
            const socket = sockets.get(command.socketId)
            const hostname = socket?.identity._tag === "Agent" && socket.identity.hostname !== ""
              ? socket.identity.hostname
              : str(payload["hostname"]).trim()
            // Without a mode in the payload the record keeps the one it announced (the original reset it).
            const known = records.get(agentId)
            const mode = typeof payload["service_mode"] === "string" && payload["service_mode"] !== "" || known === undefined
              ? normalizeServiceMode(payload["service_mode"], agentId)
              : known.service_mode
            const script = isScriptAgent(agentId)
            const claimed = Number(payload["last_seen"])
            const lastSeen = Number.isFinite(claimed) && claimed > 0 ? Math.trunc(claimed) : now
            const os = str(payload["agent_operating_system"]).trim() || "-"
            if (hostname !== "") {
              // Several agents per host (service + interactive + script helper): collapse per (hostname, mode).
              let transferred = false
              for (const existingId of [...(recordsByHost.get(hostname) ?? [])]) {
                const info = records.get(existingId)
                if (info === undefined || existingId === agentId) continue
                if (normalizeServiceMode(info.service_mode, existingId) !== mode) continue
                if (script && !info.is_script_agent) {
                  yield* persist({ guid: info.agent_guid, hostname, agentId: existingId, set: { last_seen: lastSeen, ...osColumn(info.agent_operating_system) } })
                  continue
                }
                if (!transferred && configs.has(existingId) && !configs.has(agentId)) {
                  configs.set(agentId, configs.get(existingId)!)
                  transferred = true
                }
                dropRecord(existingId)
                configs.delete(existingId)
              }
            }
            const r = recordFor(agentId)
            if (hostname !== "") setRecordHost(r, hostname)
            r.agent_operating_system = os
            r.last_seen = lastSeen
            r.service_mode = mode
            r.is_script_agent = script
            r.status = configs.has(agentId) ? "provisioned" : r.status || "orphaned"
            bindToSocket(r, socket)
            if (socket !== undefined) {
              socket.agentIds.add(agentId)
              if (socket.identity._tag === "LegacyAgent" && r.hostname !== "unknown") {
                yield* attachPresence(socket, `host:${r.hostname.toLowerCase()}`, r.hostname, "", now)
              }
            }
            yield* persist({ guid: r.agent_guid, hostname: r.hostname, agentId, set: { last_seen: r.last_seen, agent_id: agentId, ...osColumn(os) } })
            yield* logDebugWith("agent-heartbeat", () => ({ agent_id: agentId, host: r.hostname }))
            return
          }
          case "CollectorStatus": {
            const payload = command.payload
            const agentId = str(payload["agent_id"])
            if (agentId !== "") {
              const socket = sockets.get(command.socketId)
              const r = recordFor(agentId)
              const hostname = str(payload["hostname"]).trim()
              if (hostname !== "") setRecordHost(r, hostname)
              if (typeof payload["service_mode"] === "string" && payload["service_mode"] !== "") {
                r.service_mode = normalizeServiceMode(payload["service_mode"], agentId)
              }
              r.is_script_agent = isScriptAgent(agentId) || r.is_script_agent
              if (Boolean(payload["active"])) r.collector_active_ts = (yield* Clock.currentTimeMillis) / 1000
              bindToSocket(r, socket)
              const lastUser = str(payload["last_user"]).trim()
              if (lastUser !== "" && r.hostname !== "unknown" && isInteractiveUser(lastUser) && !isSystemServiceAgent(agentId, r.is_script_agent)) {
                yield* persist({ guid: r.agent_guid, hostname: r.hostname, agentId, set: { last_seen: now, last_user: lastUser, ...osColumn(r.agent_operating_system) } })
              }
            }
            return yield* Deferred.succeed(command.reply, undefined)
          }
          case "GetConfig":
            return yield* Deferred.succeed(command.reply, Option.fromNullable(configs.get(command.agentId)))
          case "SetConfig": {
            configs.set(command.agentId, command.config)
            const r = records.get(command.agentId)
            if (r !== undefined) r.status = "provisioned"
            return yield* Deferred.succeed(command.reply, undefined)
          }
          case "DeleteAgent": {
            const existed = dropRecord(command.agentId)
            configs.delete(command.agentId)
            return yield* Deferred.succeed(command.reply, existed)
          }
          case "RestHeartbeat": {
            const p = presenceEntry(`guid:${command.guid}`, command.hostname, command.guid)
            p.lastRest = now
            return yield* markOnline(p, now)
          }
          case "AgentSockets": {
            const target = command.target
            const candidates = target._tag === "Device" ? socketsByGuid.get(target.guid) : socketsByHost.get(hostnameKey(target.hostname))
            const ids: Array<string> = []
            for (const id of candidates ?? []) {
              const s = sockets.get(id)
              if (s === undefined) continue
              if (Option.isSome(command.mode) && s.mode !== undefined && s.mode !== command.mode.value) continue
              if (Option.isSome(command.mode) && s.mode === undefined) continue
              ids.push(id)
            }
            return yield* Deferred.succeed(command.reply, ids)
          }
          case "Snapshot": {
            const nowMs = yield* Clock.currentTimeMillis
            const onlineHosts = new Set<string>()
            for (const p of presence.values()) if (p.online && p.hostname !== "") onlineHosts.add(p.hostname.toLowerCase())
            const agents = new Map<string, AgentSnapshotEntry>()
            const modes: Record<ServiceMode, number> = { system: 0, currentuser: 0 }
            for (const [id, r] of records) {
              const online = onlineHosts.has(r.hostname.toLowerCase())
              const collector = r.collector_active_ts !== null && nowMs / 1000 - r.collector_active_ts < COLLECTOR_ACTIVE_SECONDS
              agents.set(id, { ...r, collector_active: collector || online, online })
            }
            let agentSockets = 0
            let operators = 0
            let legacy = 0
            for (const s of sockets.values()) {
              if (s.identity._tag === "Operator") operators++
              else {
                if (s.identity._tag === "Agent") agentSockets++
                else legacy++
                modes[s.mode ?? "currentuser"]++
              }
            }
            return yield* Deferred.succeed(command.reply, {
              agents,
              onlineHostnames: onlineHosts,
              sockets: { agents: agentSockets, operators, legacy },
              byServiceMode: modes
            })
          }
          case "Seed": {
            for (const d of command.devices) {
              if (now - d.last_seen > ONLINE_WINDOW_SECONDS) continue
              const p = presenceEntry(`guid:${d.guid}`, d.hostname, d.guid)
              p.lastRest = Math.max(p.lastRest, d.last_seen)
              p.online = true
            }
            return
          }
          case "Sweep": {
            for (const p of presence.values()) {
              const wanted = p.socketIds.size > 0 || now - p.lastRest <= ONLINE_WINDOW_SECONDS
              if (wanted || !p.online) {
                p.offlineSince = undefined
                continue
              }
              if (p.offlineSince === undefined) p.offlineSince = now
              if (now - p.offlineSince >= graceSeconds) {
                p.online = false
                p.offlineSince = undefined
                yield* publish(p, now)
              }
            }
            return
          }
        }
      })

    /** The actor: one message at a time; a defect fails that message's caller and is logged. */
    const loop = Queue.take(mailbox).pipe(
      Effect.flatMap((command) =>
        handle(command).pipe(
          Effect.catchAllCause((cause) =>
            Effect.gen(function*() {
              failures++
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
      connectAgent: (socketId: string, agentId: string, payload: Json) =>
        ask<AgentRecord>((reply) => ({ _tag: "ConnectAgent", socketId, agentId, payload, reply })),
      /** Told, not asked: the sender's ack does not wait for the actor (the bounded mailbox still pushes back). */
      heartbeat: (socketId: string, payload: Json) => tell({ _tag: "Heartbeat", socketId, payload }),
      collectorStatus: (socketId: string, payload: Json) => ask<void>((reply) => ({ _tag: "CollectorStatus", socketId, payload, reply })),
      getConfig: (agentId: string) => ask<Option.Option<Json>>((reply) => ({ _tag: "GetConfig", agentId, reply })),
      setConfig: (agentId: string, config: Json) => ask<void>((reply) => ({ _tag: "SetConfig", agentId, config, reply })),
      deleteAgent: (agentId: string) => ask<boolean>((reply) => ({ _tag: "DeleteAgent", agentId, reply })),
      restHeartbeat: (guid: string, hostname: string) => tell({ _tag: "RestHeartbeat", guid, hostname }),
      /** The sockets a delivery to `target` reaches (only those in `mode`, when given). */
      agentSockets: (target: SocketTarget, mode: Option.Option<ServiceMode>) =>
        ask<ReadonlyArray<string>>((reply) => ({ _tag: "AgentSockets", target, mode, reply })),
      snapshot: ask<RegistrySnapshot>((reply) => ({ _tag: "Snapshot", reply })),
      seed: (devices: ReadonlyArray<{ readonly guid: string; readonly hostname: string; readonly last_seen: number }>) => tell({ _tag: "Seed", devices }),
      /** Presence transitions (online ↔ offline), for operator broadcasts. */
      changes,
      /** Messages handled / failed so far, and the mailbox depth (for metrics and readiness). */
      stats: Effect.map(Queue.size(mailbox), (depth) => ({ processed, failures, depth }))
    } as const
  })

export interface AgentRegistryShape extends Effect.Effect.Success<ReturnType<typeof makeAgentRegistry>> {}

export class AgentRegistry extends Effect.Service<AgentRegistry>()("borealis/AgentRegistry", {
  scoped: Effect.gen(function*() {
    const config = yield* EngineConfig
    const registry = yield* makeAgentRegistry({ ...DEFAULT_REGISTRY_OPTIONS, offlineGrace: Duration.seconds(config.socket.presenceGraceSeconds) })
    const sql = yield* SqlClient.SqlClient
    // Supervised in the app scope: interrupted on shutdown, never left running.
    yield* Effect.forkScoped(registry.run)
    // After a restart, devices seen in the last 300 s stay online while their agents reconnect.
    const recent = yield* sql<{ guid: string; hostname: string | null; last_seen: number | null }>`
      SELECT guid, hostname, last_seen FROM devices WHERE last_seen IS NOT NULL`.pipe(
      // With migrations skipped on an empty file there is no devices table yet; start anyway.
      Effect.catchAll((error) => Effect.as(Effect.logWarning("agent-registry-seed-skipped").pipe(Effect.annotateLogs({ reason: String(error.cause) })), []))
    )
    yield* registry.seed(recent.map((d) => ({ guid: d.guid.toUpperCase(), hostname: d.hostname ?? "", last_seen: Number(d.last_seen ?? 0) })))
    return registry
  })
}) {}
