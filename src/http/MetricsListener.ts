// Wiring of the scrape-time gauges to the running Engine, and the optional separate, unauthenticated
// metrics listener (BOREALIS_METRICS_LISTEN) for Prometheus on a private address.
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import * as http from "node:http"
import { EngineConfig } from "../layers/Config.ts"
import { ListenFailed } from "../layers/HttpListener.ts"
import { DeviceWriteBehind } from "../services/presence/DeviceWriteBehind.ts"
import { AgentRegistry } from "../services/realtime/AgentRegistry.ts"
import { METRICS_CONTENT_TYPE, renderMetrics, scrapeSource } from "../layers/metrics.ts"

const LISTENER_HEADERS = {
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
  "referrer-policy": "no-referrer"
} as const

export const MetricsListenerLive = Layer.scopedDiscard(
  Effect.gen(function*() {
    const registry = yield* AgentRegistry
    const writeBehind = yield* DeviceWriteBehind
    const config = yield* EngineConfig
    const runtime = yield* Effect.runtime<never>()
    // prom-client reads these on every scrape; the latest Engine built in a process owns them.
    const source = () =>
      Runtime.runPromise(runtime)(
        Effect.map(Effect.all([registry.snapshot, registry.stats]), ([s, stats]) => ({
          sockets: s.sockets,
          online: s.onlineHostnames.size,
          byMode: s.byServiceMode,
          mailboxDepth: stats.depth,
          writeBehindDepth: writeBehind.depth()
        }))
      )
    scrapeSource.current = source
    yield* Effect.addFinalizer(() => Effect.sync(() => {
      if (scrapeSource.current === source) scrapeSource.current = undefined
    }))

    if (Option.isSome(config.metricsListen)) {
      const { host, port } = config.metricsListen.value
      // A bare listener: the same timeouts and security headers as the main one, kept small.
      const server = http.createServer({
        headersTimeout: config.http.headersTimeoutMs,
        requestTimeout: config.http.requestTimeoutMs,
        keepAliveTimeout: config.http.keepAliveTimeoutMs
      }, (req, res) => {
        for (const [name, value] of Object.entries(LISTENER_HEADERS)) res.setHeader(name, value)
        if (req.method !== "GET" || (req.url ?? "").split("?")[0] !== "/metrics") {
          res.writeHead(404, { "content-type": "application/json" }).end('{"error":"not_found"}')
          return
        }
        renderMetrics().then(
          (text) => res.writeHead(200, { "content-type": METRICS_CONTENT_TYPE }).end(text),
          () => res.writeHead(500, { "content-type": "application/json" }).end('{"error":"internal_error"}')
        )
      })
      server.setTimeout(config.http.idleTimeoutMs, (socket) => socket.destroy())
      yield* Effect.acquireRelease(
        Effect.async<void, ListenFailed>((resume) => {
          server.once("error", (error: NodeJS.ErrnoException) =>
            resume(Effect.fail(new ListenFailed({ address: `${host}:${port} (BOREALIS_METRICS_LISTEN)`, reason: error.code === "EADDRINUSE" ? "address already in use" : error.message }))))
          server.listen({ host, port }, () => resume(Effect.void))
        }),
        () => Effect.async<void>((resume) => {
          server.close(() => resume(Effect.void))
          server.closeAllConnections()
        })
      )
      const address = server.address()
      yield* Effect.logInfo("metrics-listening").pipe(
        Effect.annotateLogs({ url: `http://${host}:${typeof address === "object" && address !== null ? address.port : port}/metrics` })
      )
    }
  })
)
