// Realtime with Debian's python-socketio, the library real agents use: an authenticated agent socket
// (Bearer header, as the token-era agent sends it) receives its config and relays a screenshot.
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as fs from "node:fs"
import * as path from "node:path"
import { io as ioClient } from "socket.io-client"
import { startEngine, tempRoot } from "../support/engine.ts"
import { adminClient, enrolledAgent, sql } from "../support/enrollment.ts"
import { runPython } from "../support/python.ts"

const AGENT = String.raw`
import json, sys, threading, time, requests, socketio
url, ca, token, agent_id = sys.argv[1:5]
http = requests.Session()
http.verify = ca
sio = socketio.Client(http_session=http, reconnection=False)
got = {"config": None}
done = threading.Event()

@sio.on("agent_config")
def on_config(data):
    got["config"] = data
    done.set()

sio.connect(url, transports=["websocket"], headers={"Authorization": "Bearer " + token, "X-Borealis-Agent-Context": "SYSTEM"}, wait_timeout=10)
ack = sio.call("connect_agent", {"agent_id": agent_id, "service_mode": "SYSTEM"}, timeout=10)
print(json.dumps({"ack": ack}), flush=True)
sio.emit("agent_heartbeat", {"agent_id": agent_id, "hostname": "py-rt", "agent_operating_system": "Linux", "last_seen": int(time.time())})
# wait for the operator to provision us (the test does it after seeing the ack line)
for _ in range(100):
    sio.emit("request_config", {"agent_id": agent_id})
    if done.wait(0.2):
        break
sio.emit("screenshot", {"agent_id": agent_id, "image_base64": "UFlUSE9O"})
time.sleep(0.5)
print(json.dumps({"config": got["config"]}), flush=True)
sio.disconnect()
`

// The agent's own client settings (realtime-jobs.md §1.3) with a short delay: it must come back by
// itself after the server restarts, which python-socketio does only when the server did not send it
// a Socket.IO DISCONNECT (that ends its reconnection for good).
const RECONNECTING_AGENT = String.raw`
import json, sys, threading, requests, socketio
url, ca, token, agent_id = sys.argv[1:5]
http = requests.Session()
http.verify = ca
sio = socketio.Client(http_session=http, reconnection=True, reconnection_attempts=0, reconnection_delay=0.5, reconnection_delay_max=1)
connects = []
twice = threading.Event()

@sio.event
def connect():
    connects.append(sio.sid)
    sio.emit("connect_agent", {"agent_id": agent_id, "service_mode": "SYSTEM"})
    print(json.dumps({"connected": len(connects)}, separators=(",", ":")), flush=True)
    if len(connects) == 2:
        twice.set()

sio.connect(url, transports=["websocket"], headers={"Authorization": "Bearer " + token, "X-Borealis-Agent-Context": "SYSTEM"}, wait_timeout=10)
twice.wait(40)
print(json.dumps({"connects": len(connects)}, separators=(",", ":")), flush=True)
sio.disconnect()
`

const waitUntil = (check: () => Promise<boolean>, timeoutMs: number) =>
  Effect.promise(async () => {
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      if (await check()) return true
      await new Promise((r) => setTimeout(r, 100))
    }
    return false
  })

describe("python-socketio agent", () => {
  it.scoped("reconnects by itself after a graceful server restart and announces itself again (so does the web UI's client)", () =>
    Effect.gen(function*() {
      const root = tempRoot()
      const first = yield* Scope.make()
      const engine = yield* startEngine({ root }).pipe(Scope.extend(first))
      const admin = yield* Effect.promise(() => adminClient(engine.client))
      const agent = yield* Effect.promise(() => enrolledAgent(engine, admin, "py-restart"))
      const caFile = path.join(root, "ca.pem")
      fs.writeFileSync(caFile, engine.ca ?? "")
      const agentId = `PY-RESTART_${agent.guid}_SYSTEM`
      const run = runPython(RECONNECTING_AGENT, [engine.url, caFile, agent.accessToken, agentId], 50_000)
      // and the web UI's client (socket.io-client, default reconnection) beside it
      const operator = ioClient(engine.url, {
        transports: ["websocket"],
        ca: engine.ca,
        extraHeaders: { cookie: admin.cookieHeader() ?? "" },
        reconnectionDelay: 200,
        reconnectionDelayMax: 500
      } as never)
      yield* Effect.addFinalizer(() => Effect.sync(() => operator.close()))
      let operatorConnects = 0
      operator.on("connect", () => operatorConnects++)
      const announced = (client: typeof admin) => async () => (await client.get("/api/agents")).json[agentId] !== undefined
      expect(yield* waitUntil(announced(admin), 15_000)).toBe(true)
      yield* Scope.close(first, Exit.void)
      const second = yield* startEngine({ root, env: { BOREALIS_PORT: String(engine.port) } })
      const admin2 = yield* Effect.promise(() => adminClient(second.client))
      const result = yield* Effect.promise(() => run)
      expect({ stdout: result.stdout, stderr: result.stderr, code: result.code }).toEqual({
        stdout: [{ connected: 1 }, { connected: 2 }, { connects: 2 }].map((line) => JSON.stringify(line) + "\n").join(""),
        stderr: "",
        code: 0
      })
      expect(yield* waitUntil(announced(admin2), 5_000)).toBe(true)
      expect(yield* waitUntil(async () => operatorConnects === 2, 10_000)).toBe(true)
    }), 90_000)


  it.scoped("connects with its Bearer token, acks connect_agent, gets agent_config, relays a screenshot to the operator", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const admin = yield* Effect.promise(() => adminClient(engine.client))
      const agent = yield* Effect.promise(() => enrolledAgent(engine, admin, "py-rt"))
      const caFile = path.join(engine.root, "ca.pem")
      fs.writeFileSync(caFile, engine.ca ?? "")
      const agentId = `PY-RT_${agent.guid}_SYSTEM`
      const operator = ioClient(engine.url, { transports: ["websocket"], ca: engine.ca, extraHeaders: { cookie: admin.cookieHeader() ?? "" }, reconnection: false } as never)
      yield* Effect.addFinalizer(() => Effect.sync(() => operator.close()))
      const screenshot = new Promise<unknown>((resolve) => operator.on("new_screenshot", resolve))
      yield* Effect.promise(() => new Promise<void>((resolve) => operator.once("connect", () => resolve())))
      // provision as soon as the agent has announced itself
      const provisioner = setInterval(() => {
        void admin.post("/api/agent/provision", { agent_id: agentId, roles: [{ role: "screenshot", node_id: "n1", interval: 1000 }] })
      }, 300)
      const result = yield* Effect.promise(() => runPython(AGENT, [engine.url, caFile, agent.accessToken, agentId], 30_000))
      clearInterval(provisioner)
      expect(result.stderr).toBe("")
      expect(result.code).toBe(0)
      const lines = result.stdout.trim().split("\n").map((l) => JSON.parse(l))
      expect(lines[0]).toEqual({ ack: { status: "ok" } })
      expect(lines[1].config).toEqual({ roles: [{ role: "screenshot", node_id: "n1", interval: 1000 }], agent_id: agentId })
      expect(yield* Effect.promise(() => screenshot)).toEqual({ agent_id: agentId, image_base64: "UFlUSE9O" })
      const agents = (yield* Effect.promise(() => admin.get("/api/agents"))).json
      expect(agents[agentId]).toMatchObject({ hostname: "py-rt", service_mode: "system", agent_operating_system: "Linux" })
      // without the token the same client is refused
      const anonymous = yield* Effect.promise(() =>
        runPython(String.raw`
import sys, requests, socketio
http = requests.Session(); http.verify = sys.argv[2]
sio = socketio.Client(http_session=http, reconnection=False)
try:
    sio.connect(sys.argv[1], transports=["websocket"], wait_timeout=5)
    print("connected")
except socketio.exceptions.ConnectionError as e:
    print("refused", e)
`, [engine.url, caFile]))
      expect(anonymous.stdout).toContain("refused")
      expect(sql(engine.databasePath, "SELECT count(*) AS n FROM devices")[0]!["n"]).toBe(1)
    }), 60_000)
})
