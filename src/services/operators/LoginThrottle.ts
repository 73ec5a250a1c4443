// Failed operator logins are limited per client IP and per username (sliding windows, in memory):
// once a key has too many recent failures every attempt on it is answered 429 with Retry-After,
// right or wrong, until the oldest failure leaves the window. Unknown usernames count the same as
// known ones, so the limiter reveals nothing about which accounts exist.
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"

export interface ThrottleLimits {
  readonly perUsername: number
  readonly perIp: number
  readonly windowSeconds: number
}

export const DEFAULT_LIMITS: ThrottleLimits = { perUsername: 5, perIp: 20, windowSeconds: 300 }

type Windows = ReadonlyMap<string, ReadonlyArray<number>>

/** Failures still inside the window. */
const recent = (windows: Windows, key: string, now: number, windowMs: number): ReadonlyArray<number> =>
  (windows.get(key) ?? []).filter((t) => now - t < windowMs)

/** Seconds until `key` may try again, when it is over its limit. */
export const retryAfter = (windows: Windows, key: string, limit: number, now: number, windowMs: number): Option.Option<number> => {
  const hits = recent(windows, key, now, windowMs)
  if (hits.length < limit) return Option.none()
  const oldestThatMustExpire = hits[hits.length - limit] ?? now
  return Option.some(Math.max(1, Math.ceil((oldestThatMustExpire + windowMs - now) / 1000)))
}

const usernameKey = (username: string) => `user:${username.trim().toLowerCase()}`
const ipKey = (ip: string) => `ip:${ip}`

export class LoginThrottle extends Effect.Service<LoginThrottle>()("borealis/LoginThrottle", {
  effect: Effect.gen(function*() {
    const limits = DEFAULT_LIMITS
    const state = yield* Ref.make<Windows>(new Map())
    const windowMs = limits.windowSeconds * 1000

    /** Seconds to wait when either the IP or the username is over its limit. */
    const check = (ip: string, username: string) =>
      Effect.map(Ref.get(state), (windows) => {
        const now = Date.now()
        const waits = [
          retryAfter(windows, usernameKey(username), limits.perUsername, now, windowMs),
          retryAfter(windows, ipKey(ip), limits.perIp, now, windowMs)
        ].flatMap((o) => (Option.isSome(o) ? [o.value] : []))
        return waits.length === 0 ? Option.none<number>() : Option.some(Math.max(...waits))
      })

    const recordFailure = (ip: string, username: string) =>
      Ref.update(state, (windows) => {
        const now = Date.now()
        const next = new Map<string, ReadonlyArray<number>>()
        // Expired entries are dropped on every write, so the map stays bounded by recent traffic.
        for (const [key, hits] of windows) {
          const kept = hits.filter((t) => now - t < windowMs)
          if (kept.length > 0) next.set(key, kept)
        }
        for (const key of [usernameKey(username), ipKey(ip)]) {
          next.set(key, [...(next.get(key) ?? []), now].slice(-Math.max(limits.perIp, limits.perUsername)))
        }
        return next
      })

    /** A successful login forgives the username's failures (not the IP's). */
    const clearUsername = (username: string) =>
      Ref.update(state, (windows) => {
        const next = new Map(windows)
        next.delete(usernameKey(username))
        return next
      })

    return { limits, check, recordFailure, clearUsername } as const
  })
}) {
  static readonly Live: Layer.Layer<LoginThrottle> = LoginThrottle.Default
}
