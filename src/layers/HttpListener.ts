// One Node server (HTTPS by default, plain HTTP behind a TLS-terminating proxy) on BOREALIS_HOST:
// BOREALIS_PORT, with the timeouts, connection caps and TLS suites a trusted server needs. The HTTP app
// (the transport layer's `HttpRequestHandler`) answers every request; Socket.IO is attached to the same
// server and owns `/socket.io/` and its upgrades.
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Runtime from "effect/Runtime"
import * as Schema from "effect/Schema"
import * as http from "node:http"
import * as https from "node:https"
import type { Socket } from "node:net"
import type { Duplex } from "node:stream"
import type { TLSSocket } from "node:tls"
import proxyAddr from "proxy-addr"
import { EngineConfig } from "./Config.ts"
import { makeConnectionGuard } from "./ConnectionGuard.ts"
import { KeyMaterial } from "./keys/KeyMaterial.ts"
import { Lifecycle } from "./Lifecycle.ts"
import { M } from "./metrics.ts"
import { SocketIo } from "./SocketIo.ts"
import { addSocketIoSecurityHeaders, reachedOverHttps } from "./webPolicy.ts"

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

/** The Node request handler of the HTTP app (the transport layer builds it from the HttpApi). */
export class HttpRequestHandler extends Context.Tag("borealis/HttpRequestHandler")<
  HttpRequestHandler,
  (request: http.IncomingMessage, response: http.ServerResponse) => void
>() {}

/** Answers written straight to the socket (outside the app), with the same security headers as any answer. */
const errorAnswer = (status: string, body: string) =>
  Buffer.from(
    `HTTP/1.1 ${status}\r\nContent-Type: application/json\r\nX-Content-Type-Options: nosniff\r\nX-Frame-Options: DENY\r\n` +
      `Content-Security-Policy: default-src 'none'; frame-ancestors 'none'\r\nConnection: close\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  )
const MALFORMED = errorAnswer("400 Bad Request", "{\"error\":\"invalid_request\"}")
/** Headers or body not received within BOREALIS_HTTP_HEADERS/REQUEST_TIMEOUT_SECONDS. */
const TIMED_OUT = errorAnswer("408 Request Timeout", "{\"error\":\"request_timeout\"}")
/** How long an error answer may take to flush before its socket is cut anyway (a client not reading). */
const ERROR_FLUSH_MS = 1000

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

/**
 * TLS 1.2 suites: ECDHE with AEAD ciphers only (no CBC, no static RSA, no DHE), ECDSA first for the
 * generated P-384 certificate, RSA kept for a brought certificate. The TLS 1.3 suites must be named
 * too: a list without them makes Node cap the protocol at TLS 1.2.
 */
export const TLS_CIPHERS = [
  "TLS_AES_256_GCM_SHA384",
  "TLS_CHACHA20_POLY1305_SHA256",
  "TLS_AES_128_GCM_SHA256",
  "ECDHE-ECDSA-AES128-GCM-SHA256",
  "ECDHE-ECDSA-AES256-GCM-SHA384",
  "ECDHE-ECDSA-CHACHA20-POLY1305",
  "ECDHE-RSA-AES128-GCM-SHA256",
  "ECDHE-RSA-AES256-GCM-SHA384",
  "ECDHE-RSA-CHACHA20-POLY1305"
].join(":")

/**
 * Answer a request Node could not parse (or that timed out) and cut the connection: the answer goes
 * out with a FIN and the socket is destroyed once it has flushed, or after ERROR_FLUSH_MS for a
 * client that does not read. A half-close alone kept the fd for as long as the client kept its side.
 */
const answerAndDestroy = (error: NodeJS.ErrnoException, socket: Duplex): void => {
  // Writing over a response already under way would corrupt it (Node's own rule); `_httpMessage` is
  // the in-flight ServerResponse Node keeps on the socket.
  const inFlight = (socket as unknown as { readonly _httpMessage?: { readonly headersSent: boolean } | null })._httpMessage
  if (error.code === "ECONNRESET" || !socket.writable || inFlight?.headersSent === true) {
    socket.destroy()
    return
  }
  const fallback = setTimeout(() => socket.destroy(), ERROR_FLUSH_MS)
  fallback.unref()
  socket.once("close", () => clearTimeout(fallback))
  socket.end(error.code === "ERR_HTTP_REQUEST_TIMEOUT" ? TIMED_OUT : MALFORMED, () => socket.destroy())
}

/** How often Node looks for requests past their headers/request timeout (it defaults to 30 s). */
const checkingIntervalMs = (headersTimeoutMs: number, requestTimeoutMs: number): number => {
  const shortest = Math.min(...[headersTimeoutMs, requestTimeoutMs].filter((ms) => ms > 0))
  return Number.isFinite(shortest) ? Math.min(1000, Math.max(100, Math.floor(shortest / 4))) : 30_000
}

/** At most one `connection-refused` line per this interval, counting what it stands for. */
const REFUSAL_LOG_INTERVAL_MS = 10_000

export const HttpListenerLive: Layer.Layer<HttpListener, ListenFailed, EngineConfig | Lifecycle | KeyMaterial | SocketIo | HttpRequestHandler> = Layer.scoped(
  HttpListener,
  Effect.gen(function*() {
    const config = yield* EngineConfig
    const keys = yield* KeyMaterial
    const io = yield* SocketIo
    const lifecycle = yield* Lifecycle
    const handler = yield* HttpRequestHandler
    const tls = keys.tls
    const limits = config.http
    // engine.io's own test for its requests (its path with the trailing slash, as a URL prefix).
    const enginePath = `${io.path().replace(/\/$/, "")}/`
    const isEnginePath = (url: string | undefined): boolean => url !== undefined && url.startsWith(enginePath)
    // Node refuses headersTimeout > requestTimeout; the request deadline covers the headers anyway.
    const headersTimeout = limits.requestTimeoutMs > 0 && limits.headersTimeoutMs > limits.requestTimeoutMs
      ? limits.requestTimeoutMs
      : limits.headersTimeoutMs
    if (headersTimeout !== limits.headersTimeoutMs) {
      yield* Effect.logWarning("config-fallback").pipe(Effect.annotateLogs({
        variable: "BOREALIS_HTTP_HEADERS_TIMEOUT_SECONDS",
        message: "longer than BOREALIS_HTTP_REQUEST_TIMEOUT_SECONDS; using the request timeout"
      }))
    }
    const httpOptions: http.ServerOptions = {
      headersTimeout,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      connectionsCheckingInterval: checkingIntervalMs(headersTimeout, limits.requestTimeoutMs),
      // Only Socket.IO upgrades; any other `Upgrade:` request is answered as plain HTTP (engine.io
      // would half-close it after 1 s and leave the fd to the client).
      shouldUpgradeCallback: (request) => isEnginePath(request.url)
    }
    const server: http.Server = Option.isSome(tls)
      ? https.createServer({
        ...httpOptions,
        key: tls.value.keyPem,
        cert: tls.value.chainPem,
        minVersion: tls.value.minVersion,
        ciphers: TLS_CIPHERS,
        honorCipherOrder: true,
        handshakeTimeout: limits.tlsHandshakeTimeoutMs
      })
      : http.createServer(httpOptions)
    // Socket inactivity on HTTP connections (slow bodies, paused readers); upgraded websockets are
    // out of its reach (Node drops its timeout handler on upgrade and ws clears the timer).
    server.timeout = limits.idleTimeoutMs

    const runtime = yield* Effect.runtime<never>()
    let refusedSinceLog = 0
    let lastRefusalLog = 0
    const refused = (address: string | undefined) => {
      M.rateLimited.inc({ limiter: "unauthenticated_connections" })
      refusedSinceLog += 1
      const now = Date.now()
      if (now - lastRefusalLog < REFUSAL_LOG_INTERVAL_MS) return
      lastRefusalLog = now
      const refusedCount = refusedSinceLog
      refusedSinceLog = 0
      Runtime.runFork(runtime)(
        Effect.logWarning("connection-refused").pipe(Effect.annotateLogs({
          reason: "unauthenticated connections per address",
          address: address ?? "unknown",
          limit: limits.maxUnauthenticatedPerAddress,
          refused: refusedCount
        }))
      )
    }
    // Every client behind a trusted reverse proxy shares its address: the proxy is not capped.
    const trusted = proxyAddr.compile([...config.trustedProxies])
    const guard = makeConnectionGuard({
      maxUnauthenticatedPerAddress: limits.maxUnauthenticatedPerAddress,
      exempt: (address) => trusted(address, 0),
      tls: Option.isSome(tls)
    })

    const sockets = new Set<Socket>()
    const upgraded = new Set<Socket>()
    // Raw TCP connections (under TLS too, before the handshake): the per-address cap applies here.
    server.on("connection", (socket: Socket) => {
      if (!guard.admit(socket)) {
        const address = socket.remoteAddress
        socket.destroy()
        refused(address)
        return
      }
      sockets.add(socket)
      socket.once("close", () => sockets.delete(socket))
    })
    server.on("secureConnection", (socket: TLSSocket) => guard.linkTls(socket))
    // (Under TLS this is the TLS socket, not the raw one `connection` saw.)
    server.on("upgrade", (_request, socket: Socket) => {
      upgraded.add(socket)
      socket.once("close", () => upgraded.delete(socket))
    })
    server.on("request", handler)
    server.on("clientError", answerAndDestroy)
    server.on("tlsClientError", (_error, socket) => socket.destroy())
    // After our handler is registered: engine.io wraps the request listeners so `/socket.io/` (and
    // its websocket upgrades) go to Socket.IO and everything else reaches the Effect app.
    io.attach(server)
    // Socket.IO's own answers (polling, handshakes) carry the same security headers as the app's.
    addSocketIoSecurityHeaders(io, { hsts: reachedOverHttps(Option.isSome(tls), config.publicBaseUrl) })
    // A long-polling GET is held by engine.io until it has a packet or its next ping (pingInterval),
    // writing nothing meanwhile: the idle timeout must not cut it. Once the answer has started, a
    // client that stops reading it is idle like any other.
    const heldPolls = new WeakMap<Duplex, http.ServerResponse>()
    server.on("request", (request: http.IncomingMessage, response: http.ServerResponse) => {
      if (request.method !== "GET" || !isEnginePath(request.url)) return
      const socket = request.socket
      heldPolls.set(socket, response)
      response.once("close", () => {
        if (heldPolls.get(socket) === response) heldPolls.delete(socket)
      })
    })
    // With a listener here Node no longer destroys idle sockets itself (idle or keep-alive timeout).
    server.on("timeout", (socket: Duplex) => {
      const poll = heldPolls.get(socket)
      if (poll !== undefined && !poll.headersSent) return
      socket.destroy()
    })

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
