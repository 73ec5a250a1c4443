// DPoP proof validation (RFC 9449 §4.3), with a persistent `jti` replay store (DpopReplay) so neither a
// restart nor a second node reopens the window. spec: auth-enrollment.md §4
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as jose from "jose"
import * as crypto from "node:crypto"
import { BadRequest } from "../errors.ts"
import { DpopReplay } from "./DpopReplay.ts"

/** Asymmetric algorithms accepted for proofs (the original's list). */
const DPOP_ALGORITHMS = ["EdDSA", "ES256", "ES384", "ES512"] as const
/** Allowed clock skew for `iat`, and how long a `jti` is remembered beyond it. */
export const DPOP_WINDOW_SECONDS = 300
const PRIVATE_JWK_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"]

export class DpopInvalid extends Data.TaggedError("DpopInvalid")<{ readonly reason: string }> {}
export class DpopReplayed extends Data.TaggedError("DpopReplayed")<{}> {}

/** The wire answers: 400 `dpop_invalid` / `dpop_replayed` (with a human `detail`). */
export const dpopWireError = (error: DpopInvalid | DpopReplayed): BadRequest =>
  error._tag === "DpopReplayed"
    ? new BadRequest({ error: "dpop_replayed" })
    : new BadRequest({ error: "dpop_invalid", detail: error.reason })

export interface DpopCheck {
  /** The `DPoP` header values (RFC 9449: exactly one). */
  readonly proofs: ReadonlyArray<string>
  readonly method: string
  /** The request URL as the client addressed it (public base URL + path); query and fragment ignored. */
  readonly url: string
  /** When the request carries an access token, the proof must bind it through `ath`. */
  readonly accessToken?: string | undefined
}

const stripQuery = (value: string): string | undefined => {
  try {
    const u = new URL(value)
    return `${u.protocol}//${u.host}${u.pathname}`
  } catch {
    return undefined
  }
}

export const accessTokenHash = (token: string): string => crypto.createHash("sha256").update(token, "ascii").digest("base64url")

export class Dpop extends Effect.Service<Dpop>()("borealis/Dpop", {
  effect: Effect.gen(function*() {
    const replay = yield* DpopReplay

    /** All checks of RFC 9449 §4.3; the JWK thumbprint (RFC 7638) of the proof's key on success. */
    const verify = Effect.fn("Dpop.verify")(function*(check: DpopCheck) {
      const invalid = (reason: string) => Effect.fail(new DpopInvalid({ reason }))
      const [proof] = check.proofs
      if (check.proofs.length !== 1 || proof === undefined) return yield* invalid("exactly one DPoP header is required")
      let header: jose.ProtectedHeaderParameters
      try {
        header = jose.decodeProtectedHeader(proof)
      } catch {
        return yield* invalid("malformed proof")
      }
      if (header.typ !== "dpop+jwt") return yield* invalid("typ must be dpop+jwt")
      const alg = header.alg
      if (typeof alg !== "string" || !(DPOP_ALGORITHMS as ReadonlyArray<string>).includes(alg)) return yield* invalid("alg not allowed")
      const jwk = header.jwk
      if (jwk === undefined || typeof jwk !== "object") return yield* invalid("jwk missing")
      if (PRIVATE_JWK_MEMBERS.some((m) => m in jwk)) return yield* invalid("jwk must be a public key")
      const key = yield* Effect.tryPromise(() => jose.importJWK(jwk as jose.JWK, alg)).pipe(
        Effect.catchAll(() => invalid("jwk unusable"))
      )
      if (key instanceof Uint8Array) return yield* invalid("jwk must be asymmetric")
      const verified = yield* Effect.tryPromise(() => jose.compactVerify(proof, key, { algorithms: [alg] })).pipe(
        Effect.catchAll(() => invalid("signature does not verify"))
      )
      let claims: Record<string, unknown>
      try {
        claims = JSON.parse(new TextDecoder().decode(verified.payload)) as Record<string, unknown>
      } catch {
        return yield* invalid("claims are not JSON")
      }
      const { htm, htu, jti, iat, ath } = claims
      if (typeof jti !== "string" || jti === "") return yield* invalid("jti missing")
      if (typeof htm !== "string" || htm.toUpperCase() !== check.method.toUpperCase()) return yield* invalid("htm mismatch")
      if (typeof htu !== "string" || stripQuery(htu) === undefined || stripQuery(htu) !== stripQuery(check.url)) {
        return yield* invalid("htu mismatch")
      }
      if (typeof iat !== "number" || !Number.isFinite(iat)) return yield* invalid("iat missing")
      const now = Math.floor((yield* Clock.currentTimeMillis) / 1000)
      if (Math.abs(now - iat) > DPOP_WINDOW_SECONDS) return yield* invalid("iat outside the accepted window")
      if (check.accessToken !== undefined && ath !== accessTokenHash(check.accessToken)) return yield* invalid("ath mismatch")
      const jkt = yield* Effect.promise(() => jose.calculateJwkThumbprint(jwk as jose.JWK, "sha256"))
      const fresh = yield* replay.remember(`${jkt}:${jti}`, now, Math.max(now, iat) + DPOP_WINDOW_SECONDS)
      if (!fresh) return yield* Effect.fail(new DpopReplayed())
      return jkt
    })

    /** Proof ids past their window (checked proofs also prune now and then). */
    const prune = (nowSeconds: number) => replay.prune(nowSeconds)

    return { verify, prune } as const
  })
}) {
  /** DPoP with its replay store in memory: the rules of RFC 9449 §4.3 without a database. */
  static readonly Test = Dpop.Default.pipe(Layer.provide(DpopReplay.Test))
}
