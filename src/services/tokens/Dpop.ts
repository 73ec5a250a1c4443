// DPoP proof validation (RFC 9449 §4.3), with a persistent `jti` replay store so neither a restart nor
// a second node reopens the window. spec: auth-enrollment.md §4
import * as SqlClient from "@effect/sql/SqlClient"
import { changes } from "../sqlResult.ts"
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as jose from "jose"
import * as crypto from "node:crypto"
import { BadRequest } from "../errors.ts"

/** Asymmetric algorithms accepted for proofs (the original's list). */
export const DPOP_ALGORITHMS = ["EdDSA", "ES256", "ES384", "ES512"] as const
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
    const sql = yield* SqlClient.SqlClient
    let inserts = 0

    /** Record `key` until `expiresAt`; false when it is already recorded and not yet expired. */
    const remember = (key: string, now: number, expiresAt: number) =>
      Effect.gen(function*() {
        if (++inserts % 256 === 0) yield* sql`DELETE FROM dpop_replay WHERE expires_at < ${now}`
        return yield* sql.withTransaction(Effect.gen(function*() {
          yield* sql`DELETE FROM dpop_replay WHERE jti = ${key} AND expires_at < ${now}`
          const result = yield* sql`INSERT OR IGNORE INTO dpop_replay (jti, expires_at) VALUES (${key}, ${expiresAt})`.raw
          return (result as unknown as { changes: number }).changes === 1
        }))
      }).pipe(Effect.orDie)

    /** All checks of RFC 9449 §4.3; the JWK thumbprint (RFC 7638) of the proof's key on success. */
    const verify = Effect.fn("Dpop.verify")(function*(check: DpopCheck) {
      const invalid = (reason: string) => Effect.fail(new DpopInvalid({ reason }))
      if (check.proofs.length !== 1) return yield* invalid("exactly one DPoP header is required")
      const proof = check.proofs[0]!
      let header: jose.ProtectedHeaderParameters
      try {
        header = jose.decodeProtectedHeader(proof)
      } catch {
        return yield* invalid("malformed proof")
      }
      if (header.typ !== "dpop+jwt") return yield* invalid("typ must be dpop+jwt")
      if (typeof header.alg !== "string" || !(DPOP_ALGORITHMS as ReadonlyArray<string>).includes(header.alg)) {
        return yield* invalid("alg not allowed")
      }
      const jwk = header.jwk
      if (jwk === undefined || typeof jwk !== "object") return yield* invalid("jwk missing")
      if (PRIVATE_JWK_MEMBERS.some((m) => m in jwk)) return yield* invalid("jwk must be a public key")
      const key = yield* Effect.tryPromise(() => jose.importJWK(jwk as jose.JWK, header.alg)).pipe(
        Effect.catchAll(() => invalid("jwk unusable"))
      )
      if (key instanceof Uint8Array) return yield* invalid("jwk must be asymmetric")
      const verified = yield* Effect.tryPromise(() => jose.compactVerify(proof, key, { algorithms: [header.alg!] })).pipe(
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
      const fresh = yield* remember(`${jkt}:${jti}`, now, Math.max(now, iat) + DPOP_WINDOW_SECONDS)
      if (!fresh) return yield* Effect.fail(new DpopReplayed())
      return jkt
    })

    /** Proof ids past their window (checked proofs also prune now and then). */
    const prune = (nowSeconds: number) => changes(sql`DELETE FROM dpop_replay WHERE expires_at < ${nowSeconds}`).pipe(Effect.orDie)

    return { verify, prune } as const
  })
}) {
  static readonly Test = (layer: Layer.Layer<SqlClient.SqlClient>) => Dpop.Default.pipe(Layer.provide(layer))
}
