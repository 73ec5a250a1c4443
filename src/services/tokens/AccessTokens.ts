// 15-minute EdDSA access tokens signed with the Engine's persistent Ed25519 key.
// spec: auth-enrollment.md §3.1–§3.3
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as jose from "jose"
import { type AccessTokenKey, KeyMaterial } from "../../layers/keys/KeyMaterial.ts"

export const ACCESS_TOKEN_LIFETIME_SECONDS = 900

export interface AccessTokenInput {
  readonly guid: string
  readonly fingerprint: string
  readonly tokenVersion: number
  /** RFC 9449 `cnf.jkt`: set when the token was obtained with a DPoP proof. */
  readonly dpopJkt?: string | undefined
}

/**
 * Sign an access token: header `{alg:"EdDSA", kid, typ:"JWT"}`, claims `sub "device:<GUID>"`, `guid`,
 * `ssl_key_fingerprint` (lowercase), `token_version` (≥ 1), `iat = nbf = now`, `exp = now + ttl`, and
 * `cnf.jkt` when DPoP-bound. The server always uses the 900 s lifetime; benchmarks mint longer ones.
 */
export const signAccessToken = (
  key: AccessTokenKey,
  input: AccessTokenInput,
  nowSeconds: number,
  ttlSeconds: number = ACCESS_TOKEN_LIFETIME_SECONDS
): Promise<string> => {
  const claims: Record<string, unknown> = {
    sub: `device:${input.guid}`,
    guid: input.guid,
    ssl_key_fingerprint: input.fingerprint.toLowerCase(),
    token_version: Math.max(1, input.tokenVersion),
    iat: nowSeconds,
    nbf: nowSeconds,
    exp: nowSeconds + ttlSeconds
  }
  if (input.dpopJkt !== undefined) claims["cnf"] = { jkt: input.dpopJkt }
  return new jose.SignJWT(claims).setProtectedHeader({ alg: "EdDSA", kid: key.kid, typ: "JWT" }).sign(key.privateKey)
}

type AccessTokenRejection = "token_expired" | "invalid_token"

export class AccessTokens extends Effect.Service<AccessTokens>()("borealis/AccessTokens", {
  effect: Effect.gen(function*() {
    const keys = yield* KeyMaterial
    const { publicKey, publicJwk } = keys.accessToken

    const issue = Effect.fn("AccessTokens.issue")(function*(input: AccessTokenInput) {
      const now = Math.floor((yield* Clock.currentTimeMillis) / 1000)
      return yield* Effect.promise(() => signAccessToken(keys.accessToken, input, now))
    })

    /**
     * EdDSA only, `exp`/`iat`/`sub` required, zero leeway; an expired token is told apart from every
     * other failure (alg `none`, HS256 confusion, forged signature, malformed).
     */
    const verify = Effect.fn("AccessTokens.verify")(function*(token: string) {
      const now = yield* Clock.currentTimeMillis
      return yield* Effect.tryPromise({
        try: () =>
          jose.jwtVerify(token, publicKey, {
            algorithms: ["EdDSA"],
            requiredClaims: ["exp", "iat", "sub"],
            currentDate: new Date(now)
          }),
        catch: (error): AccessTokenRejection => (error instanceof jose.errors.JWTExpired ? "token_expired" : "invalid_token")
      }).pipe(Effect.map((result) => result.payload as Record<string, unknown>))
    })

    return {
      issue,
      verify,
      /** The public key as a JWKS document, for services that verify agent tokens themselves. */
      jwks: { keys: [publicJwk] } as { readonly keys: ReadonlyArray<jose.JWK> }
    } as const
  })
}) {
  static readonly Test = AccessTokens.Default.pipe(Layer.provide(KeyMaterial.Test))
}
