// In-memory sliding-window limiter: one list of timestamps per key; denied attempts are not recorded.
// spec: auth-enrollment.md §6.1
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import { M } from "../../layers/metrics.ts"

export interface RateDecision {
  readonly allowed: boolean
  /** Seconds until the oldest counted attempt leaves the window (0 when allowed). */
  readonly retryAfter: number
}

export interface SlidingWindowLimiter {
  readonly check: (key: string) => Effect.Effect<RateDecision>
  /** Keys currently tracked (idle keys are swept, so this stays bounded by recent traffic). */
  readonly size: () => number
}

/**
 * A limiter of `limit` attempts per `windowSeconds`, on Effect's Clock (so tests can drive it); each
 * denial counts in `borealis_rate_limited_total{limiter=name}`.
 */
export const makeSlidingWindow = (name: string, limit: number, windowSeconds: number): SlidingWindowLimiter => {
  const windowMs = windowSeconds * 1000
  const hits = new Map<string, Array<number>>()
  let checks = 0
  const sweep = (now: number) => {
    for (const [key, times] of hits) {
      const newest = times[times.length - 1]
      if (newest === undefined || newest <= now - windowMs) hits.delete(key)
    }
  }
  return {
    size: () => hits.size,
    check: (key) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        if (++checks % 1024 === 0) sweep(now)
        let times = hits.get(key)
        if (times === undefined) {
          times = []
          hits.set(key, times)
        }
        let oldest = times[0]
        while (oldest !== undefined && oldest <= now - windowMs) {
          times.shift()
          oldest = times[0]
        }
        if (oldest !== undefined && times.length >= limit) {
          M.rateLimited.inc({ limiter: name })
          return { allowed: false, retryAfter: Math.max(0, (windowMs - (now - oldest)) / 1000) }
        }
        times.push(now)
        return { allowed: true, retryAfter: 0 }
      })
  }
}
