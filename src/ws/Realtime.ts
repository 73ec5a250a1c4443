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
import type { Socket } from "socket.io"
import { EngineConfig } from "../layers/Config.ts"
import { Lifecycle } from "../layers/Lifecycle.ts"
import { logDebugWith } from "../layers/Logging.ts"
import { SocketIo } from "../layers/HttpServer.ts"
import { DeviceAuth } from "../services/deviceAuth/DeviceAuth.ts"
import { M } from "../services/metrics/metrics.ts"
import { OperatorAuth } from "../services/operators/OperatorAuth.ts"
import { AgentRegistry, type SocketIdentity } from "../services/realtime/AgentRegistry.ts"
import { AGENTS_ROOM, OPERATORS_ROOM, RealtimeOutbox } from "../services/realtime/RealtimeOutbox.ts"
import { agentHandlers, eventServiceTags, type EventContext, type EventServices, operatorHandlers } from "./events.ts"

/** Events queued per connection before new ones are dropped (a flooding client loses its own events). */
export const MAILBOX_LIMIT = 256

export class HandshakeRefused extends Error {
  readonly data: { readonly error: string }
  constructor(code: string) {
    super(code)
    this.data = { error: code }
  }
}

const maskedHeaders = (headers: Readonly<Record<string, string | Array<string> | undefined>>) => ({
  has_authorization: headers["authorization"] !== undefined,
  has_cookie: headers["cookie"] !== undefined,
  agent_context: typeof headers["x-borealis-agent-context"] === "string" ? headers["x-borealis-agent-context"] : undefined
})

const header = (headers: Readonly<Record<string, string | Array<string> | undefined>>, name: string): string | undefined => {
  const v = headers[name]
  return Array.isArray(v) ? v[0] : v
}

export const RealtimeLive = Layer.scopedDiscard(
  Effect.gen(function*() {
    const io = yield* SocketIo
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

    /**
     * Handshake: an agent presents `Authorization: Bearer <access token>` (checked like any agent
     * request); a browser presents its operator session cookie; anything else is refused unless
     * BOREALIS_SOCKET_ALLOW_ANONYMOUS admits pre-token agents.
     */
    const identify = (socket: Socket) =>
      Effect.gen(function*() {
        const headers = socket.handshake.headers
        const authorization = header(headers, "authorization")
        const cookie = header(headers, "cookie")
        if (authorization !== undefined && authorization.startsWith("Bearer ")) {
          const device = yield* Effect.either(deviceAuth.authenticate({ authorization, agentContext: header(headers, "x-borealis-agent-context") }))
          if (device._tag === "Right") {
            return { _tag: "Agent", guid: device.right.guid, hostname: device.right.hostname, serviceMode: device.right.serviceMode } satisfies SocketIdentity as SocketIdentity
          }
          // Not a device token: perhaps an operator's bearer token.
          const operator = yield* operators.resolveOperator({ cookie, authorization })
          if (Option.isSome(operator)) return { _tag: "Operator", username: operator.value.username, role: operator.value.role } as SocketIdentity
          return yield* Effect.fail(new HandshakeRefused(device.left.error))
        }
        if (cookie !== undefined) {
          const operator = yield* operators.resolveOperator({ cookie, authorization })
          if (Option.isSome(operator)) return { _tag: "Operator", username: operator.value.username, role: operator.value.role } as SocketIdentity
        }
        if (config.socket.allowAnonymous) return { _tag: "LegacyAgent" } as SocketIdentity
        return yield* Effect.fail(new HandshakeRefused("not_authenticated"))
      })

    io.use((socket, next) => {
      Runtime.runCallback(runtime)(
        identify(socket).pipe(
          Effect.tap((identity) =>
            Effect.logInfo("socket-connect").pipe(
              Effect.annotateLogs({ sid: socket.id, ip: socket.handshake.address, transport: socket.conn.transport.name, as: identity._tag, ...maskedHeaders(socket.handshake.headers) })
            )
          ),
          Effect.tapError((refused) =>
            Effect.zipRight(Effect.sync(() => M.socketRefused.inc({ reason: refused.message })), Effect.logInfo("socket-refused")).pipe(
              Effect.annotateLogs({ sid: socket.id, ip: socket.handshake.address, reason: refused.message, ...maskedHeaders(socket.handshake.headers) })
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
              socket.data.identity = exit.value
              next()
            } else {
              const failure = Cause.failureOption(exit.cause)
              next(Option.isSome(failure) ? failure.value : new HandshakeRefused("service_unavailable"))
            }
          }
        }
      )
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

      socket.on("disconnect", (reason) => {
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
