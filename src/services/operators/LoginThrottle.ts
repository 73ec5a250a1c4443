// Failed operator logins are limited per (account, client) pair and per client (sliding windows, in
// memory): once a key has too many recent failures every attempt on it is answered 429 with
// Retry-After, right or wrong, until the oldest failure leaves the window. Keyed by the pair, a
// guesser elsewhere cannot lock the real operator out: a client with no recent failures still signs
// in. The client is the real address (X-Forwarded-For only from trusted proxies). Unknown usernames
// count the same as known ones, so the limiter reveals nothing about which accounts exist.
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"

interface ThrottleLimits {
  /** Failures of one account from one client. */
  readonly perAccountClient: number
  /** Failures from one client, whatever the accounts. */
  readonly perIp: number
  readonly windowSeconds: number
}

const DEFAULT_LIMITS: ThrottleLimits = { perAccountClient: 5, perIp: 20, windowSeconds: 300 }

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

const pairKey = (ip: string, username: string) => `pair:${ip}|${username.trim().toLowerCase()}`
const ipKey = (ip: string) => `ip:${ip}`

export class LoginThrottle extends Effect.Service<LoginThrottle>()("borealis/LoginThrottle", {
  effect: Effect.gen(function*() {
    const limits = DEFAULT_LIMITS
    const state = yield* Ref.make<Windows>(new Map())
    const windowMs = limits.windowSeconds * 1000

    /** Seconds to wait when the (account, client) pair or the client is over its limit. */
    const check = (ip: string, username: string) =>
      Effect.map(Ref.get(state), (windows) => {
        const now = Date.now()
        const waits = [
          retryAfter(windows, pairKey(ip, username), limits.perAccountClient, now, windowMs),
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
        for (const key of [pairKey(ip, username), ipKey(ip)]) {
          next.set(key, [...(next.get(key) ?? []), now].slice(-Math.max(limits.perIp, limits.perAccountClient)))
        }
        return next
      })

    /** A successful login forgives that client's failures on the account (not the client's overall count). */
    const clearPair = (ip: string, username: string) =>
      Ref.update(state, (windows) => {
        const next = new Map(windows)
        next.delete(pairKey(ip, username))
        return next
      })

    return { limits, check, recordFailure, clearPair } as const
  })
}) {
  static readonly Live: Layer.Layer<LoginThrottle> = LoginThrottle.Default
}
