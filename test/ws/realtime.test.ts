// Realtime end to end over a real port: authenticated agent and operator sockets (socket.io-client),
// events, delivery rules, presence, write-behind and restart. spec: realtime-jobs.md §1–§3
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import { io as ioClient, type Socket as ClientSocket } from "socket.io-client"
import type { TestAgent } from "../support/agent.ts"
import { startEngine, tempRoot, type RunningEngine } from "../support/engine.ts"
import { adminClient, enrolledAgent, sql } from "../support/enrollment.ts"
import { rawUpgrade } from "../support/sockets.ts"
import type { Client } from "../support/http.ts"

const promise = <A>(f: () => Promise<A>) => Effect.promise(f)
const sleep = (ms: number) => promise(() => new Promise((r) => setTimeout(r, ms)))

/** Open a socket and wait for connect (or reject on connect_error). Closed with the scope. */
const open = (engine: RunningEngine, headers: Record<string, string>, transports: Array<"websocket" | "polling"> = ["websocket"]) =>
  Effect.acquireRelease(
    promise(() =>
      new Promise<ClientSocket>((resolve, reject) => {
        const socket = ioClient(engine.url, { transports, ca: engine.ca, extraHeaders: headers, reconnection: false, timeout: 5000 } as never)
        socket.once("connect", () => resolve(socket))
        socket.once("connect_error", (error: Error & { data?: unknown }) => {
          socket.close()
          reject(Object.assign(new Error(error.message), { data: error.data }))
        })
      })
    ),
    (socket) => Effect.sync(() => socket.close())
  )

/**
 * Refused at engine.io's handshake: socket.io-client gets a connect_error (a transport error now, no
 * data), and the handshake's answer (400, as an agent's websocket sees it) carries the reason code.
 */
const refused = (engine: RunningEngine, headers: Record<string, string>) =>
  Effect.gen(function*() {
    yield* Effect.flip(Effect.tryPromise({ catch: (error) => error as Error, try: () =>
      new Promise<void>((resolve, reject) => {
        const socket = ioClient(engine.url, { transports: ["websocket"], ca: engine.ca, extraHeaders: headers, reconnection: false, timeout: 5000 } as never)
        socket.once("connect", () => {
          socket.close()
          resolve()
        })
        socket.once("connect_error", (error: Error & { data?: unknown }) => {
          socket.close()
          reject(error)
        })
      })
    }))
    const answer = yield* rawUpgrade(engine, headers)
    expect(answer.status).toBe(400)
    return { message: answer.body }
  })

const agentHeaders = (agent: TestAgent) => ({ authorization: `Bearer ${agent.accessToken}`, "x-borealis-agent-context": "SYSTEM" })
const operatorHeaders = (admin: Client) => ({ cookie: admin.cookieHeader() ?? "" })
const agentIdOf = (agent: TestAgent, mode = "SYSTEM") => `${agent.hostname.toUpperCase()}_${agent.guid}_${mode}`

/** Collect every event a socket receives. */
const recorder = (socket: ClientSocket) => {
  const events: Array<{ event: string; payload: any }> = []
  socket.onAny((event: string, payload: unknown) => events.push({ event, payload }))
  return events
}

const waitFor = <A>(check: () => A | undefined, ms = 8000) =>
  promise(async () => {
    const end = Date.now() + ms
    for (;;) {
      const value = check()
      if (value !== undefined) return value
      if (Date.now() > end) throw new Error("condition not met in time")
      await new Promise((r) => setTimeout(r, 25))
    }
  })

const emitAck = (socket: ClientSocket, event: string, payload: unknown) =>
  promise(() => socket.timeout(5000).emitWithAck(event, payload) as Promise<unknown>)

describe("who may connect", () => {
  it.scoped("agents with a valid access token and operators with a session; anonymous and bad tokens refused", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const admin = yield* promise(() => adminClient(engine.client))
      const agent = yield* promise(() => enrolledAgent(engine, admin, "conn-host"))
      const a = yield* open(engine, agentHeaders(agent))
      expect(a.connected).toBe(true)
      const op = yield* open(engine, operatorHeaders(admin))
      expect(op.connected).toBe(true)
      // the operator's bearer token works too (no cookie)
      const token = admin.cookies.get("borealis_auth")
      if (token !== undefined) expect((yield* open(engine, { authorization: `Bearer ${token}` })).connected).toBe(true)
      const anonymous = yield* refused(engine, {})
      expect(anonymous.message).toBe("not_authenticated")
      expect((yield* refused(engine, { authorization: "Bearer nope" })).message).toBe("invalid_token")
      expect((yield* refused(engine, { cookie: "session=forged; borealis_auth=forged" })).message).toBe("not_authenticated")
      // polling handshakes are checked the same way
      const polled = yield* open(engine, agentHeaders(agent), ["polling"])
      expect(polled.connected).toBe(true)
    }))

  it.scoped("BOREALIS_SOCKET_ALLOW_ANONYMOUS admits pre-token agents, which still hear no operator traffic", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine({ env: { BOREALIS_SOCKET_ALLOW_ANONYMOUS: "true" } })
      const admin = yield* promise(() => adminClient(engine.client))
      const legacy = yield* open(engine, {})
      const other = yield* open(engine, {})
      const heard = recorder(other)
      const op = yield* open(engine, operatorHeaders(admin))
      const opHeard = recorder(op)
      expect(yield* emitAck(legacy, "connect_agent", { agent_id: "old-host-agent-1a2b3c4d" })).toEqual({ status: "ok" })
      legacy.emit("agent_screenshot_task", { agent_id: "old-host-agent-1a2b3c4d", node_id: "n1", image_base64: "AAAA", x: 0, y: 0, w: 1, h: 1 })
      yield* waitFor(() => opHeard.find((e) => e.event === "agent_screenshot_task"))
      yield* sleep(200)
      expect(heard.filter((e) => e.event === "agent_screenshot_task")).toEqual([])
    }))
})

describe("agent events", () => {
  it.scoped("connect_agent, request_config after provisioning, heartbeats moving last_seen, relays to operators only", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const admin = yield* promise(() => adminClient(engine.client))
      const agent = yield* promise(() => enrolledAgent(engine, admin, "rt-host"))
      const bystander = yield* promise(() => enrolledAgent(engine, admin, "bystander"))
      const socket = yield* open(engine, agentHeaders(agent))
      const heard = recorder(socket)
      const other = yield* open(engine, agentHeaders(bystander))
      const otherHeard = recorder(other)
      const op = yield* open(engine, operatorHeaders(admin))
      const opHeard = recorder(op)
      const agentId = agentIdOf(agent)
      const otherId = agentIdOf(bystander)

      expect(yield* emitAck(socket, "connect_agent", { agent_id: agentId, service_mode: "SYSTEM", hostname: "rt-host" })).toEqual({ status: "ok" })
      expect(yield* emitAck(other, "connect_agent", { agent_id: otherId })).toEqual({ status: "ok" })
      // no config yet: no reply
      socket.emit("request_config", { agent_id: agentId })
      yield* sleep(300)
      expect(heard.filter((e) => e.event === "agent_config")).toEqual([])
      // provisioning pushes the config to that agent's sockets only
      const roles = [{ node_id: "n1", role: "screenshot", interval: 1000, x: 0, y: 0, w: 10, h: 10, alias: "desk" }]
      const provisioned = yield* promise(() => admin.post("/api/agent/provision", { agent_id: agentId, roles }))
      expect([provisioned.status, provisioned.json]).toEqual([200, { status: "provisioned", roles }])
      const pushed = yield* waitFor(() => heard.find((e) => e.event === "agent_config"))
      expect(pushed.payload).toEqual({ roles, agent_id: agentId })
      socket.emit("request_config", { agent_id: agentId })
      yield* waitFor(() => (heard.filter((e) => e.event === "agent_config").length === 2 ? true : undefined))
      expect(otherHeard.filter((e) => e.event === "agent_config")).toEqual([])
      expect((yield* promise(() => admin.post("/api/agent/provision", { roles: [] }))).json).toEqual({ error: "Missing agent_id or roles[] in provision payload." })

      // heartbeats move last_seen in /api/agents now, and in SQLite after the write-behind flush
      const beat = Math.floor(Date.now() / 1000) - 5
      expect(yield* emitAck(socket, "agent_heartbeat", { agent_id: agentId, hostname: "rt-host", agent_operating_system: "Windows 11", last_seen: beat })).toEqual({ status: "ok" })
      const agents = (yield* promise(() => admin.get("/api/agents"))).json
      expect(agents[agentId]).toMatchObject({ agent_id: agentId, hostname: "rt-host", last_seen: beat, service_mode: "system", agent_guid: agent.guid, status: "provisioned" })
      yield* waitFor(() => (sql<{ last_seen: number }>(engine.databasePath, "SELECT last_seen FROM devices WHERE guid = ?", agent.guid)[0]?.last_seen === beat ? true : undefined))
      expect(sql(engine.databasePath, "SELECT agent_id, operating_system FROM devices WHERE guid = ?", agent.guid)).toEqual([{ agent_id: agentId, operating_system: "Windows 11" }])

      // screenshots reach operators, not other agents; the frame is cached for GET …/screenshot
      socket.emit("agent_screenshot_task", { agent_id: agentId, node_id: "n1", image_base64: "iVBORw0KGgo=", x: 1, y: 2, w: 3, h: 4, timestamp: 1 })
      const task = yield* waitFor(() => opHeard.find((e) => e.event === "agent_screenshot_task"))
      expect(task.payload).toEqual({ agent_id: agentId, node_id: "n1", image_base64: "iVBORw0KGgo=", x: 1, y: 2, w: 3, h: 4, timestamp: 1 })
      socket.emit("screenshot", { agent_id: agentId, image_base64: "QUJD" })
      const shot = yield* waitFor(() => opHeard.find((e) => e.event === "new_screenshot"))
      expect(shot.payload).toEqual({ agent_id: agentId, image_base64: "QUJD" })
      socket.emit("macro_status", { agent_id: agentId, node_id: "n1", success: true, message: "done", timestamp: 2 })
      socket.emit("agent_window_list", { agent_id: agentId, windows: [{ title: "Notepad" }] })
      yield* waitFor(() => opHeard.find((e) => e.event === "agent_window_list"))
      expect(opHeard.find((e) => e.event === "macro_status")?.payload).toEqual({ agent_id: agentId, node_id: "n1", success: true, message: "done", timestamp: 2 })
      yield* sleep(200)
      for (const e of ["agent_screenshot_task", "new_screenshot", "macro_status", "agent_window_list"]) {
        expect(otherHeard.filter((x) => x.event === e)).toEqual([])
        expect(heard.filter((x) => x.event === e)).toEqual([])
      }
      const cached = yield* promise(() => admin.get(`/api/agents/${encodeURIComponent(agentId)}/screenshot?node_id=n1`))
      expect(cached.json).toMatchObject({ agent_id: agentId, node_id: "n1", image_base64: "iVBORw0KGgo=" })
      expect((yield* promise(() => admin.get(`/api/agents/${encodeURIComponent(agentId)}/screenshot`))).json.image_base64).toBe("QUJD")
      expect((yield* promise(() => admin.get("/api/agents/nobody/screenshot"))).status).toBe(404)
      expect((yield* promise(() => engine.client().get("/api/agents"))).status).toBe(401)

      // operator → that agent only
      op.emit("list_agent_windows", { agent_id: agentId })
      yield* waitFor(() => heard.find((e) => e.event === "list_agent_windows"))
      yield* sleep(200)
      expect(otherHeard.filter((e) => e.event === "list_agent_windows")).toEqual([])
      // an agent cannot send operator events
      other.emit("list_agent_windows", { agent_id: agentId })
      yield* sleep(200)
      expect(heard.filter((e) => e.event === "list_agent_windows")).toHaveLength(1)

      // DELETE /api/agent/<id> removes the record, never the device row
      expect((yield* promise(() => admin.request(`/api/agent/${encodeURIComponent(otherId)}`, { method: "DELETE" }))).json).toEqual({ status: "removed" })
      expect((yield* promise(() => admin.request("/api/agent/nobody", { method: "DELETE" }))).json).toEqual({ error: "agent not found" })
      expect(sql(engine.databasePath, "SELECT count(*) AS n FROM devices WHERE guid = ?", bystander.guid)[0]!["n"]).toBe(1)
    }))

  it.scoped("a forged agent_id is ignored: no record, no relay, no config", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const admin = yield* promise(() => adminClient(engine.client))
      const victim = yield* promise(() => enrolledAgent(engine, admin, "victim"))
      const attacker = yield* promise(() => enrolledAgent(engine, admin, "attacker"))
      const socket = yield* open(engine, agentHeaders(attacker))
      const heard = recorder(socket)
      const op = yield* open(engine, operatorHeaders(admin))
      const opHeard = recorder(op)
      const victimId = agentIdOf(victim)
      yield* promise(() => admin.post("/api/agent/provision", { agent_id: victimId, roles: [{ role: "macro" }] }))
      expect(yield* emitAck(socket, "connect_agent", { agent_id: victimId })).toEqual({ error: "agent_id_required" })
      socket.emit("request_config", { agent_id: victimId })
      socket.emit("agent_screenshot_task", { agent_id: victimId, node_id: "n", image_base64: "AAAA" })
      socket.emit("agent_heartbeat", { agent_id: victimId, hostname: "victim" })
      yield* sleep(400)
      expect(heard.filter((e) => e.event === "agent_config")).toEqual([])
      expect(opHeard.filter((e) => e.event === "agent_screenshot_task")).toEqual([])
      const agents = (yield* promise(() => admin.get("/api/agents"))).json
      expect(agents[victimId]).toBeUndefined()
      // the same socket may still speak for itself (its hostname prefix or its GUID)
      expect(yield* emitAck(socket, "connect_agent", { agent_id: `attacker-script` })).toEqual({ status: "ok" })
    }))

  it.scoped("operators hear devices go online and, after the grace, offline", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine({ env: { BOREALIS_PRESENCE_GRACE_SECONDS: "0" } })
      const admin = yield* promise(() => adminClient(engine.client))
      const agent = yield* promise(() => enrolledAgent(engine, admin, "presence-host"))
      const op = yield* open(engine, operatorHeaders(admin))
      const opHeard = recorder(op)
      const scope = yield* Scope.make()
      const socket = yield* open(engine, agentHeaders(agent)).pipe(Scope.extend(scope))
      yield* emitAck(socket, "connect_agent", { agent_id: agentIdOf(agent) })
      const online = yield* waitFor(() => opHeard.find((e) => e.event === "device_status_changed"))
      expect(online.payload).toMatchObject({ hostname: "presence-host", guid: agent.guid, online: true, status: "Online" })
      // the agent never sent a REST heartbeat, so its socket was all that kept it online
      yield* Scope.close(scope, Exit.void)
      const offline = yield* waitFor(() => opHeard.find((e) => e.event === "device_status_changed" && e.payload.online === false), 15_000)
      expect(offline.payload).toMatchObject({ hostname: "presence-host", guid: agent.guid, status: "Offline" })
    }), 30_000)
})

describe("write-behind and restart", () => {
  it.effect("a graceful restart keeps the last last_seen", () =>
    Effect.gen(function*() {
      const root = tempRoot()
      const first = yield* Scope.make()
      const engine = yield* startEngine({ root }).pipe(Scope.extend(first))
      const admin = yield* promise(() => adminClient(engine.client))
      const agent = yield* promise(() => enrolledAgent(engine, admin, "restart-host"))
      const socket = yield* open(engine, agentHeaders(agent)).pipe(Scope.extend(first))
      const beat = Math.floor(Date.now() / 1000) + 1234
      yield* emitAck(socket, "agent_heartbeat", { agent_id: agentIdOf(agent), hostname: "restart-host", last_seen: beat })
      // closed immediately: the pending write is flushed on shutdown, not lost
      yield* Scope.close(first, Exit.void)
      expect(sql(engine.databasePath, "SELECT last_seen FROM devices WHERE guid = ?", agent.guid)).toEqual([{ last_seen: beat }])
      const second = yield* Scope.make()
      const again = yield* startEngine({ root }).pipe(Scope.extend(second))
      const admin2 = yield* promise(() => adminClient(again.client))
      const agents = (yield* promise(() => admin2.get("/api/agents"))).json
      expect(agents[agentIdOf(agent)]).toMatchObject({ last_seen: beat, hostname: "restart-host" })
      yield* Scope.close(second, Exit.void)
    }))
})
