// DPoP proof checks and jti replay (RFC 9449 §4.3, spec: auth-enrollment.md §4) on the test clock, with
// the replay store in memory: no database, no HTTP.
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/TestClock"
import { accessTokenHash, Dpop, DPOP_WINDOW_SECONDS } from "../../../src/services/tokens/Dpop.ts"
import { dpopClientKey, dpopProof, REFRESH_URL, thumbprint } from "./support.ts"

const T0 = Date.UTC(2026, 0, 1)
const check = (proof: string, extra: { readonly url?: string; readonly accessToken?: string } = {}) => ({
  proofs: [proof],
  method: "POST",
  url: extra.url ?? REFRESH_URL,
  ...(extra.accessToken === undefined ? {} : { accessToken: extra.accessToken })
})

describe("DPoP replay (jti)", () => {
  it.effect("a proof is accepted once; the same jti again is a replay; another jti is fresh", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(T0)
      const dpop = yield* Dpop
      const key = dpopClientKey()
      const proof = yield* dpopProof(key)
      expect(yield* dpop.verify(check(proof))).toBe(yield* thumbprint(key))
      expect((yield* Effect.flip(dpop.verify(check(proof))))._tag).toBe("DpopReplayed")
      // the same jti in a new proof (another iat) is still a replay
      yield* TestClock.adjust("10 seconds")
      const jti = "fixed-jti"
      expect(yield* dpop.verify(check(yield* dpopProof(key, { jti })))).toBe(yield* thumbprint(key))
      expect((yield* Effect.flip(dpop.verify(check(yield* dpopProof(key, { jti })))))._tag).toBe("DpopReplayed")
      expect(yield* dpop.verify(check(yield* dpopProof(key, { jti: "another-jti" })))).toBe(yield* thumbprint(key))
      // jtis are per key: another client may use the same one
      expect(yield* dpop.verify(check(yield* dpopProof(dpopClientKey(), { jti })))).toBeTypeOf("string")
    }).pipe(Effect.provide(Dpop.Test)))

  it.effect("a jti is remembered for the whole window: refused at its end, free again after it", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(T0)
      const dpop = yield* Dpop
      const key = dpopClientKey()
      const first = yield* dpopProof(key, { jti: "j" })
      yield* dpop.verify(check(first))
      yield* TestClock.adjust(`${DPOP_WINDOW_SECONDS} seconds`)
      // at the window's end the proof and its jti are still remembered
      expect(yield* Effect.flip(dpop.verify(check(first)))).toMatchObject({ _tag: "DpopReplayed" })
      expect((yield* Effect.flip(dpop.verify(check(yield* dpopProof(key, { jti: "j" })))))._tag).toBe("DpopReplayed")
      // one second later the proof is too old to count at all, and its jti is free for a new proof
      yield* TestClock.adjust("1 second")
      expect(yield* Effect.flip(dpop.verify(check(first)))).toMatchObject({ _tag: "DpopInvalid", reason: "iat outside the accepted window" })
      expect(yield* dpop.verify(check(yield* dpopProof(key, { jti: "j" })))).toBe(yield* thumbprint(key))
      // prune drops only what is past its window
      yield* TestClock.adjust(`${DPOP_WINDOW_SECONDS + 1} seconds`)
      expect(yield* dpop.prune(T0 / 1000 + 2 * DPOP_WINDOW_SECONDS + 2)).toBe(1)
    }).pipe(Effect.provide(Dpop.Test)))
})

describe("DPoP proof checks", () => {
  it.effect("each violation is refused with its reason", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(T0)
      const dpop = yield* Dpop
      const key = dpopClientKey()
      const reason = (effect: ReturnType<typeof dpop.verify>) =>
        Effect.map(Effect.flip(effect), (e) => (e._tag === "DpopInvalid" ? e.reason : e._tag))
      expect(yield* reason(dpop.verify({ proofs: [], method: "POST", url: REFRESH_URL }))).toBe("exactly one DPoP header is required")
      const proof = yield* dpopProof(key)
      expect(yield* reason(dpop.verify({ proofs: [proof, proof], method: "POST", url: REFRESH_URL }))).toBe("exactly one DPoP header is required")
      expect(yield* reason(dpop.verify(check("not.a.jwt")))).toBe("malformed proof")
      expect(yield* reason(dpop.verify(check(yield* dpopProof(key, {}, { typ: "JWT" }))))).toBe("typ must be dpop+jwt")
      expect(yield* reason(dpop.verify(check(yield* dpopProof(key, {}, { jwk: { ...key.jwk, d: "secret" } }))))).toBe("jwk must be a public key")
      expect(yield* reason(dpop.verify(check(yield* dpopProof(key, {}, { jwk: dpopClientKey().jwk }))))).toBe("signature does not verify")
      expect(yield* reason(dpop.verify(check(yield* dpopProof(key, { jti: "" }))))).toBe("jti missing")
      expect(yield* reason(dpop.verify(check(yield* dpopProof(key, { htm: "GET" }))))).toBe("htm mismatch")
      expect(yield* reason(dpop.verify(check(yield* dpopProof(key, { htu: "https://elsewhere/api/agent/token/refresh" }))))).toBe("htu mismatch")
      expect(yield* reason(dpop.verify(check(yield* dpopProof(key, { iat: "now" }))))).toBe("iat missing")
      expect(yield* reason(dpop.verify(check(yield* dpopProof(key, { iat: T0 / 1000 + DPOP_WINDOW_SECONDS + 1 }))))).toBe(
        "iat outside the accepted window"
      )
      expect(yield* reason(dpop.verify(check(yield* dpopProof(key), { accessToken: "token" })))).toBe("ath mismatch")
      // query and fragment of htu are ignored; ath binds the access token
      expect(yield* dpop.verify(check(yield* dpopProof(key, { htu: `${REFRESH_URL}?x=1` })))).toBeTypeOf("string")
      expect(yield* dpop.verify(check(yield* dpopProof(key, { ath: accessTokenHash("token") }), { accessToken: "token" }))).toBeTypeOf("string")
    }).pipe(Effect.provide(Dpop.Test)))
})
