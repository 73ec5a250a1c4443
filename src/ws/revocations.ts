// Sockets follow credentials: when an operator account, an operator session or a device stops being
// valid (Revocations), every open socket made with it is cut — the client may reconnect, and its
// handshake is judged afresh. Operator sockets are also re-checked when their session would expire.
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Queue from "effect/Queue"
import type { Socket } from "socket.io"
import { SocketIo } from "../layers/SocketIo.ts"
import type { SocketIdentity } from "../services/realtime/AgentRegistry.ts"
import { type Revocation, Revocations } from "../services/revocations/Revocations.ts"

/** Was this socket opened with the revoked credential? */
export const revokedBy = (identity: SocketIdentity, revocation: Revocation): boolean => {
  switch (revocation._tag) {
    case "Device":
      return identity._tag === "Agent" && identity.guid === revocation.guid
    case "OperatorAccount":
      return identity._tag === "Operator" && identity.userId === revocation.userId
    case "OperatorSession":
      return identity._tag === "Operator" && identity.sessionHash === revocation.sessionHash
  }
}

/**
 * The credential changed but may still be good (a rename, a new key, a new role): the transport is
 * closed so the client reconnects at once and its handshake decides. Otherwise it is dead, and the
 * client is told with a Socket.IO DISCONNECT, which clients take as final.
 */
export const mayComeBack = (revocation: Revocation): boolean =>
  revocation.reason === "renamed" || revocation.reason === "rekeyed" || revocation.reason === "role_changed"

/** Cut every socket a revocation concerns; how many. */
export const cutSockets = (sockets: Iterable<Socket>, revocation: Revocation): number => {
  let cut = 0
  for (const socket of sockets) {
    const identity = socket.data.identity as SocketIdentity | undefined
    if (identity === undefined || !revokedBy(identity, revocation)) continue
    if (mayComeBack(revocation)) socket.conn.close()
    else socket.disconnect(true)
    cut++
  }
  return cut
}

export const SocketRevocationsLive = Layer.scopedDiscard(
  Effect.gen(function*() {
    const io = yield* SocketIo
    const revocations = yield* Revocations
    const queue = yield* revocations.subscribe
    yield* Effect.forkScoped(revocations.feed)
    yield* Queue.take(queue).pipe(
      Effect.flatMap((revocation) =>
        Effect.suspend(() => {
          const cut = cutSockets(io.of("/").sockets.values(), revocation)
          return Effect.logInfo("sockets-cut").pipe(Effect.annotateLogs({ kind: revocation._tag, reason: revocation.reason, sockets: cut }))
        })
      ),
      Effect.forever,
      Effect.forkScoped
    )
  })
)
