// Realtime with Debian's python-socketio, the library real agents use: an authenticated agent socket
// (Bearer header, as the token-era agent sends it) receives its config and relays a screenshot.
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { io as ioClient } from "socket.io-client"
import { startEngine } from "../support/engine.ts"
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

describe("python-socketio agent", () => {
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
