// The agent registry's state and its transitions, one function per message kind, all synchronous: no
// Effect, no clock (the time comes in), no I/O. What a transition wants done outside — a presence
// change to announce, a device row to write — is queued as an output, which the actor
// (AgentRegistry.ts) takes and performs after the transition, in order. spec: realtime-jobs.md §2.2,
// §3 (E-REG)
import * as Option from "effect/Option"
import { capText, hostnameKey } from "../devices/identity.ts"
import type { DeviceColumns, DeviceMatch } from "../presence/DeviceWriteBehind.ts"
import {
  COLLECTOR_ACTIVE_SECONDS,
  isInteractiveUser,
  isScriptAgent,
  isSystemServiceAgent,
  normalizeServiceMode,
  ONLINE_WINDOW_SECONDS,
  type ServiceMode
} from "./agentRules.ts"
import { type AgentHeartbeatPayload, type CollectorStatusPayload, type ConnectAgentPayload, MAX_REPORTED_CHARS } from "./requests.ts"

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

export type AgentConfig = Readonly<Record<string, unknown>>

export interface RecentDevice {
  readonly guid: string
  readonly hostname: string
  readonly last_seen: number
}

/** What a transition asks the actor to do once it is over, in order. */
export type RegistryOutput =
  | { readonly _tag: "Presence"; readonly change: PresenceChange }
  | { readonly _tag: "Persist"; readonly match: DeviceMatch; readonly set: DeviceColumns }

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

const osColumn = (os: string): DeviceColumns => (os !== "" && os !== "-" ? { operating_system: os } : {})

const NO_OUTPUTS: ReadonlyArray<RegistryOutput> = []

/**
 * A fresh registry state. `graceSeconds`: how long a device stays online after its last socket closes
 * (so a reconnect does not flap). Times are epoch seconds (`now`) or milliseconds (`nowMs`).
 */
export const makeRegistryState = (options: { readonly graceSeconds: number }) => {
  const records = new Map<string, MutableRecord>()
  const configs = new Map<string, AgentConfig>()
  const sockets = new Map<string, SocketEntry>()
  const presence = new Map<string, PresenceEntry>()
  // Indexes, so no message scans every agent (a heartbeat from each of N agents stays O(N) overall).
  /** Exact hostname → agent ids of the records claiming it. */
  const recordsByHost = new Map<string, Set<string>>()
  /** Device GUID → ids of the sockets that authenticated as it. */
  const socketsByGuid = new Map<string, Set<string>>()
  /** Lowercased hostname → ids of the pre-token (anonymous) agent sockets that claimed it. */
  const socketsByHost = new Map<string, Set<string>>()
  let outputs: Array<RegistryOutput> = []

  // --- records ------------------------------------------------------------------------------------

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

  /** Socket identity constrains what the record may claim: a device socket speaks for its own device. */
  const bindToSocket = (record: MutableRecord, socket: SocketEntry | undefined) => {
    if (socket?.identity._tag === "Agent") {
      record.agent_guid = socket.identity.guid
      if (socket.identity.hostname !== "") setRecordHost(record, socket.identity.hostname)
    }
  }

  /** `update_device_summary` through the write-behind: only non-empty values, never "-" or "unknown". */
  const persist = (input: { readonly guid: string; readonly hostname: string; readonly agentId: string; readonly set: DeviceColumns }) => {
    const match: DeviceMatch | undefined = input.guid !== ""
      ? { _tag: "Guid", guid: input.guid }
      : input.hostname !== "" && input.hostname !== "unknown"
      ? { _tag: "Host", hostname: input.hostname, agentId: input.agentId }
      : undefined
    if (match !== undefined) outputs.push({ _tag: "Persist", match, set: input.set })
  }

  // --- sockets and presence -----------------------------------------------------------------------

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
    outputs.push({
      _tag: "Presence",
      change: { key: entry.key, hostname: entry.hostname, guid: entry.guid, online: entry.online, at, agent_ids: agentIdsOf(entry.key) }
    })

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

  const markOnline = (p: PresenceEntry, now: number) => {
    p.offlineSince = undefined
    if (!p.online) {
      p.online = true
      publish(p, now)
    }
  }

  /** Bind a socket to the device it keeps online. */
  const attachPresence = (socket: SocketEntry, key: string, hostname: string, guid: string, now: number) => {
    if (socket.presenceKey === key) return
    if (socket.presenceKey !== undefined) presence.get(socket.presenceKey)?.socketIds.delete(socket.id)
    socket.presenceKey = key
    const p = presenceEntry(key, hostname, guid)
    p.socketIds.add(socket.id)
    markOnline(p, now)
  }

  /** A pre-token agent's socket keeps the host it announced online (a device's keeps its GUID's). */
  const attachLegacyHost = (socket: SocketEntry, r: MutableRecord, now: number) => {
    if (socket.identity._tag === "LegacyAgent" && r.hostname !== "unknown") {
      attachPresence(socket, `host:${r.hostname.toLowerCase()}`, r.hostname, "", now)
    }
  }

  // --- the transitions, one per message -----------------------------------------------------------

  const socketOpened = (socketId: string, identity: SocketIdentity, now: number): void => {
    const entry: SocketEntry = { id: socketId, identity, agentIds: new Set(), presenceKey: undefined, hostname: "", mode: undefined }
    sockets.set(socketId, entry)
    if (identity._tag === "Agent") {
      indexAdd(socketsByGuid, identity.guid, socketId)
      setSocketHost(entry, identity.hostname)
      attachPresence(entry, `guid:${identity.guid}`, identity.hostname, identity.guid, now)
    }
  }

  /** The device stays online for the grace period after its last socket (see `sweep`). */
  const socketClosed = (socketId: string, now: number): void => {
    const entry = sockets.get(socketId)
    sockets.delete(socketId)
    if (entry === undefined) return
    setSocketHost(entry, "")
    if (entry.identity._tag === "Agent") indexRemove(socketsByGuid, entry.identity.guid, socketId)
    if (entry.presenceKey === undefined) return
    const p = presence.get(entry.presenceKey)
    if (p === undefined) return
    p.socketIds.delete(socketId)
    if (p.socketIds.size === 0 && now - p.lastRest > ONLINE_WINDOW_SECONDS && p.offlineSince === undefined) p.offlineSince = now
  }

  /** `connect_agent`: the record (created orphaned), bound to the socket that announced it. */
  const connectAgent = (socketId: string, payload: ConnectAgentPayload, now: number): AgentRecord => {
    const agentId = payload.agent_id
    const socket = sockets.get(socketId)
    const r = recordFor(agentId)
    r.service_mode = normalizeServiceMode(payload.service_mode, agentId)
    r.is_script_agent = isScriptAgent(agentId)
    r.last_seen = now
    r.status = configs.has(agentId) ? "provisioned" : "orphaned"
    if (payload.hostname !== "" && r.hostname === "unknown") setRecordHost(r, payload.hostname)
    bindToSocket(r, socket)
    if (socket !== undefined) {
      socket.agentIds.add(agentId)
      socket.mode = r.service_mode
      if (socket.hostname === "" && r.hostname !== "unknown") setSocketHost(socket, r.hostname)
      attachLegacyHost(socket, r, now)
    }
    persist({ guid: r.agent_guid, hostname: r.hostname, agentId: r.agent_id, set: { last_seen: now, agent_id: r.agent_id, ...osColumn(r.agent_operating_system) } })
    return freeze(r)
  }

  /**
   * Several agents per host (service + interactive + script helper): one record per (hostname, mode).
   * Another agent of the same mode on the host is replaced (its config passes to the newcomer) —
   * except that a script helper never replaces the real agent, which is only marked seen.
   */
  const collapseHost = (agentId: string, hostname: string, mode: ServiceMode, script: boolean, lastSeen: number) => {
    let transferred = false
    for (const existingId of [...(recordsByHost.get(hostname) ?? [])]) {
      const info = records.get(existingId)
      if (info === undefined || existingId === agentId) continue
      if (normalizeServiceMode(info.service_mode, existingId) !== mode) continue
      if (script && !info.is_script_agent) {
        persist({ guid: info.agent_guid, hostname, agentId: existingId, set: { last_seen: lastSeen, ...osColumn(info.agent_operating_system) } })
        continue
      }
      const config = configs.get(existingId)
      if (!transferred && config !== undefined && !configs.has(agentId)) {
        configs.set(agentId, config)
        transferred = true
      }
      dropRecord(existingId)
      configs.delete(existingId)
    }
  }

  /** `agent_heartbeat`: the agent and host it was for (for the debug line), or `undefined` when ignored. */
  const heartbeat = (socketId: string, payload: AgentHeartbeatPayload, now: number): { readonly agentId: string; readonly hostname: string } | undefined => {
    const agentId = capText(payload.agent_id, MAX_REPORTED_CHARS)
    if (agentId === "") return undefined
    const socket = sockets.get(socketId)
    const hostname = socket?.identity._tag === "Agent" && socket.identity.hostname !== "" ? socket.identity.hostname : payload.hostname
    // Without a mode in the payload the record keeps the one it announced (the original reset it).
    const known = records.get(agentId)
    const mode = payload.service_mode !== "" || known === undefined ? normalizeServiceMode(payload.service_mode, agentId) : known.service_mode
    const script = isScriptAgent(agentId)
    const lastSeen = payload.last_seen ?? now
    const os = payload.agent_operating_system || "-"
    if (hostname !== "") collapseHost(agentId, hostname, mode, script, lastSeen)
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
      attachLegacyHost(socket, r, now)
    }
    persist({ guid: r.agent_guid, hostname: r.hostname, agentId, set: { last_seen: r.last_seen, agent_id: agentId, ...osColumn(os) } })
    return { agentId, hostname: r.hostname }
  }

  /** `collector_status`: the collector's activity, and the interactive user it reports. */
  const collectorStatus = (socketId: string, payload: CollectorStatusPayload, nowMs: number): void => {
    const agentId = capText(payload.agent_id, MAX_REPORTED_CHARS)
    if (agentId === "") return
    const socket = sockets.get(socketId)
    const r = recordFor(agentId)
    if (payload.hostname !== "") setRecordHost(r, payload.hostname)
    if (payload.service_mode !== "") r.service_mode = normalizeServiceMode(payload.service_mode, agentId)
    r.is_script_agent = isScriptAgent(agentId) || r.is_script_agent
    if (payload.active) r.collector_active_ts = nowMs / 1000
    bindToSocket(r, socket)
    const lastUser = payload.last_user
    if (lastUser !== "" && r.hostname !== "unknown" && isInteractiveUser(lastUser) && !isSystemServiceAgent(agentId, r.is_script_agent)) {
      persist({ guid: r.agent_guid, hostname: r.hostname, agentId, set: { last_seen: Math.floor(nowMs / 1000), last_user: lastUser, ...osColumn(r.agent_operating_system) } })
    }
  }

  const getConfig = (agentId: string): Option.Option<AgentConfig> => Option.fromNullable(configs.get(agentId))

  const setConfig = (agentId: string, config: AgentConfig): void => {
    configs.set(agentId, config)
    const r = records.get(agentId)
    if (r !== undefined) r.status = "provisioned"
  }

  /** Whether there was such a record. */
  const deleteAgent = (agentId: string): boolean => {
    const existed = dropRecord(agentId)
    configs.delete(agentId)
    return existed
  }

  /** A heartbeat over REST keeps the device online for 300 s. */
  const restHeartbeat = (guid: string, hostname: string, now: number): void => {
    const p = presenceEntry(`guid:${guid}`, hostname, guid)
    p.lastRest = now
    markOnline(p, now)
  }

  /** The sockets a delivery to `target` reaches (only those that announced `mode`, when given). */
  const agentSockets = (target: SocketTarget, mode: Option.Option<ServiceMode>): ReadonlyArray<string> => {
    const candidates = target._tag === "Device" ? socketsByGuid.get(target.guid) : socketsByHost.get(hostnameKey(target.hostname))
    const ids: Array<string> = []
    for (const id of candidates ?? []) {
      const s = sockets.get(id)
      if (s === undefined) continue
      if (Option.isSome(mode) && s.mode !== mode.value) continue
      ids.push(id)
    }
    return ids
  }

  const snapshot = (nowMs: number): RegistrySnapshot => {
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
    return { agents, onlineHostnames: onlineHosts, sockets: { agents: agentSockets, operators, legacy }, byServiceMode: modes }
  }

  /** After a restart, devices seen in the last 300 s start online (quietly) while their agents reconnect. */
  const seed = (devices: ReadonlyArray<RecentDevice>, now: number): void => {
    for (const d of devices) {
      if (now - d.last_seen > ONLINE_WINDOW_SECONDS) continue
      const p = presenceEntry(`guid:${d.guid}`, d.hostname, d.guid)
      p.lastRest = Math.max(p.lastRest, d.last_seen)
      p.online = true
    }
  }

  /** A device with no socket and no REST heartbeat for 300 s goes offline once the grace has passed. */
  const sweep = (now: number): void => {
    for (const p of presence.values()) {
      const wanted = p.socketIds.size > 0 || now - p.lastRest <= ONLINE_WINDOW_SECONDS
      if (wanted || !p.online) {
        p.offlineSince = undefined
        continue
      }
      if (p.offlineSince === undefined) p.offlineSince = now
      if (now - p.offlineSince >= options.graceSeconds) {
        p.online = false
        p.offlineSince = undefined
        publish(p, now)
      }
    }
  }

  /** The outputs queued since the last call, oldest first (and none left queued). */
  const takeOutputs = (): ReadonlyArray<RegistryOutput> => {
    if (outputs.length === 0) return NO_OUTPUTS
    const taken = outputs
    outputs = []
    return taken
  }

  return {
    socketOpened,
    socketClosed,
    connectAgent,
    heartbeat,
    collectorStatus,
    getConfig,
    setConfig,
    deleteAgent,
    restHeartbeat,
    agentSockets,
    snapshot,
    seed,
    sweep,
    takeOutputs
  } as const
}
