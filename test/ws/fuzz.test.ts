// Malformed payloads (missing fields, wrong types, odd shapes, binary, unknown events) from agent and
// operator sockets: dropped quietly; the server keeps serving and other clients are unaffected.
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { io as ioClient, type Socket as ClientSocket } from "socket.io-client"
import { startEngine, type RunningEngine } from "../support/engine.ts"
import { adminClient, enrolledAgent } from "../support/enrollment.ts"

const promise = <A>(f: () => Promise<A>) => Effect.promise(f)

const open = (engine: RunningEngine, headers: Record<string, string>) =>
  Effect.acquireRelease(
    promise(() =>
      new Promise<ClientSocket>((resolve, reject) => {
        const socket = ioClient(engine.url, { transports: ["websocket"], ca: engine.ca, extraHeaders: headers, reconnection: false } as never)
        socket.once("connect", () => resolve(socket))
        socket.once("connect_error", reject)
      })
    ),
    (socket) => Effect.sync(() => socket.close())
  )

/** A deterministic pseudo-random generator (the run is reproducible). */
const rng = (seed: number) => () => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff
  return seed / 0x7fffffff
}

const randomValue = (rand: () => number, depth = 0, agentId = "X"): unknown => {
  const r = rand()
  if (depth > 3) return null
  if (r < 0.1) return null
  if (r < 0.2) return Math.floor(rand() * 1e9) - 5e8
  if (r < 0.3) return rand() > 0.5
  if (r < 0.4) return "x".repeat(Math.floor(rand() * 200))
  if (r < 0.45) return "é🙂\u0000\u202e".repeat(Math.floor(rand() * 5))
  if (r < 0.5) return Buffer.from([1, 2, 3, Math.floor(rand() * 255)])
  if (r < 0.6) return Array.from({ length: Math.floor(rand() * 5) }, () => randomValue(rand, depth + 1, agentId))
  if (r < 0.7) return { agent_id: rand() > 0.5 ? agentId : randomValue(rand, depth + 1, agentId) }
  const keys = ["agent_id", "node_id", "image_base64", "hostname", "service_mode", "last_seen", "active", "last_user", "roles", "windows", "x", "constructor", "target_hostname", "run_id"]
  const o: Record<string, unknown> = {}
  for (let i = 0; i < Math.floor(rand() * 6); i++) o[keys[Math.floor(rand() * keys.length)]!] = randomValue(rand, depth + 1, agentId)
  return o
}

const EVENTS = [
  "connect_agent", "agent_heartbeat", "collector_status", "request_config", "agent_screenshot_task", "screenshot",
  "macro_status", "list_agent_windows", "agent_window_list", "ansible_playbook_run", "ansible_playbook_cancel",
  "quick_job_result", "quick_job_progress", "job_status_request", "unknown_event", "__proto__", "toString"
]

describe("malformed payload fuzz", () => {
  it.scoped("hundreds of random payloads per event leave the server serving and other clients untouched", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const admin = yield* promise(() => adminClient(engine.client))
      const fuzzer = yield* promise(() => enrolledAgent(engine, admin, "fuzz-host"))
      const honest = yield* promise(() => enrolledAgent(engine, admin, "honest-host"))
      const fuzzSocket = yield* open(engine, { authorization: `Bearer ${fuzzer.accessToken}` })
      const opFuzz = yield* open(engine, { cookie: admin.cookieHeader() ?? "" })
      const honestSocket = yield* open(engine, { authorization: `Bearer ${honest.accessToken}` })
      const watcher = yield* open(engine, { cookie: admin.cookieHeader() ?? "" })
      let disconnected = 0
      for (const s of [honestSocket, watcher]) s.on("disconnect", () => disconnected++)
      const fuzzId = `FUZZ-HOST_${fuzzer.guid}_SYSTEM`
      const rand = rng(42)
      let sent = 0
      for (const event of EVENTS) {
        for (let i = 0; i < 200; i++) {
          const args = Array.from({ length: Math.floor(rand() * 3) }, () => randomValue(rand, 0, fuzzId))
          fuzzSocket.emit(event, ...args)
          opFuzz.emit(event, ...args)
          sent += 2
        }
        yield* promise(() => new Promise((r) => setTimeout(r, 20)))
      }
      // prototype-pollution shaped payloads (own "__proto__" keys, as JSON.parse creates them)
      const polluted = JSON.parse(`{"__proto__": {"polluted": true}, "agent_id": "${fuzzId}", "hostname": {"__proto__": 1}}`)
      for (const event of EVENTS) fuzzSocket.emit(event, polluted)
      expect(({} as Record<string, unknown>)["polluted"]).toBeUndefined()
      // a burst beyond the per-connection mailbox is dropped, not buffered without bound
      for (let i = 0; i < 2000; i++) fuzzSocket.emit("agent_heartbeat", { agent_id: fuzzId, last_seen: i })
      sent += 2000
      expect(sent).toBeGreaterThan(6000)

      // the honest pair still works end to end
      const honestId = `HONEST-HOST_${honest.guid}_SYSTEM`
      expect(yield* promise(() => honestSocket.timeout(5000).emitWithAck("connect_agent", { agent_id: honestId }))).toEqual({ status: "ok" })
      const relayed = promise(() => new Promise<unknown>((resolve) => watcher.once("new_screenshot", resolve)))
      honestSocket.emit("screenshot", { agent_id: honestId, image_base64: "QUJD" })
      expect(yield* relayed).toEqual({ agent_id: honestId, image_base64: "QUJD" })
      expect(disconnected).toBe(0)
      expect((yield* promise(() => engine.client().get("/health"))).json).toEqual({ status: "ok" })
      const agents = (yield* promise(() => admin.get("/api/agents"))).json
      expect(agents[honestId]).toMatchObject({ hostname: "honest-host" })
      for (const [id, entry] of Object.entries(agents as Record<string, { agent_id: unknown; hostname: unknown }>)) {
        expect(typeof entry.agent_id).toBe("string")
        expect(entry.agent_id).toBe(id)
        expect(typeof entry.hostname).toBe("string")
      }
      // the fuzzing sockets themselves are still connected and still served (nothing wedged their mailbox)
      expect(fuzzSocket.connected && opFuzz.connected).toBe(true)
      const stillServed = yield* promise(async () => {
        for (let i = 0; i < 50; i++) {
          try {
            return await fuzzSocket.timeout(1000).emitWithAck("connect_agent", { agent_id: fuzzId })
          } catch {
            // the mailbox may still be draining the burst
          }
        }
        return "no answer"
      })
      expect(stillServed).toEqual({ status: "ok" })
    }), 60_000)
})
