// DPoP proofs for unit tests: a client key and proofs signed with it, iat on the test clock.
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as jose from "jose"
import * as crypto from "node:crypto"

export interface DpopClientKey {
  readonly privateKey: crypto.KeyObject
  readonly jwk: jose.JWK
}

export const dpopClientKey = (): DpopClientKey => {
  const pair = crypto.generateKeyPairSync("ed25519")
  return { privateKey: pair.privateKey, jwk: pair.publicKey.export({ format: "jwk" }) as jose.JWK }
}

export const REFRESH_URL = "https://engine.example:5000/api/agent/token/refresh"

/** A proof for `POST REFRESH_URL` with a fresh jti and iat = now (test clock); `claims` override. */
export const dpopProof = (key: DpopClientKey, claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}) =>
  Effect.flatMap(Clock.currentTimeMillis, (now) =>
    Effect.promise(() =>
      new jose.SignJWT({ htm: "POST", htu: REFRESH_URL, jti: crypto.randomUUID(), iat: Math.floor(now / 1000), ...claims })
        .setProtectedHeader({ typ: "dpop+jwt", alg: "EdDSA", jwk: key.jwk, ...header })
        .sign(key.privateKey)
    ))

export const thumbprint = (key: DpopClientKey) => Effect.promise(() => jose.calculateJwkThumbprint(key.jwk, "sha256"))
