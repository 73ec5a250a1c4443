// Operations: Prometheus metrics that move with the actions they count, readiness (database, registry,
// scheduler, draining), and OTLP trace export to a local collector stub.
import { describe, expect, it } from "@effect/vitest"
import Sqlite from "better-sqlite3"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Scope from "effect/Scope"
import * as fs from "node:fs"
import * as http from "node:http"
import { io as ioClient } from "socket.io-client"
import { TestAgent } from "../support/agent.ts"
import { startEngine } from "../support/engine.ts"
import { adminClient, enrolledAgent } from "../support/enrollment.ts"
import { Client } from "../support/http.ts"
import { connectedAgent, waitFor, writeScript } from "../support/jobs.ts"

const promise = <A>(f: () => Promise<A>) => Effect.promise(f)

interface Sample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

/** A strict reader of the Prometheus text exposition format: every line must be HELP, TYPE or a sample. */
export const parsePrometheus = (text: string): { samples: Array<Sample>; types: Map<string, string> } => {
  const samples: Array<Sample> = []
  const types = new Map<string, string>()
  for (const line of text.split("\n")) {
    if (line === "") continue
    const help = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .*$/.exec(line)
    if (help) continue
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line)
    if (type) {
      types.set(type[1]!, type[2]!)
      continue
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (-?[0-9.e+-]+|NaN|\+Inf|-Inf)( \d+)?$/.exec(line)
    if (m === null) throw new Error(`not Prometheus text: ${JSON.stringify(line)}`)
    const labels: Record<string, string> = {}
    if (m[3] !== undefined && m[3] !== "") {
      for (const pair of m[3].match(/[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"/g) ?? []) {
        const eq = pair.indexOf("=")
        labels[pair.slice(0, eq)] = JSON.parse(pair.slice(eq + 1))
      }
    }
    samples.push({ name: m[1]!, labels, value: Number(m[4]) })
  }
  return { samples, types }
}

const valueOf = (samples: ReadonlyArray<Sample>, name: string, labels: Record<string, string> = {}) =>
  samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0)

describe("GET /metrics", () => {
  it.scoped("is Prometheus text, needs an operator, and its counters move with what they count", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const admin = yield* promise(() => adminClient(engine.client))
      expect((yield* promise(() => engine.client().get("/metrics"))).status).toBe(401)
      const scrape = () =>
        promise(async () => {
          const reply = await admin.get("/metrics")
          expect(reply.status).toBe(200)
          expect(reply.headers["content-type"]).toMatch(/^text\/plain; version=0\.0\.4/)
          return parsePrometheus(reply.text)
        })
      const before = yield* scrape()
      for (const name of [
        "process_resident_memory_bytes", "nodejs_eventloop_lag_seconds", "borealis_agents_connected", "borealis_agents_online",
        "borealis_write_behind_queue_depth", "borealis_http_request_duration_seconds_bucket"
      ]) {
        expect([name, before.samples.some((s) => s.name === name)]).toEqual([name, true])
      }
      expect(before.types.get("borealis_http_requests_total")).toBe("counter")
      expect(before.types.get("borealis_http_request_duration_seconds")).toBe("histogram")

      // an enrollment (request, poll, finalisation), a refresh error, a socket connect
      const agent = yield* promise(() => enrolledAgent(engine, admin, "metered"))
      const refreshError = yield* promise(() => agent.client.post("/api/agent/token/refresh", { guid: agent.guid, refresh_token: "wrong" }))
      expect(refreshError.status).toBe(401)
      const socket = ioClient(engine.url, { transports: ["websocket"], ca: engine.ca, extraHeaders: { authorization: `Bearer ${agent.accessToken}` }, reconnection: false } as never)
      yield* Effect.addFinalizer(() => Effect.sync(() => socket.close()))
      yield* promise(() => new Promise<void>((resolve) => socket.once("connect", () => resolve())))
      // a job dispatch and its result
      writeScript(engine.root, "Tools/hello.json", "Write-Output hello")
      const jobSocket = yield* connectedAgent(engine, agent, "SYSTEM")
      const jobRun = new Promise<void>((resolve) => jobSocket.once("quick_job_run", () => resolve()))
      const quick = yield* promise(() => admin.post("/api/scripts/quick_run", { script_path: "Tools/hello.json", hostnames: ["metered"], run_mode: "system" }))
      expect(quick.status).toBe(200)
      const jobId = quick.json.results[0].job_id
      yield* promise(() => jobRun)
      jobSocket.emit("quick_job_result", { job_id: jobId, status: "Success", stdout: "hello\n", stderr: "" })
      yield* waitFor(async () => {
        const text = (await admin.get(`/api/device/activity/job/${jobId}`)).json
        return text?.status === "Success" ? true : undefined
      })
      const limited = new TestAgent(engine.client(), "limited")
      for (let i = 0; i < 13; i++) yield* promise(() => limited.request("NO-CODE", {}, { "x-forwarded-for": `192.0.2.${i}` }))

      const after = yield* scrape()
      const delta = (name: string, labels: Record<string, string> = {}) => valueOf(after.samples, name, labels) - valueOf(before.samples, name, labels)
      expect(delta("borealis_enrollment_requests_total", { outcome: "pending" })).toBe(1)
      expect(delta("borealis_enrollment_requests_total", { outcome: "invalid_enrollment_code" })).toBe(12)
      expect(delta("borealis_enrollment_requests_total", { outcome: "rate_limited" })).toBe(1)
      expect(delta("borealis_enrollment_polls_total", { outcome: "approved" })).toBe(1)
      expect(delta("borealis_enrollment_finalizations_total")).toBe(1)
      expect(delta("borealis_token_refreshes_total", { outcome: "invalid_refresh_token" })).toBe(1)
      expect(delta("borealis_socket_connects_total", { kind: "agent" })).toBe(2) // the raw socket and the job socket
      expect(delta("borealis_rate_limited_total", { limiter: "enroll_fingerprint" })).toBe(1)
      expect(delta("borealis_jobs_dispatched_total", { kind: "script", source: "quick_run" })).toBe(1)
      expect(delta("borealis_jobs_completed_total", { status: "Success" })).toBe(1)
      expect(delta("borealis_job_dispatch_to_result_seconds_count")).toBe(1)
      expect(valueOf(after.samples, "borealis_agents_connected", { kind: "agent" })).toBeGreaterThanOrEqual(1)
      expect(delta("borealis_http_requests_total", { route: "/api/agent/enroll/request", method: "POST", status: "200" })).toBe(1)
      expect(delta("borealis_http_requests_total", { route: "/api/admin/device-approvals/:id/approve", status: "200" })).toBe(1)
      // raw paths never become labels
      expect(after.samples.some((s) => (s.labels["route"] ?? "").includes(agent.guid))).toBe(false)
      // an operator bearer token works for scrapers
      const token = admin.cookies.get("borealis_auth")
      expect(token).toBeDefined()
      expect((yield* promise(() => engine.client().get("/metrics", { authorization: `Bearer ${token}` }))).status).toBe(200)
    }))

  it.scoped("BOREALIS_METRICS_LISTEN serves the same text unauthenticated on its own address", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine({ env: { BOREALIS_METRICS_LISTEN: "127.0.0.1:0" } })
      // the log file is written asynchronously: wait for the line
      const url = yield* promise(async () => {
        for (let i = 0; i < 100; i++) {
          const found = /metrics-listening url=(\S+)/.exec(fs.readFileSync(engine.logFile, "utf8"))?.[1]
          if (found !== undefined) return found
          await new Promise((r) => setTimeout(r, 50))
        }
        return undefined
      })
      expect(url).toBeDefined()
      const reply = yield* promise(() => new Client(url!.replace("/metrics", "")).get("/metrics"))
      expect(reply.status).toBe(200)
      expect(parsePrometheus(reply.text).samples.length).toBeGreaterThan(20)
      expect((yield* promise(() => new Client(url!.replace("/metrics", "")).get("/api/agents"))).status).toBe(404)
    }))
})

describe("GET /health/ready", () => {
  it.scoped("ready when the database, registry and scheduler answer; 503 while the database is locked", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const c = engine.client()
      const ready = yield* promise(() => c.get("/health/ready"))
      expect([ready.status, ready.json]).toEqual([200, { status: "ready", checks: { database: "ok", registry: "ok", scheduler: "ok" } }])
      expect((yield* promise(() => c.get("/health"))).json).toEqual({ status: "ok" })
      const locker = new Sqlite(engine.databasePath)
      locker.exec("BEGIN EXCLUSIVE")
      const down = yield* promise(() => c.get("/health/ready"))
      locker.exec("ROLLBACK")
      locker.close()
      expect(down.status).toBe(503)
      expect(down.json).toMatchObject({ status: "unavailable", checks: { database: "unavailable", registry: "ok" } })
      // liveness is unaffected, and readiness recovers
      expect((yield* promise(() => c.get("/health"))).status).toBe(200)
      expect((yield* promise(() => c.get("/health/ready"))).status).toBe(200)
    }))

  it.effect("answers 503 `draining` during shutdown while the port is still open", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const engine = yield* startEngine({ env: { BOREALIS_SHUTDOWN_DRAIN_SECONDS: "2" } }).pipe(Scope.extend(scope))
      const c = engine.client()
      expect((yield* promise(() => c.get("/health/ready"))).status).toBe(200)
      const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
      const seen = yield* promise(async () => {
        for (let i = 0; i < 40; i++) {
          const r = await c.get("/health/ready").catch(() => undefined)
          if (r?.status === 503) return r.json
          await new Promise((resolve) => setTimeout(resolve, 50))
        }
        return undefined
      })
      expect(seen).toMatchObject({ status: "draining" })
      yield* Fiber.join(closing)
      const after = yield* Effect.either(promise(() => c.get("/health")).pipe(Effect.timeout("2 seconds")))
      expect(after._tag === "Left" || (after._tag === "Right" && after.right.status !== 200)).toBe(true)
    }).pipe(Effect.catchAllDefect((defect) => (String(defect).includes("ECONNREFUSED") ? Effect.void : Effect.die(defect)))))
})

describe("OTLP trace export", () => {
  it.scoped("with OTEL_EXPORTER_OTLP_ENDPOINT set, a span for an HTTP request reaches the collector", () =>
    Effect.gen(function*() {
      const received: Array<any> = []
      const collector = http.createServer((req, res) => {
        const chunks: Array<Buffer> = []
        req.on("data", (c: Buffer) => chunks.push(c))
        req.on("end", () => {
          if (req.url === "/v1/traces") received.push(JSON.parse(Buffer.concat(chunks).toString("utf8")))
          res.writeHead(200, { "content-type": "application/json" }).end("{}")
        })
      })
      const port = yield* promise(() => new Promise<number>((r) => collector.listen(0, "127.0.0.1", () => r((collector.address() as { port: number }).port))))
      yield* Effect.addFinalizer(() => Effect.sync(() => collector.close()))
      const engine = yield* startEngine({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`, OTEL_SERVICE_NAME: "engine-under-test" } })
      expect((yield* promise(() => engine.client().get("/health", { "x-request-id": "trace-me" }))).status).toBe(200)
      const spans = yield* promise(async () => {
        for (let i = 0; i < 100; i++) {
          const all = received.flatMap((body) =>
            (body.resourceSpans ?? []).flatMap((rs: any) =>
              (rs.scopeSpans ?? []).flatMap((ss: any) => (ss.spans ?? []).map((span: any) => ({ span, resource: rs.resource })))))
          const hit = all.filter(({ span }) => span.name === "http.server GET" && JSON.stringify(span.attributes).includes("/health"))
          if (hit.length > 0) return hit
          await new Promise((r) => setTimeout(r, 100))
        }
        return []
      })
      expect(spans.length).toBeGreaterThan(0)
      expect(JSON.stringify(spans[0]!.resource)).toContain("engine-under-test")
    }))
})
