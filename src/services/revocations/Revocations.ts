// Credentials that stopped being valid, announced once they are committed, so whoever holds a live
// connection made with them (the Socket.IO layer) can cut it. A socket is authenticated once, at its
// handshake; without these events a deleted operator or a revoked device would keep its open socket.
import * as Effect from "effect/Effect"
import * as PubSub from "effect/PubSub"
import type * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"

export type OperatorRevocationReason = "deleted" | "role_changed" | "password_reset" | "mfa_reset"
export type DeviceRevocationReason = "revoked" | "quarantined" | "deleted" | "rekeyed" | "renamed"

export type Revocation =
  /** Every session and token of an operator account. */
  | { readonly _tag: "OperatorAccount"; readonly userId: number; readonly reason: OperatorRevocationReason }
  /** One operator session (and the tokens bound to it): logout. */
  | { readonly _tag: "OperatorSession"; readonly sessionHash: string; readonly reason: "logout" | "expired" }
  /** Every connection of a device. */
  | { readonly _tag: "Device"; readonly guid: string; readonly reason: DeviceRevocationReason }

export class Revocations extends Effect.Service<Revocations>()("borealis/Revocations", {
  effect: Effect.gen(function*() {
    const hub = yield* PubSub.unbounded<Revocation>()
    return {
      /** Call after the change is committed. */
      publish: (revocation: Revocation) =>
        Effect.zipRight(
          Effect.logInfo("credentials-revoked").pipe(Effect.annotateLogs({ kind: revocation._tag, reason: revocation.reason })),
          PubSub.publish(hub, revocation)
        ),
      subscribe: PubSub.subscribe(hub) as Effect.Effect<Queue.Dequeue<Revocation>, never, Scope.Scope>
    } as const
  })
}) {}
