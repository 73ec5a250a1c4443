// One Node server (HTTPS by default, plain HTTP behind a TLS-terminating proxy) on BOREALIS_HOST:
// BOREALIS_PORT. Effect's HTTP app answers every request; Socket.IO is attached to the same server and
// owns `/socket.io/` and its upgrades.
import type * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpApp from "@effect/platform/HttpApp"
import * as IncomingMessage from "@effect/platform/HttpIncomingMessage"
import type * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerError from "@effect/platform/HttpServerError"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import * as http from "node:http"
import * as https from "node:https"
import type { Socket } from "node:net"
import { Server as IoServer } from "socket.io"
import { cors, requestLog } from "../http/middleware.ts"
import { BorealisApi } from "../http/Api.ts"
import { routeMatcher, routeTemplates } from "../http/routes.ts"
import { notFoundResponse, spaResponse } from "../http/spa.ts"
import { KeyMaterial } from "../services/keys/KeyMaterial.ts"
import { EngineConfig } from "./Config.ts"
import { Lifecycle } from "./Lifecycle.ts"

export class ListenFailed extends Schema.TaggedError<ListenFailed>()("ListenFailed", {
  address: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `cannot listen on ${this.address} (BOREALIS_HOST/BOREALIS_PORT): ${this.reason}`
  }
}

/** The running listener: where it answers, and the Node server Socket.IO is attached to. */
export class HttpListener extends Context.Tag("borealis/HttpListener")<HttpListener, {
  readonly server: http.Server
  readonly scheme: "http" | "https"
  readonly host: string
  readonly port: number
  /** e.g. `https://127.0.0.1:5000` */
  readonly url: string
}>() {}

/** The Socket.IO server (namespace `/`); realtime handlers register on it before the port opens. */
export class SocketIo extends Context.Tag("borealis/SocketIo")<SocketIo, IoServer>() {}

export const originAllowed = (allowed: ReadonlyArray<string>, origin: string | undefined): boolean =>
  origin === undefined || allowed.includes("*") || allowed.includes(origin)

export const SocketIoLive: Layer.Layer<SocketIo, never, EngineConfig> = Layer.scoped(
  SocketIo,
  Effect.gen(function*() {
    const config = yield* EngineConfig
    const origins = config.corsAllowedOrigins
    return yield* Effect.acquireRelease(
      Effect.sync(() =>
        new IoServer({
          path: "/socket.io",
          serveClient: false,
          maxHttpBufferSize: config.socket.maxBufferBytes,
          cors: { origin: origins.includes("*") ? true : [...origins], credentials: true },
          // Agents send no Origin; a browser's must be listed (`*` admits any). The check covers the
          // websocket upgrade too, which CORS headers alone would not.
          allowRequest: (req, callback) =>
            originAllowed(origins, req.headers.origin) ? callback(null, true) : callback("Not an accepted origin.", false)
        })
      ),
      (io) => Effect.promise(() => io.close().catch(() => undefined))
    )
  })
)

const MALFORMED = Buffer.from(
  "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: 27\r\n\r\n{\"error\":\"invalid_request\"}"
)

/** The whole HTTP app: API routes, then the SPA/404 fallback, behind CORS and request logging. */
export const makeHttpApp = Effect.gen(function*() {
  const config = yield* EngineConfig
  const api = yield* HttpApiBuilder.httpApp
  const app = api.pipe(
    Effect.catchAllCause((cause) => {
      const failure = Cause.failureOption(cause)
      if (Option.isSome(failure) && HttpServerError.isServerError(failure.value) && (failure.value as { _tag: string })._tag === "RouteNotFound") {
        return spaResponse(config.staticRoot)
      }
      if (Cause.isInterruptedOnly(cause)) return Effect.failCause(cause)
      return Effect.as(Effect.logError("http-unhandled", cause), notFoundResponse())
    })
  )
  const routeOf = routeMatcher(routeTemplates(BorealisApi))
  return requestLog(routeOf)(cors(config.corsAllowedOrigins)(app)) as HttpApp.Default<never, never>
})

/**
 * Stop accepting, close idle keep-alive connections, and give in-flight requests 1.5 s before every
 * remaining connection is cut, so shutdown stays short however many agents are connected.
 */
const closeServer = (server: http.Server, sockets: Set<Socket>) =>
  Effect.async<void>((resume) => {
    if (!server.listening) return resume(Effect.void)
    server.close(() => resume(Effect.void))
    server.closeIdleConnections()
    const cutAll = setTimeout(() => {
      server.closeAllConnections()
      for (const socket of sockets) socket.destroy()
    }, 1500)
    cutAll.unref()
  })

export const HttpServerLive: Layer.Layer<
  HttpListener,
  ListenFailed,
  | EngineConfig
  | Lifecycle
  | KeyMaterial
  | SocketIo
  | HttpApiBuilder.Router
  | HttpApiBuilder.Middleware
  | HttpApi.Api
  | HttpRouter.HttpRouter.DefaultServices
> = Layer.scoped(
  HttpListener,
  Effect.gen(function*() {
    const config = yield* EngineConfig
    const keys = yield* KeyMaterial
    const io = yield* SocketIo
    const lifecycle = yield* Lifecycle
    const app = yield* makeHttpApp
    const handler = yield* NodeHttpServer.makeHandler(app).pipe(
      Effect.provideService(IncomingMessage.MaxBodySize, Option.some(config.maxBodyBytes as never))
    )
    const tls = keys.tls
    const server: http.Server = Option.isSome(tls)
      ? https.createServer({ key: tls.value.keyPem, cert: tls.value.chainPem, minVersion: tls.value.minVersion })
      : http.createServer()
    const sockets = new Set<Socket>()
    const upgraded = new Set<Socket>()
    server.on("connection", (socket: Socket) => {
      sockets.add(socket)
      socket.once("close", () => sockets.delete(socket))
    })
    // (Under TLS this is the TLS socket, not the raw one `connection` saw.)
    server.on("upgrade", (_request, socket: Socket) => {
      upgraded.add(socket)
      socket.once("close", () => upgraded.delete(socket))
    })
    server.on("request", handler)
    server.on("clientError", (_error, socket) => {
      if (socket.writable) socket.end(MALFORMED)
      else socket.destroy()
    })
    server.on("tlsClientError", (_error, socket) => socket.destroy())
    // After our handler is registered: engine.io wraps the request listeners so `/socket.io/` (and
    // its websocket upgrades) go to Socket.IO and everything else reaches the Effect app.
    io.attach(server)

    const display = config.host === "" ? "0.0.0.0" : config.host
    yield* Effect.acquireRelease(
      Effect.async<void, ListenFailed>((resume) => {
        const onError = (error: NodeJS.ErrnoException) =>
          resume(Effect.fail(new ListenFailed({
            address: `${display}:${config.port}`,
            reason: error.code === "EADDRINUSE" ? "address already in use" : error.message
          })))
        server.once("error", onError)
        server.listen({ host: config.host === "" ? undefined : config.host, port: config.port }, () => {
          server.off("error", onError)
          resume(Effect.void)
        })
      }),
      () =>
        Effect.gen(function*() {
          // Readiness answers 503 from here on; with a drain delay the port stays open meanwhile, so
          // a load balancer notices before connections are refused.
          yield* Ref.set(lifecycle.draining, true)
          if (config.shutdownDrainSeconds > 0) {
            yield* Effect.logInfo("http-draining").pipe(Effect.annotateLogs({ seconds: config.shutdownDrainSeconds }))
            yield* Effect.sleep(Duration.seconds(config.shutdownDrainSeconds))
          }
          yield* Effect.logInfo("http-stopping").pipe(Effect.annotateLogs({ sockets: io.of("/").sockets.size, connections: sockets.size }))
          // End the transports, not the Socket.IO sessions: a client told DISCONNECT (as
          // `disconnectSockets` does) treats it as final — python-socketio and the web UI's client then
          // never reconnect — while a lost transport makes both come back to the next server.
          // Websocket connections are cut outright: a close handshake per socket (over TLS, a
          // close_notify too) took 10 s for 19,000 agents and buys the clients nothing.
          const started = performance.now()
          for (const socket of upgraded) socket.destroy()
          for (const socket of io.of("/").sockets.values()) {
            if (socket.conn.transport.name !== "websocket") socket.conn.close()
          }
          const closedSockets = performance.now()
          yield* closeServer(server, sockets)
          yield* Effect.logInfo("http-stopped").pipe(Effect.annotateLogs({
            sockets_closed_ms: Math.round(closedSockets - started),
            total_ms: Math.round(performance.now() - started)
          }))
        })
    )
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : config.port
    const scheme = Option.isSome(tls) ? "https" : "http"
    const urlHost = display.includes(":") ? `[${display}]` : display
    const url = `${scheme}://${urlHost}:${port}`
    yield* Effect.logInfo("http-listening").pipe(Effect.annotateLogs({ url, tls: Option.isSome(tls) }))
    return { server, scheme, host: display, port, url } as const
  })
)
