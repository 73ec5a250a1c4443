// Finalisation proofs seen in the last 300 s (`<approval_reference>:<base64 proof_sig>`), in memory.
// spec: auth-enrollment.md §6.2
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"

const PROOF_REPLAY_TTL_SECONDS = 300

export class ProofReplayCache extends Effect.Service<ProofReplayCache>()("borealis/ProofReplayCache", {
  sync: () => {
    const seen = new Map<string, number>()
    const purge = (now: number) => {
      for (const [key, expiry] of seen) if (expiry <= now) seen.delete(key)
    }
    return {
      /** False when `key` was consumed less than 300 s ago; otherwise remembers it and returns true. */
      consume: (key: string) =>
        Effect.map(Clock.currentTimeMillis, (now) => {
          purge(now)
          const expiry = seen.get(key)
          if (expiry !== undefined && expiry > now) return false
          seen.set(key, now + PROOF_REPLAY_TTL_SECONDS * 1000)
          return true
        }),
      forget: (key: string) => Effect.sync(() => void seen.delete(key))
    } as const
  }
}) {}
