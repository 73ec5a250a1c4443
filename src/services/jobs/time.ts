// "Now" for jobs, from Effect's Clock (so the scheduler and its tests run on the TestClock).
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"

export const nowSeconds: Effect.Effect<number> = Effect.map(Clock.currentTimeMillis, (ms) => Math.floor(ms / 1000))
