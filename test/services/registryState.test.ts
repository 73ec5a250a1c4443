// The registry's transitions on their own: synchronous, no actor, no clock, no database. Each test
// drives one state and reads what it would publish or write (its outputs) and what it holds.
import { describe, expect, it } from "@effect/vitest"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { makeRegistryState, type RegistryOutput, type SocketIdentity } from "../../src/services/realtime/registryState.ts"
import { AgentHeartbeatPayload, CollectorStatusPayload, ConnectAgentPayload } from "../../src/services/realtime/requests.ts"

const connect = Schema.decodeUnknownSync(ConnectAgentPayload)
const beat = Schema.decodeUnknownSync(AgentHeartbeatPayload)
const collector = Schema.decodeUnknownSync(CollectorStatusPayload)

const T = 1_700_000_000
const GUID = "DE305D54-75B4-431B-ADB2-EB6B9E546014"
const device: SocketIdentity = { _tag: "Agent", guid: GUID, hostname: "WS-01", serviceMode: Option.none() }
const legacy: SocketIdentity = { _tag: "LegacyAgent" }

const presence = (outputs: ReadonlyArray<RegistryOutput>) => outputs.flatMap((o) => (o._tag === "Presence" ? [o.change] : []))
const writes = (outputs: ReadonlyArray<RegistryOutput>) => outputs.flatMap((o) => (o._tag === "Persist" ? [{ match: o.match, set: o.set }] : []))

describe("sockets and presence", () => {
  it("a device socket brings its device online at once; a pre-token socket once it names its host", () => {
    const state = makeRegistryState({ graceSeconds: 30 })
    state.socketOpened("d", device, T)
    expect(presence(state.takeOutputs())).toEqual([{ key: `guid:${GUID}`, hostname: "WS-01", guid: GUID, online: true, at: T, agent_ids: [] }])
    state.socketOpened("l", legacy, T)
    expect(state.takeOutputs()).toEqual([])
    state.connectAgent("l", connect({ agent_id: "pc-agent-0a1b2c3d", hostname: "PC" }), T)
    const outputs = state.takeOutputs()
    expect(presence(outputs)).toEqual([{ key: "host:pc", hostname: "PC", guid: "", online: true, at: T, agent_ids: ["pc-agent-0a1b2c3d"] }])
    expect(writes(outputs)).toEqual([{ match: { _tag: "Host", hostname: "PC", agentId: "pc-agent-0a1b2c3d" }, set: { last_seen: T, agent_id: "pc-agent-0a1b2c3d" } }])
    // outputs are taken once
    expect(state.takeOutputs()).toEqual([])
  })

  it("offline once the grace has passed since its last socket closed; a new socket or a REST heartbeat cancels it", () => {
    const state = makeRegistryState({ graceSeconds: 30 })
    state.socketOpened("d", device, T)
    state.takeOutputs()
    state.socketClosed("d", T)
    state.sweep(T + 10)
    state.sweep(T + 29)
    expect(state.takeOutputs()).toEqual([])
    // back within the grace: nothing published, the pending offline forgotten
    state.socketOpened("d2", device, T + 29)
    state.sweep(T + 100)
    expect(state.takeOutputs()).toEqual([])
    state.socketClosed("d2", T + 100)
    state.sweep(T + 100)
    state.sweep(T + 129)
    expect(state.takeOutputs()).toEqual([])
    state.sweep(T + 130)
    expect(presence(state.takeOutputs())).toMatchObject([{ guid: GUID, online: false, at: T + 130 }])
    expect(state.snapshot((T + 130) * 1000).onlineHostnames.size).toBe(0)
    // a REST heartbeat alone holds it online for 300 s, then the grace
    state.restHeartbeat(GUID, "WS-01", T + 200)
    expect(presence(state.takeOutputs())).toMatchObject([{ online: true, at: T + 200 }])
    state.sweep(T + 500)
    state.sweep(T + 501)
    expect(state.takeOutputs()).toEqual([])
    state.sweep(T + 531)
    expect(presence(state.takeOutputs())).toMatchObject([{ online: false }])
  })

  it("a seed brings recently seen devices online quietly; older ones stay offline", () => {
    const state = makeRegistryState({ graceSeconds: 30 })
    state.seed([{ guid: "G1", hostname: "Recent", last_seen: T - 100 }, { guid: "G2", hostname: "Old", last_seen: T - 301 }], T)
    expect(state.takeOutputs()).toEqual([])
    expect([...state.snapshot(T * 1000).onlineHostnames]).toEqual(["recent"])
  })

  it("deliveries: a device's sockets by GUID, a pre-token agent's by hostname in any case, filtered by mode", () => {
    const state = makeRegistryState({ graceSeconds: 30 })
    state.socketOpened("d", device, T)
    state.connectAgent("d", connect({ agent_id: `WS-01_${GUID}_SYSTEM` }), T)
    state.socketOpened("l", legacy, T)
    state.connectAgent("l", connect({ agent_id: "pc-agent-0a1b2c3d", hostname: "PC", service_mode: "currentuser" }), T)
    state.socketOpened("fresh", legacy, T)
    expect(state.agentSockets({ _tag: "Device", guid: GUID }, Option.none())).toEqual(["d"])
    expect(state.agentSockets({ _tag: "Device", guid: GUID }, Option.some("system"))).toEqual(["d"])
    expect(state.agentSockets({ _tag: "Device", guid: GUID }, Option.some("currentuser"))).toEqual([])
    expect(state.agentSockets({ _tag: "LegacyHost", hostname: "ws-01" }, Option.none())).toEqual([])
    expect(state.agentSockets({ _tag: "LegacyHost", hostname: "pc" }, Option.some("currentuser"))).toEqual(["l"])
    state.socketClosed("l", T)
    expect(state.agentSockets({ _tag: "LegacyHost", hostname: "pc" }, Option.none())).toEqual([])
    expect(state.snapshot(T * 1000).sockets).toEqual({ agents: 1, operators: 0, legacy: 1 })
  })
})

describe("records", () => {
  it("connect_agent: orphaned until configured; a device socket's GUID and hostname win over what the payload claims", () => {
    const state = makeRegistryState({ graceSeconds: 30 })
    state.socketOpened("d", device, T)
    state.takeOutputs()
    const record = state.connectAgent("d", connect({ agent_id: `WS-01_${GUID}_SYSTEM`, hostname: "someone-else" }), T)
    expect(record).toMatchObject({ hostname: "WS-01", agent_guid: GUID, service_mode: "system", status: "orphaned", last_seen: T })
    expect(writes(state.takeOutputs())).toEqual([{ match: { _tag: "Guid", guid: GUID }, set: { last_seen: T, agent_id: `WS-01_${GUID}_SYSTEM` } }])
    state.setConfig(`WS-01_${GUID}_SYSTEM`, { roles: [] })
    expect(state.connectAgent("d", connect({ agent_id: `WS-01_${GUID}_SYSTEM` }), T + 1).status).toBe("provisioned")
  })

  it("heartbeat: claimed last_seen or now, OS or '-', the announced mode kept when none is sent; never written as '-' or 'unknown'", () => {
    const state = makeRegistryState({ graceSeconds: 30 })
    state.socketOpened("l", legacy, T)
    state.connectAgent("l", connect({ agent_id: "pc-agent-0a1b2c3d", service_mode: "system" }), T)
    // no hostname yet: nothing to match a device row with
    expect(writes(state.takeOutputs())).toEqual([])
    expect(state.heartbeat("l", beat({ agent_id: "pc-agent-0a1b2c3d", hostname: "PC", last_seen: T - 5 }), T)).toEqual({ agentId: "pc-agent-0a1b2c3d", hostname: "PC" })
    const snap = state.snapshot(T * 1000).agents.get("pc-agent-0a1b2c3d")
    expect(snap).toMatchObject({ last_seen: T - 5, agent_operating_system: "-", service_mode: "system", online: true })
    expect(writes(state.takeOutputs())).toEqual([{ match: { _tag: "Host", hostname: "PC", agentId: "pc-agent-0a1b2c3d" }, set: { last_seen: T - 5, agent_id: "pc-agent-0a1b2c3d" } }])
    state.heartbeat("l", beat({ agent_id: "pc-agent-0a1b2c3d", hostname: "PC", agent_operating_system: "Windows 11", last_seen: "later" }), T + 60)
    expect(writes(state.takeOutputs())[0]?.set).toEqual({ last_seen: T + 60, agent_id: "pc-agent-0a1b2c3d", operating_system: "Windows 11" })
  })

  it("heartbeat collapse per (hostname, mode): the newcomer replaces the old id and inherits its config; a script helper only marks the real agent seen", () => {
    const state = makeRegistryState({ graceSeconds: 30 })
    state.socketOpened("l", legacy, T)
    state.heartbeat("l", beat({ agent_id: "pc-agent-old", hostname: "pc", service_mode: "currentuser", agent_operating_system: "Linux" }), T)
    state.setConfig("pc-agent-old", { roles: ["r"] })
    state.heartbeat("l", beat({ agent_id: "pc-agent-new", hostname: "pc", service_mode: "currentuser" }), T)
    expect([...state.snapshot(T * 1000).agents.keys()]).toEqual(["pc-agent-new"])
    expect(state.getConfig("pc-agent-new")).toEqual(Option.some({ roles: ["r"] }))
    expect(state.getConfig("pc-agent-old")).toEqual(Option.none())
    state.takeOutputs()
    state.heartbeat("l", beat({ agent_id: "pc-script", hostname: "pc", service_mode: "currentuser", last_seen: T + 9 }), T + 10)
    expect(writes(state.takeOutputs())).toEqual([
      { match: { _tag: "Host", hostname: "pc", agentId: "pc-agent-new" }, set: { last_seen: T + 9 } },
      { match: { _tag: "Host", hostname: "pc", agentId: "pc-script" }, set: { last_seen: T + 9, agent_id: "pc-script" } }
    ])
    expect([...state.snapshot(T * 1000).agents.keys()].sort()).toEqual(["pc-agent-new", "pc-script"])
    expect(state.deleteAgent("pc-script")).toBe(true)
    expect(state.deleteAgent("pc-script")).toBe(false)
  })

  it("collector_status: activity for 130 s; last_user written only for an interactive user of a non-service agent on a known host", () => {
    const state = makeRegistryState({ graceSeconds: 30 })
    const nowMs = T * 1000 + 500
    state.collectorStatus("none", collector({ agent_id: "pc-agent-0a1b2c3d", active: 1, last_user: "CORP\\alice" }), nowMs)
    // hostname still unknown: nothing to write
    expect(state.takeOutputs()).toEqual([])
    expect(state.snapshot(nowMs).agents.get("pc-agent-0a1b2c3d")?.collector_active).toBe(true)
    expect(state.snapshot(nowMs + 130_000).agents.get("pc-agent-0a1b2c3d")?.collector_active).toBe(false)
    state.collectorStatus("none", collector({ agent_id: "pc-agent-0a1b2c3d", hostname: "PC", last_user: "NT AUTHORITY\\SYSTEM" }), nowMs)
    expect(state.takeOutputs()).toEqual([])
    state.collectorStatus("none", collector({ agent_id: "pc-agent-0a1b2c3d", last_user: "CORP\\alice" }), nowMs)
    expect(writes(state.takeOutputs())).toEqual([{ match: { _tag: "Host", hostname: "PC", agentId: "pc-agent-0a1b2c3d" }, set: { last_seen: T, last_user: "CORP\\alice" } }])
    state.collectorStatus("none", collector({ agent_id: "pc-svc", hostname: "PC", last_user: "CORP\\alice" }), nowMs)
    expect(state.takeOutputs()).toEqual([])
    expect(state.snapshot(nowMs).agents.get("pc-svc")?.service_mode).toBe("currentuser")
  })

  it("ids longer than the cap are kept capped (heartbeat, collector status)", () => {
    const state = makeRegistryState({ graceSeconds: 30 })
    const long = "a".repeat(2000)
    expect(state.heartbeat("none", beat({ agent_id: long }), T)?.agentId).toHaveLength(1024)
    state.collectorStatus("none", collector({ agent_id: long }), T * 1000)
    expect([...state.snapshot(T * 1000).agents.keys()]).toEqual(["a".repeat(1024)])
  })
})
