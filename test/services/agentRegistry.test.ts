// The registry actor on its own: concurrency, collapse rules, presence hysteresis, failure isolation.
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as PubSub from "effect/PubSub"
import * as Queue from "effect/Queue"
import * as Schema from "effect/Schema"
import * as TestClock from "effect/TestClock"
import { DeviceWriteBehind } from "../../src/services/presence/DeviceWriteBehind.ts"
import { hiddenFromAgentList, isInteractiveUser, normalizeServiceMode, agentIdBelongsTo } from "../../src/services/realtime/agentRules.ts"
import { makeAgentRegistry } from "../../src/services/realtime/AgentRegistry.ts"
import { AgentHeartbeatPayload, ConnectAgentPayload } from "../../src/services/realtime/requests.ts"

/** Payloads as the socket edge decodes them. */
const connect = Schema.decodeUnknownSync(ConnectAgentPayload)
const beat = Schema.decodeUnknownSync(AgentHeartbeatPayload)

/** A write-behind that only records what it was asked to write. */
const recordingWriteBehind = () => {
  const writes: Array<{ match: unknown; set: Record<string, unknown> }> = []
  const layer = Layer.succeed(DeviceWriteBehind, DeviceWriteBehind.make({
    enqueue: (match, set) => Effect.sync(() => void writes.push({ match, set: { ...set } })),
    flush: Effect.succeed(0),
    pendingLastSeen: () => undefined,
    depth: () => 0
  }))
  return { writes, layer }
}

const startRegistry = (graceSeconds = 30) =>
  Effect.gen(function*() {
    const registry = yield* makeAgentRegistry({ offlineGrace: Duration.seconds(graceSeconds), sweepEvery: Duration.seconds(5), mailboxCapacity: 4096 })
    yield* Effect.forkScoped(registry.run)
    return registry
  })

describe("pure rules", () => {
  it("service modes, script helpers, interactive users, agent-id ownership", () => {
    for (const v of ["system", "SVC", "service", "system_service"]) expect(normalizeServiceMode(v)).toBe("system")
    for (const v of ["interactive", "currentuser", "user", "current_user", "weird"]) expect(normalizeServiceMode(v)).toBe("currentuser")
    expect(normalizeServiceMode(undefined, "host-svc-1")).toBe("system")
    expect(normalizeServiceMode("", "host-svc")).toBe("system")
    expect(normalizeServiceMode(undefined, "HOST_GUID_SYSTEM")).toBe("system")
    expect(normalizeServiceMode(undefined, "HOST_GUID_CURRENTUSER")).toBe("currentuser")
    expect(normalizeServiceMode("user", "host-svc")).toBe("currentuser")
    expect(hiddenFromAgentList("host-script", "system", true)).toBe(true)
    expect(hiddenFromAgentList("host-script", "currentuser", true)).toBe(false)
    for (const u of ["PC$", "NT AUTHORITY\\SYSTEM", "NT SERVICE\\x", "CORP\\SYSTEM", "CORP\\Local Service", "x\\NETWORK SERVICE", "anonymous logon", "", "  "]) {
      expect([u, isInteractiveUser(u)]).toEqual([u, false])
    }
    expect(isInteractiveUser("CORP\\alice")).toBe(true)
    const device = { guid: "DE305D54-75B4-431B-ADB2-EB6B9E546014", hostname: "My Host" }
    expect(agentIdBelongsTo("MY-HOST_DE305D54-75B4-431B-ADB2-EB6B9E546014_SYSTEM", device)).toBe(true)
    expect(agentIdBelongsTo("other_de305d54-75b4-431b-adb2-eb6b9e546014_SYSTEM", device)).toBe(true)
    expect(agentIdBelongsTo("my-host-script", device)).toBe(true)
    expect(agentIdBelongsTo("MY-HOSTILE_X_SYSTEM", device)).toBe(false)
    expect(agentIdBelongsTo("OTHER_11111111-1111-1111-1111-111111111111_SYSTEM", device)).toBe(false)
    // Issue 19: exact forms only, never a prefix or a GUID merely contained somewhere.
    expect(agentIdBelongsTo("my-host-agent-0a1b2c3d", device)).toBe(true)
    expect(agentIdBelongsTo("MY-HOST-agent-0a1b2c3d-svc", device)).toBe(true)
    expect(agentIdBelongsTo("my-host-01-agent-0a1b2c3d", device)).toBe(false)
    expect(agentIdBelongsTo("my-host-01-script", device)).toBe(false)
    expect(agentIdBelongsTo("my-host", device)).toBe(false)
    expect(agentIdBelongsTo("my-host_anything", device)).toBe(false)
    expect(agentIdBelongsTo("X_DE305D54-75B4-431B-ADB2-EB6B9E546014_SYSTEM_11111111-1111-1111-1111-111111111111_SYSTEM", device)).toBe(false)
    expect(agentIdBelongsTo("X_DE305D54-75B4-431B-ADB2-EB6B9E546014_ADMIN", device)).toBe(false)
    const short = { guid: "DE305D54-75B4-431B-ADB2-EB6B9E546014", hostname: "WS" }
    expect(agentIdBelongsTo("WS-01_11111111-1111-1111-1111-111111111111_SYSTEM", short)).toBe(false)
    expect(agentIdBelongsTo("WS-01-agent-0a1b2c3d", short)).toBe(false)
  })
})

describe("the registry actor", () => {
  it.scoped("1,000 concurrent senders: every message handled once, counts consistent", () =>
    Effect.gen(function*() {
      const { layer, writes } = recordingWriteBehind()
      yield* Effect.gen(function*() {
        const registry = yield* startRegistry()
        const senders = 1000
        yield* Effect.forEach(Array.from({ length: senders }, (_, i) => i), (i) =>
          Effect.gen(function*() {
            const socketId = `s${i}`
            yield* registry.socketOpened(socketId, { _tag: "LegacyAgent" })
            const agentId = `host${i % 250}-agent-${i}`
            yield* registry.connectAgent(socketId, connect({ agent_id: agentId, service_mode: i % 2 === 0 ? "system" : "currentuser" }))
            yield* registry.heartbeat(socketId, beat({ agent_id: agentId, hostname: `host${i}`, last_seen: 1000 + i }))
            if (i % 10 === 0) yield* registry.setConfig(agentId, { roles: [i] })
          }), { concurrency: "unbounded", discard: true })
        const snapshot = yield* registry.snapshot
        expect(snapshot.agents.size).toBe(senders)
        expect(snapshot.sockets).toEqual({ agents: 0, operators: 0, legacy: senders })
        expect(snapshot.byServiceMode.system + snapshot.byServiceMode.currentuser).toBe(senders)
        expect([...snapshot.agents.values()].filter((a) => a.status === "provisioned")).toHaveLength(100)
        for (const [id, a] of snapshot.agents) expect(a.last_seen).toBe(1000 + Number(id.split("-").pop()))
        expect(snapshot.onlineHostnames.size).toBe(senders)
        const stats = yield* registry.stats
        expect(stats.failures).toBe(0)
        expect(stats.processed).toBeGreaterThanOrEqual(senders * 3 + 100)
        // persisted through the write-behind, by hostname (pre-token agents) — never "unknown" or "-"
        expect(writes.length).toBeGreaterThan(0)
        for (const w of writes) expect(JSON.stringify(w)).not.toMatch(/"unknown"|"-"/)
      }).pipe(Effect.provide(layer))
    }))

  it.scoped("hostname collisions collapse per (hostname, mode); script helpers defer to the real agent", () =>
    Effect.gen(function*() {
      const { layer } = recordingWriteBehind()
      yield* Effect.gen(function*() {
        const registry = yield* startRegistry()
        yield* registry.socketOpened("s", { _tag: "LegacyAgent" })
        yield* registry.heartbeat("s", beat({ agent_id: "pc-agent-old", hostname: "pc", service_mode: "currentuser" }))
        yield* registry.setConfig("pc-agent-old", { roles: ["r"] })
        yield* registry.heartbeat("s", beat({ agent_id: "pc-agent-new", hostname: "pc", service_mode: "currentuser" }))
        let snap = yield* registry.snapshot
        expect([...snap.agents.keys()]).toEqual(["pc-agent-new"])
        expect(Option.getOrNull(yield* registry.getConfig("pc-agent-new"))).toEqual({ roles: ["r"] })
        expect(Option.isNone(yield* registry.getConfig("pc-agent-old"))).toBe(true)
        // a different mode on the same host coexists
        yield* registry.heartbeat("s", beat({ agent_id: "pc-agent-svc", hostname: "pc", service_mode: "system" }))
        // a script helper never replaces the real agent
        yield* registry.heartbeat("s", beat({ agent_id: "pc-script", hostname: "pc", service_mode: "currentuser" }))
        snap = yield* registry.snapshot
        expect([...snap.agents.keys()].sort()).toEqual(["pc-agent-new", "pc-agent-svc", "pc-script"])
        expect(yield* registry.deleteAgent("pc-script")).toBe(true)
        expect(yield* registry.deleteAgent("pc-script")).toBe(false)
      }).pipe(Effect.provide(layer))
    }))

  it.scoped("socket lookups (by device GUID, or by hostname for anonymous agents) follow renames, closes and deletions (indexed, not scanned)", () =>
    Effect.gen(function*() {
      const { layer } = recordingWriteBehind()
      yield* Effect.gen(function*() {
        const registry = yield* startRegistry()
        const changes = yield* PubSub.subscribe(registry.changes)
        yield* registry.socketOpened("a", { _tag: "Agent", guid: "GA", hostname: "Alpha", serviceMode: Option.none() })
        yield* registry.connectAgent("a", connect({ agent_id: "Alpha-agent", service_mode: "system" }))
        expect((yield* Queue.take(changes)).agent_ids).toEqual([])
        yield* registry.socketOpened("l", { _tag: "LegacyAgent" })
        yield* registry.connectAgent("l", connect({ agent_id: "beta-agent", hostname: "beta", service_mode: "currentuser" }))
        expect((yield* Queue.take(changes))).toMatchObject({ key: "host:beta", agent_ids: ["beta-agent"] })
        yield* registry.socketOpened("op", { _tag: "Operator", username: "admin", role: "Admin" })
        // Issue 19: a device's sockets are found by its GUID only; a hostname finds only anonymous sockets.
        expect(yield* registry.agentSockets({ _tag: "Device", guid: "GA" }, Option.none())).toEqual(["a"])
        expect(yield* registry.agentSockets({ _tag: "Device", guid: "GA" }, Option.some("currentuser"))).toEqual([])
        expect(yield* registry.agentSockets({ _tag: "LegacyHost", hostname: "ALPHA" }, Option.none())).toEqual([])
        expect(yield* registry.agentSockets({ _tag: "LegacyHost", hostname: "beta" }, Option.some("currentuser"))).toEqual(["l"])
        // a record renamed by a heartbeat collapses under its new name, not its old one
        yield* registry.heartbeat("l", beat({ agent_id: "beta-agent", hostname: "gamma", service_mode: "currentuser" }))
        yield* registry.heartbeat("l", beat({ agent_id: "beta-agent2", hostname: "beta", service_mode: "currentuser" }))
        expect([...(yield* registry.snapshot).agents.keys()].sort()).toEqual(["Alpha-agent", "beta-agent", "beta-agent2"])
        yield* registry.heartbeat("l", beat({ agent_id: "gamma-agent", hostname: "gamma", service_mode: "currentuser" }))
        expect([...(yield* registry.snapshot).agents.keys()].sort()).toEqual(["Alpha-agent", "beta-agent2", "gamma-agent"])
        // closed sockets and deleted records leave the indexes
        yield* registry.socketClosed("a")
        expect(yield* registry.agentSockets({ _tag: "Device", guid: "GA" }, Option.none())).toEqual([])
        expect(yield* registry.deleteAgent("gamma-agent")).toBe(true)
        yield* registry.heartbeat("l", beat({ agent_id: "gamma-agent3", hostname: "gamma", service_mode: "currentuser" }))
        expect([...(yield* registry.snapshot).agents.keys()].sort()).toEqual(["Alpha-agent", "beta-agent2", "gamma-agent3"])
      }).pipe(Effect.provide(layer))
    }))

  it.scoped("presence: a brief reconnect does not flap; offline only after the grace; REST heartbeats count", () =>
    Effect.gen(function*() {
      const { layer } = recordingWriteBehind()
      yield* Effect.gen(function*() {
        yield* TestClock.setTime(1_000_000_000)
        const registry = yield* startRegistry(30)
        const changes = yield* PubSub.subscribe(registry.changes)
        const agent = { _tag: "Agent", guid: "G1", hostname: "box", serviceMode: Option.none() } as const
        yield* registry.socketOpened("a", agent)
        const online = yield* Queue.take(changes)
        expect(online).toMatchObject({ hostname: "box", guid: "G1", online: true })
        // disconnect and reconnect within the grace: no event at all
        yield* registry.socketClosed("a")
        yield* TestClock.adjust(Duration.seconds(10))
        yield* registry.socketOpened("b", agent)
        yield* TestClock.adjust(Duration.seconds(60))
        yield* registry.snapshot
        expect(yield* Queue.size(changes)).toBe(0)
        // gone for good: offline once the grace has passed
        yield* registry.socketClosed("b")
        yield* TestClock.adjust(Duration.seconds(20))
        yield* registry.snapshot
        expect(yield* Queue.size(changes)).toBe(0)
        yield* TestClock.adjust(Duration.seconds(20))
        const offline = yield* Queue.take(changes)
        expect(offline).toMatchObject({ guid: "G1", online: false })
        // a REST heartbeat alone brings it back and holds it for 300 s
        yield* registry.restHeartbeat("G1", "box")
        expect((yield* Queue.take(changes)).online).toBe(true)
        expect((yield* registry.snapshot).onlineHostnames.has("box")).toBe(true)
        yield* TestClock.adjust(Duration.seconds(300))
        yield* registry.snapshot
        expect(yield* Queue.size(changes)).toBe(0)
        yield* TestClock.adjust(Duration.seconds(40))
        expect((yield* Queue.take(changes)).online).toBe(false)
      }).pipe(Effect.provide(layer))
    }))

  it.scoped("a failing message fails its caller only; the actor keeps serving", () =>
    Effect.gen(function*() {
      const failing = Layer.succeed(DeviceWriteBehind, DeviceWriteBehind.make({
        enqueue: () => Effect.die(new Error("boom")),
        flush: Effect.succeed(0),
        pendingLastSeen: () => undefined,
        depth: () => 0
      }))
      yield* Effect.gen(function*() {
        const registry = yield* startRegistry()
        yield* registry.socketOpened("s", { _tag: "LegacyAgent" })
        // an asked message fails its caller…
        const exit = yield* Effect.exit(registry.connectAgent("s", connect({ agent_id: "x-agent", hostname: "x" })))
        expect(exit._tag).toBe("Failure")
        // …a told one (heartbeats) fails only itself
        const told = yield* Effect.exit(registry.heartbeat("s", beat({ agent_id: "x-agent", hostname: "x" })))
        expect(told._tag).toBe("Success")
        const snap = yield* registry.snapshot
        expect(snap.sockets.legacy).toBe(1)
        expect((yield* registry.stats).failures).toBe(2)
        // and the actor fiber is interrupted with its scope (supervised), not left running
        const fiber = yield* Effect.fork(registry.snapshot)
        expect((yield* Fiber.join(fiber)).sockets.legacy).toBe(1)
      }).pipe(Effect.provide(failing))
    }))
})
