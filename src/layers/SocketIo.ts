// The Socket.IO server resource (namespace `/`, path `/socket.io`) and the gate its handshakes pass:
// the realtime layer installs the gate (this foundation imports no services); the listener attaches
// the server to its port. spec: realtime-jobs.md §1
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type * as http from "node:http"
import { Server as IoServer } from "socket.io"
import { EngineConfig } from "./Config.ts"
import { socketIoCors } from "./webPolicy.ts"

/** The Socket.IO server (namespace `/`); realtime handlers register on it before the port opens. */
export class SocketIo extends Context.Tag("borealis/SocketIo")<SocketIo, IoServer>() {}

/** What the handshake gate decides: a session may open, or not (with the reason code clients see). */
export type HandshakeVerdict =
  | { readonly _tag: "Admit" }
  | { readonly _tag: "Refuse"; readonly reason: string }

/**
 * Decides on an engine.io handshake request (the first polling GET or the websocket upgrade, before
 * any session exists or any body is read) from its headers; calls `decide` once. The request object
 * is the one Socket.IO later hands out as `socket.request`, so a gate may key what it learned on it.
 */
export type HandshakeGate = (request: http.IncomingMessage, decide: (verdict: HandshakeVerdict) => void) => void

/**
 * Where the realtime layer installs its handshake gate (this foundation imports no services). Until
 * one is installed, and after its scope closes, every handshake is refused.
 */
export class SocketHandshake extends Context.Tag("borealis/SocketHandshake")<SocketHandshake, {
  readonly install: (gate: HandshakeGate) => Effect.Effect<void, never, Scope.Scope>
}>() {}

const refuseAll: HandshakeGate = (_request, decide) => decide({ _tag: "Refuse", reason: "service_unavailable" })

export const SocketIoLive: Layer.Layer<SocketIo | SocketHandshake, never, EngineConfig> = Layer.scopedContext(
  Effect.gen(function*() {
    const config = yield* EngineConfig
    let gate = refuseAll
    const io = yield* Effect.acquireRelease(
      Effect.sync(() =>
        new IoServer({
          path: "/socket.io",
          serveClient: false,
          maxHttpBufferSize: config.socket.maxBufferBytes,
          // A listed Origin is echoed with credentials; `*` answers `*` without them (never both).
          cors: socketIoCors(config.corsAllowedOrigins),
          // engine.io asks only for handshakes (requests without a sid): a refused client never gets a
          // session, so it cannot send a single message body. Refused polls answer 403
          // `{"code":4,"message":<reason>}`, refused upgrades 400 with the reason as body.
          allowRequest: (request, callback) => {
            let decided = false
            const decide = (verdict: HandshakeVerdict) => {
              if (decided) return
              decided = true
              if (verdict._tag === "Admit") callback(null, true)
              else callback(verdict.reason, false)
            }
            try {
              gate(request, decide)
            } catch {
              decide({ _tag: "Refuse", reason: "service_unavailable" })
            }
          }
        })
      ),
      (io) => Effect.promise(() => io.close().catch(() => undefined))
    )
    const handshake = SocketHandshake.of({
      install: (next) =>
        Effect.acquireRelease(
          Effect.sync(() => {
            gate = next
          }),
          () =>
            Effect.sync(() => {
              gate = refuseAll
            })
        ).pipe(Effect.asVoid)
    })
    return Context.make(SocketIo, io).pipe(Context.add(SocketHandshake, handshake))
  })
)
