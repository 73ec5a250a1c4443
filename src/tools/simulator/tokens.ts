// The pre-seeded tokens file the simulator reads (tokens minted by the Engine's own signAccessToken).
// spec: auth-enrollment.md §3.1–§3.2
import * as Schema from "effect/Schema"

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
