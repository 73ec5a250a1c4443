// Every metric the Engine exports (Prometheus text at GET /metrics), defined once with prom-client.
// Instrumented code calls the small Effect helpers at the bottom; nothing here knows about HTTP.
import * as Effect from "effect/Effect"
import * as client from "prom-client"

/** One registry per process (several Engines in one test process share it; tests compare deltas). */
export const metricsRegistry = new client.Registry()
client.collectDefaultMetrics({ register: metricsRegistry, eventLoopMonitoringPrecision: 20 })

const counter = <L extends string>(name: string, help: string, labelNames: ReadonlyArray<L> = []) =>
  new client.Counter<L>({ name, help, labelNames: [...labelNames], registers: [metricsRegistry] })

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

export const M = {
  httpRequests: counter("borealis_http_requests_total", "HTTP requests by route template, method and status.", ["method", "route", "status"]),
  httpDuration: new client.Histogram<"method" | "route">({
    name: "borealis_http_request_duration_seconds",
    help: "HTTP request latency by route template and method.",
    labelNames: ["method", "route"],
    buckets: LATENCY_BUCKETS,
    registers: [metricsRegistry]
  }),
  socketConnects: counter("borealis_socket_connects_total", "Socket.IO connections accepted, by kind (agent, legacy_agent, operator).", ["kind"]),
  socketDisconnects: counter("borealis_socket_disconnects_total", "Socket.IO disconnections, by kind.", ["kind"]),
  socketRefused: counter("borealis_socket_refused_total", "Socket.IO handshakes refused, by reason.", ["reason"]),
  enrollmentRequests: counter("borealis_enrollment_requests_total", "POST /api/agent/enroll/request by outcome (pending or the error code).", ["outcome"]),
  enrollmentPolls: counter("borealis_enrollment_polls_total", "POST /api/agent/enroll/poll by outcome (pending, approved, finalized, denied, expired, unknown, or the error code).", ["outcome"]),
  enrollmentFinalizations: counter("borealis_enrollment_finalizations_total", "Enrollments finalised (tokens issued), by whether the device was new or re-keyed.", ["device"]),
  tokenRefreshes: counter("borealis_token_refreshes_total", "POST /api/agent/token/refresh by outcome (ok, rotated, or the error code).", ["outcome"]),
  rateLimited: counter("borealis_rate_limited_total", "Requests refused by a rate limiter, by limiter.", ["limiter"]),
  schedulerTickDuration: new client.Histogram({
    name: "borealis_scheduler_tick_duration_seconds",
    help: "Time one scheduler tick took.",
    buckets: LATENCY_BUCKETS,
    registers: [metricsRegistry]
  }),
  schedulerTickLag: new client.Gauge({
    name: "borealis_scheduler_tick_lag_seconds",
    help: "How late the last scheduler tick started after its minute boundary.",
    registers: [metricsRegistry]
  }),
  jobsDispatched: counter("borealis_jobs_dispatched_total", "Job runs dispatched to agents, by kind (script, ansible) and source (scheduled, quick_run).", ["kind", "source"]),
  jobsCompleted: counter("borealis_jobs_completed_total", "Job runs (scheduled runs and quick runs) that reached a final status, by status.", ["status"]),
  dispatchToResult: new client.Histogram({
    name: "borealis_job_dispatch_to_result_seconds",
    help: "Time from dispatching a script to an agent until its result arrived.",
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600],
    registers: [metricsRegistry]
  })
} as const

/** What the scrape-time gauges read; the running Engine installs these (see src/http/MetricsListener.ts). */
export interface ScrapeSample {
  readonly sockets: { readonly agents: number; readonly legacy: number; readonly operators: number }
  readonly online: number
  readonly byMode: { readonly system: number; readonly currentuser: number }
  readonly mailboxDepth: number
  readonly writeBehindDepth: number
}

export const scrapeSource: { current: (() => Promise<ScrapeSample>) | undefined } = { current: undefined }

const sampled = async (): Promise<ScrapeSample | undefined> => {
  const source = scrapeSource.current
  return source === undefined ? undefined : source().catch(() => undefined)
}

export const scrapeGauges = {
  agentsConnected: new client.Gauge<"kind">({
    name: "borealis_agents_connected",
    help: "Open sockets, by kind (agent, legacy_agent, operator).",
    labelNames: ["kind"],
    registers: [metricsRegistry],
    async collect() {
      const s = await sampled()
      if (s === undefined) return
      this.set({ kind: "agent" }, s.sockets.agents)
      this.set({ kind: "legacy_agent" }, s.sockets.legacy)
      this.set({ kind: "operator" }, s.sockets.operators)
    }
  }),
  agentsOnline: new client.Gauge({
    name: "borealis_agents_online",
    help: "Devices online (live agent socket, or REST heartbeat within 300 s).",
    registers: [metricsRegistry],
    async collect() {
      const s = await sampled()
      if (s !== undefined) this.set(s.online)
    }
  }),
  agentsByMode: new client.Gauge<"mode">({
    name: "borealis_agents_by_service_mode",
    help: "Connected agent sockets by service mode.",
    labelNames: ["mode"],
    registers: [metricsRegistry],
    async collect() {
      const s = await sampled()
      if (s === undefined) return
      this.set({ mode: "system" }, s.byMode.system)
      this.set({ mode: "currentuser" }, s.byMode.currentuser)
    }
  }),
  writeBehindDepth: new client.Gauge({
    name: "borealis_write_behind_queue_depth",
    help: "Device rows waiting in the heartbeat write-behind.",
    registers: [metricsRegistry],
    async collect() {
      const s = await sampled()
      if (s !== undefined) this.set(s.writeBehindDepth)
    }
  }),
  registryMailboxDepth: new client.Gauge({
    name: "borealis_registry_mailbox_depth",
    help: "Messages waiting for the agent registry actor.",
    registers: [metricsRegistry],
    async collect() {
      const s = await sampled()
      if (s !== undefined) this.set(s.mailboxDepth)
    }
  })
}

export const count = <L extends string>(metric: client.Counter<L>, labels: Partial<Record<L, string>> = {}) =>
  Effect.sync(() => metric.inc(labels))

/** The exposition text (Prometheus format 0.0.4). */
export const renderMetrics = (): Promise<string> => metricsRegistry.metrics()
export const METRICS_CONTENT_TYPE = metricsRegistry.contentType
