// Access tokens minted as the Engine mints them, and the pre-seeded tokens file the simulator reads.
// spec: auth-enrollment.md §3.1–§3.2
import * as Schema from "effect/Schema"
import * as jose from "jose"
import type { AccessTokenKey } from "../../services/keys/KeyMaterial.ts"

/** The server's access-token lifetime (§3.2); benchmarks may mint longer-lived tokens. */
export const ACCESS_TOKEN_TTL_SECONDS = 900

export interface AccessClaims {
  readonly guid: string
  readonly fingerprint: string
  readonly tokenVersion: number
}

/**
 * EdDSA JWT, header `{alg:"EdDSA", kid, typ:"JWT"}`, claims `sub "device:<GUID>"`, `guid`,
 * `ssl_key_fingerprint`, `token_version`, `iat`, `nbf`, `exp = iat + ttl`.
 * Kept here until the enrollment service exports its own minting function; then call that instead.
 */
export const mintAccessToken = (
  key: AccessTokenKey,
  claims: AccessClaims,
  nowSeconds: number,
  ttlSeconds: number = ACCESS_TOKEN_TTL_SECONDS
): Promise<string> =>
  new jose.SignJWT({
    guid: claims.guid,
    ssl_key_fingerprint: claims.fingerprint,
    token_version: claims.tokenVersion
  })
    .setProtectedHeader({ alg: "EdDSA", kid: key.kid, typ: "JWT" })
    .setSubject(`device:${claims.guid}`)
    .setIssuedAt(nowSeconds)
    .setNotBefore(nowSeconds)
    .setExpirationTime(nowSeconds + ttlSeconds)
    .sign(key.privateKey)

export const SeededAgent = Schema.Struct({
  hostname: Schema.String,
  guid: Schema.String,
  agent_id: Schema.String,
  ssl_key_fingerprint: Schema.String,
  access_token: Schema.String,
  /** Present when the seed also stored a refresh-token row (hash only) for this device. */
  refresh_token: Schema.optional(Schema.String),
  /** Epoch seconds. */
  access_expires_at: Schema.Number
})
export type SeededAgent = typeof SeededAgent.Type

export const TokensFile = Schema.Struct({
  version: Schema.Literal(1),
  created_at: Schema.String,
  database: Schema.String,
  token_ttl_seconds: Schema.Number,
  agents: Schema.Array(SeededAgent)
})
export type TokensFile = typeof TokensFile.Type

export const decodeTokensFile = Schema.decodeUnknownSync(Schema.parseJson(TokensFile))
