// Process lifecycle shared by the listener and readiness: once shutdown starts the server is
// "draining" (readiness answers 503 so load balancers stop sending traffic) before it stops accepting.
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"

export class Lifecycle extends Context.Tag("borealis/Lifecycle")<Lifecycle, {
  readonly draining: Ref.Ref<boolean>
}>() {
  static readonly Live = Layer.effect(Lifecycle, Effect.map(Ref.make(false), (draining) => ({ draining })))
}
