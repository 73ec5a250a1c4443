// Socket.IO connections: who may connect (handshake authentication), one sequential mailbox per
// connection drained by a fiber in a FiberMap keyed by socket id, and the event handlers.
// spec: realtime-jobs.md §1.4, §2; auth-enrollment.md §3.4
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as FiberMap from "effect/FiberMap"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Runtime from "effect/Runtime"
import * as Stream from "effect/Stream"
import type * as http from "node:http"
import { TLSSocket } from "node:tls"
import { EngineConfig } from "../layers/Config.ts"
import { markAuthenticated } from "../layers/ConnectionGuard.ts"
import { Lifecycle } from "../layers/Lifecycle.ts"
import { logDebugWith } from "../layers/Logging.ts"
import { SocketHandshake, SocketIo } from "../layers/SocketIo.ts"
import { DeviceAuth } from "../services/deviceAuth/DeviceAuth.ts"
import { M } from "../layers/metrics.ts"
import { type AuthenticatedOperator, OperatorAuth } from "../services/operators/OperatorAuth.ts"
import { AgentRegistry, type SocketIdentity } from "../services/realtime/AgentRegistry.ts"
import { AGENTS_ROOM, OPERATORS_ROOM, RealtimeOutbox } from "../services/realtime/RealtimeOutbox.ts"
import { eventServiceTags, type EventContext, type EventServices } from "./events.ts"
import { agentHandlers, operatorHandlers } from "./handlers.ts"

/** Events queued per connection before new ones are dropped (a flooding client loses its own events). */
export const MAILBOX_LIMIT = 256

export class HandshakeRefused extends Error {
  readonly data: { readonly error: string }
  constructor(code: string) {
    super(code)
    this.data = { error: code }
  }
}

type HeaderMap = Readonly<Record<string, string | Array<string> | undefined>>

const maskedHeaders = (headers: HeaderMap) => ({
  has_authorization: headers["authorization"] !== undefined,
  has_cookie: headers["cookie"] !== undefined,
  agent_context: typeof headers["x-borealis-agent-context"] === "string" ? headers["x-borealis-agent-context"] : undefined
})

const header = (headers: HeaderMap, name: string): string | undefined => {
  const v = headers[name]
  return Array.isArray(v) ? v[0] : v
}

/** `scheme://host[:port]` as the WHATWG URL parser normalises it (default port dropped), or undefined. */
const originOf = (value: string): string | undefined => {
  try {
    const url = new URL(value)
    return url.protocol === "http:" || url.protocol === "https:" ? `${url.protocol}//${url.host}` : undefined
  } catch {
    return undefined
  }
}

export interface HandshakeOrigin {
  /** The `Origin` header (absent for agents and other non-browser clients). */
  readonly origin: string | undefined
  /** The `Host` header the browser sent with it. */
  readonly host: string | undefined
  /** The handshake arrived over this listener's TLS. */
  readonly tls: boolean
  readonly allowedOrigins: ReadonlyArray<string>
  readonly publicBaseUrl: Option.Option<string>
}

/**
 * May a socket authenticated by the operator's cookies come from this Origin? A browser sends those
 * cookies with any page's websocket, so: no Origin, the page's own origin (Origin host:port = Host,
 * https under TLS; behind a TLS-terminating proxy either scheme, or BOREALIS_PUBLIC_BASE_URL's
 * origin), or one listed exactly in BOREALIS_CORS_ALLOWED_ORIGINS. `*` and `null` never count.
 */
export const cookieOriginAllowed = (input: HandshakeOrigin): boolean => {
  const { origin } = input
  if (origin === undefined) return true
  if (origin === "null" || origin === "*") return false
  if (input.allowedOrigins.includes(origin)) return true
  const presented = originOf(origin)
  if (presented === undefined) return false
  if (Option.exists(input.publicBaseUrl, (base) => originOf(base) === presented)) return true
  if (input.host === undefined || input.host === "") return false
  const schemes = input.tls ? ["https:"] : ["http:", "https:"]
  return schemes.some((scheme) => originOf(`${scheme}//${input.host}`) === presented)
}

/** Credentials a browser attaches by itself to any page's request (cookies), unlike a header a page must set. */
const ambient = (via: AuthenticatedOperator["via"]): boolean => via === "session" || via === "cookie"

export const RealtimeLive = Layer.scopedDiscard(
  Effect.gen(function*() {
    const io = yield* SocketIo
    const handshake = yield* SocketHandshake
    const config = yield* EngineConfig
    const registry = yield* AgentRegistry
    const deviceAuth = yield* DeviceAuth
    const operators = yield* OperatorAuth
    const outbox = yield* RealtimeOutbox
    const lifecycle = yield* Lifecycle
    const runtime = yield* Effect.runtime<never>()
    const fibers = yield* FiberMap.make<string>()
    // Event fibers carry only the handlers' services: every span copies its fiber's context, and the
    // app's whole context (every service) copied per event was most of what a heartbeat allocated.
    const eventContext = Context.pick(...eventServiceTags)(yield* Effect.context<EventServices>())
    const runIn = yield* FiberMap.runtime(fibers)<EventServices>().pipe(Effect.mapInputContext((_: Context.Context<never>) => eventContext))
    /** Who each admitted handshake request authenticated as; Socket.IO hands the same object out as `socket.request`. */
    const admitted = new WeakMap<http.IncomingMessage, SocketIdentity>()

    /**
     * Handshake: an agent presents `Authorization: Bearer <access token>` (checked like any agent
     * request); a browser presents its operator session cookie (and must come from an allowed
     * Origin); anything else is refused unless BOREALIS_SOCKET_ALLOW_ANONYMOUS admits pre-token agents.
     */
    const identify = (request: http.IncomingMessage) =>
      Effect.gen(function*() {
        const headers = request.headers
        const authorization = header(headers, "authorization")
        const cookie = header(headers, "cookie")
        const asOperator = (operator: AuthenticatedOperator) => {
          const crossSite = ambient(operator.via) && !cookieOriginAllowed({
            origin: header(headers, "origin"),
            host: header(headers, "host"),
            tls: request.socket instanceof TLSSocket,
            allowedOrigins: config.corsAllowedOrigins,
            publicBaseUrl: config.publicBaseUrl
          })
          return crossSite
            ? Effect.fail(new HandshakeRefused("origin_not_allowed"))
            : Effect.succeed<SocketIdentity>({
              _tag: "Operator",
              username: operator.username,
              role: operator.role,
              // the account and session it was opened with, so revoking either cuts it (ws/revocations.ts)
              userId: operator.userId,
              sessionHash: operator.sessionHash,
              expiresAt: operator.expiresAt
            })
        }
        if (authorization !== undefined && authorization.startsWith("Bearer ")) {
          const device = yield* Effect.either(deviceAuth.authenticate({ authorization, agentContext: header(headers, "x-borealis-agent-context") }))
          if (device._tag === "Right") {
            // A quarantined device keeps its REST access (as the original) but gets no socket, so
            // nothing is dispatched to it until an operator restores it.
            if (device.right.status === "quarantined") return yield* Effect.fail(new HandshakeRefused("device_quarantined"))
            return { _tag: "Agent", guid: device.right.guid, hostname: device.right.hostname, serviceMode: device.right.serviceMode } satisfies SocketIdentity as SocketIdentity
          }
          // Not a device token: perhaps an operator's bearer token.
          const operator = yield* operators.authenticate({ cookie, authorization })
          if (Option.isSome(operator)) return yield* asOperator(operator.value)
          return yield* Effect.fail(new HandshakeRefused(device.left.error))
        }
        if (cookie !== undefined) {
          const operator = yield* operators.authenticate({ cookie, authorization })
          if (Option.isSome(operator)) return yield* asOperator(operator.value)
        }
        if (config.socket.allowAnonymous) return { _tag: "LegacyAgent" } as SocketIdentity
        return yield* Effect.fail(new HandshakeRefused("not_authenticated"))
      })

    // The decision is taken on engine.io's handshake request, before a session exists: an
    // unauthenticated client never gets one, so it cannot send message bodies (up to
    // BOREALIS_SOCKET_MAX_BUFFER_BYTES) at all.
    yield* handshake.install((request, decide) => {
      const transport = new URLSearchParams((request.url ?? "").split("?")[1] ?? "").get("transport") ?? undefined
      Runtime.runCallback(runtime)(
        identify(request).pipe(
          Effect.tapError((refused) =>
            Effect.zipRight(Effect.sync(() => M.socketRefused.inc({ reason: refused.message })), Effect.logInfo("socket-refused")).pipe(
              Effect.annotateLogs({
                ip: request.socket.remoteAddress,
                transport,
                reason: refused.message,
                origin: header(request.headers, "origin"),
                ...maskedHeaders(request.headers)
              })
            )
          ),
          // A storage fault during the check is transient: the client retries, nothing is revoked.
          Effect.catchAllDefect((defect) =>
            Effect.zipRight(Effect.logWarning("socket-auth-unavailable", Cause.die(defect)), Effect.fail(new HandshakeRefused("service_unavailable")))
          ),
          Effect.withSpan("ws.handshake", { captureStackTrace: false })
        ),
        {
          onExit: (exit) => {
            if (exit._tag === "Success") {
              admitted.set(request, exit.value)
              // An authenticated connection no longer counts against its address's unauthenticated cap.
              if (exit.value._tag !== "LegacyAgent") markAuthenticated(request.socket)
              decide({ _tag: "Admit" })
            } else {
              const failure = Cause.failureOption(exit.cause)
              decide({ _tag: "Refuse", reason: Option.isSome(failure) ? failure.value.message : "service_unavailable" })
            }
          }
        }
      )
    })

    // Only reads what the handshake established: the Socket.IO CONNECT is acknowledged at once.
    io.use((socket, next) => {
      const identity = admitted.get(socket.request)
      if (identity === undefined) {
        next(new HandshakeRefused("not_authenticated"))
        return
      }
      socket.data.identity = identity
      Runtime.runSync(runtime)(
        Effect.logInfo("socket-connect").pipe(
          Effect.annotateLogs({ sid: socket.id, ip: socket.handshake.address, transport: socket.conn.transport.name, as: identity._tag, ...maskedHeaders(socket.handshake.headers) })
        )
      )
      next()
    })

    io.on("connection", (socket) => {
      const identity = socket.data.identity as SocketIdentity
      const ctx: EventContext = { socket, identity }
      const handlers = identity._tag === "Operator" ? operatorHandlers : agentHandlers
      void socket.join(identity._tag === "Operator" ? OPERATORS_ROOM : AGENTS_ROOM)
      const kind = identity._tag === "Operator" ? "operator" : identity._tag === "Agent" ? "agent" : "legacy_agent"
      M.socketConnects.inc({ kind })
      Runtime.runSync(runtime)(registry.socketOpened(socket.id, identity))

      const mailbox: Array<{ readonly event: string; readonly args: ReadonlyArray<unknown> }> = []
      let draining = false
      const drain = Effect.gen(function*() {
        for (;;) {
          const next = mailbox.shift()
          if (next === undefined) break
          const handler = Object.hasOwn(handlers, next.event) ? handlers[next.event] : undefined
          if (handler === undefined) {
            yield* logDebugWith("ws-event-ignored", () => ({ event: next.event, sid: socket.id, as: identity._tag }))
            continue
          }
          yield* Effect.suspend(() => handler(ctx, next.args)).pipe(
            // A bad payload, or a bug in one handler, drops that event only.
            Effect.catchAllCause((cause) =>
              Cause.isInterruptedOnly(cause)
                ? Effect.failCause(cause)
                : logDebugWith("ws-event-failed", () => ({ event: next.event, sid: socket.id }), cause)
            ),
            Effect.withSpan(`ws.${next.event}`, { captureStackTrace: false })
          )
        }
      }).pipe(
        // Whatever happens to this drain (even an interruption), the next event starts a new one.
        Effect.ensuring(Effect.sync(() => {
          draining = false
        }))
      )

      socket.onAny((event: unknown, ...args: Array<unknown>) => {
        if (typeof event !== "string") return
        if (mailbox.length >= MAILBOX_LIMIT) {
          Runtime.runFork(runtime)(logDebugWith("ws-event-dropped", () => ({ event, sid: socket.id, reason: "mailbox full" })))
          return
        }
        mailbox.push({ event, args })
        if (!draining) {
          draining = true
          runIn(socket.id, drain)
        }
      })

      // An operator socket lives as long as its session: at the session's deadline it is checked
      // again (a session in use moves its deadline on), and cut once the session is over.
      let sessionCheck: ReturnType<typeof setTimeout> | undefined
      const checkSessionAt = (deadline: number) => {
        const wait = Math.max(1000, Math.min(deadline * 1000 - Date.now(), 2 ** 31 - 1))
        sessionCheck = setTimeout(() => {
          if (identity._tag !== "Operator" || identity.sessionHash === undefined) return
          Runtime.runCallback(runtime)(operators.sessionAlive(identity.sessionHash), {
            onExit: (exit) => {
              if (exit._tag === "Success" && Option.isSome(exit.value)) return checkSessionAt(exit.value.value)
              if (exit._tag === "Failure") return checkSessionAt(Date.now() / 1000 + 60)
              Runtime.runFork(runtime)(Effect.logInfo("sockets-cut").pipe(Effect.annotateLogs({ kind: "OperatorSession", reason: "expired", sockets: 1 })))
              socket.disconnect(true)
            }
          })
        }, wait)
        sessionCheck.unref()
      }
      if (identity._tag === "Operator" && identity.sessionHash !== undefined && identity.expiresAt !== undefined) checkSessionAt(identity.expiresAt)

      socket.on("disconnect", (reason) => {
        if (sessionCheck !== undefined) clearTimeout(sessionCheck)
        mailbox.length = 0
        M.socketDisconnects.inc({ kind })
        // At shutdown every socket closes at once: the registry and the drain fibers go with the
        // scope, and the listener logs one line for all of them instead of one per socket.
        if (Runtime.runSync(runtime)(Ref.get(lifecycle.draining))) return
        Runtime.runFork(runtime)(
          Effect.all([
            FiberMap.remove(fibers, socket.id),
            registry.socketClosed(socket.id),
            Effect.logInfo("socket-disconnect").pipe(Effect.annotateLogs({ sid: socket.id, reason, as: identity._tag }))
          ], { discard: true })
        )
      })
    })

    // Operators hear when a device goes online or offline (after the reconnect grace).
    yield* Stream.fromPubSub(registry.changes).pipe(
      Stream.runForEach((change) =>
        outbox.toOperators("device_status_changed", {
          hostname: change.hostname,
          guid: change.guid,
          agent_ids: change.agent_ids,
          online: change.online,
          status: change.online ? "Online" : "Offline",
          changed_at: change.at
        })
      ),
      Effect.forkScoped
    )

    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        io.removeAllListeners("connection")
      })
    )
  })
)
