// Pre-seeded simulated devices: N `devices` rows (plus their key and a refresh-token row) written into
// an Engine's SQLite database, and access tokens minted with that Engine's persistent JWT key — so a
// benchmark can connect thousands of authenticated agents without enrolling each one.
// Uses the Engine's own config parsing, SQL layer, migrations and key loading.
// spec: auth-enrollment.md §2.5 (device row), §3 (tokens), §5 (refresh tokens), §7 (schema)
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { EngineConfig } from "../../layers/Config.ts"
import { applyMigrations } from "../../layers/Migrations.ts"
import { SqlLive } from "../../layers/Sql.ts"
import { accessTokenKeyOf } from "../../layers/keys/KeyMaterial.ts"
import { loadJwtKey } from "../../layers/keys/signing.ts"
import { composeAgentId, spkiFingerprint } from "./enroll.ts"
import { signAccessToken } from "../../services/tokens/AccessTokens.ts"
import type { SeededAgent, TokensFile } from "./tokens.ts"

export interface SeedOptions {
  /** The Engine's project root (BOREALIS_ROOT): database `<root>/database.db`, key under `<root>/Engine`. */
  readonly root: string
  readonly agents: number
  /** Hostnames are `<prefix>-00001` …; rows of an earlier seed with the same prefix are replaced. */
  readonly hostnamePrefix?: string
  /** Access-token lifetime; the server's is 900 s, benchmarks use longer so no refresh is needed. */
  readonly tokenTtlSeconds?: number
  /** Also store a refresh token per device (hash at rest, plain text in the output). Default true. */
  readonly refreshTokens?: boolean
  /** Agent context suffix of the agent_id. Default SYSTEM. */
  readonly context?: "SYSTEM" | "CURRENTUSER"
  /** Write the tokens file here (mode 0600). */
  readonly out?: string
  /** Extra Engine environment (e.g. BOREALIS_DATABASE_PATH), read like the Engine reads it. */
  readonly env?: Readonly<Record<string, string>>
}

export const MAX_SEED_AGENTS = 100_000
const REFRESH_TTL_MS = 90 * 24 * 3600 * 1000 // sliding 90 days (§5)
const BATCH = 400

/** Lowercase hex SHA-256 of the UTF-8 token string: what `refresh_tokens.token_hash` holds (§5). */
export const refreshTokenHash = (token: string): string => crypto.createHash("sha256").update(token, "utf8").digest("hex")

export const seedProgram = (options: SeedOptions) =>
  Effect.gen(function*() {
    if (!Number.isSafeInteger(options.agents) || options.agents < 1 || options.agents > MAX_SEED_AGENTS) {
      return yield* Effect.die(new Error(`--agents must be 1..${MAX_SEED_AGENTS}`))
    }
    const prefix = (options.hostnamePrefix ?? "SIM").toUpperCase()
    if (!/^[A-Z0-9][A-Z0-9-]{0,40}$/.test(prefix)) return yield* Effect.die(new Error("hostname prefix must be letters, digits and '-'"))
    const ttl = options.tokenTtlSeconds ?? 900
    const context = options.context ?? "SYSTEM"
    const withRefresh = options.refreshTokens ?? true
    const config = yield* EngineConfig
    const sql = yield* SqlClient.SqlClient
    yield* applyMigrations
    const key = accessTokenKeyOf(loadJwtKey(config.runtimeRoot))

    const like = `${prefix}-`
    yield* sql.withTransaction(Effect.gen(function*() {
      const old = sql`SELECT guid FROM devices WHERE substr(hostname, 1, ${like.length}) = ${like}`
      yield* sql`DELETE FROM refresh_tokens WHERE guid IN (${old})`
      yield* sql`DELETE FROM device_keys WHERE guid IN (${old})`
      yield* sql`DELETE FROM devices WHERE substr(hostname, 1, ${like.length}) = ${like}`
    }))

    const nowMs = Date.now()
    const now = Math.floor(nowMs / 1000)
    const iso = new Date(nowMs).toISOString()
    const refreshExpires = new Date(nowMs + REFRESH_TTL_MS).toISOString()
    const width = Math.max(5, String(options.agents).length)
    const agents: Array<SeededAgent> = []
    for (let start = 0; start < options.agents; start += BATCH) {
      const devices: Array<Record<string, string | number>> = []
      const keys: Array<Record<string, string>> = []
      const refresh: Array<Record<string, string>> = []
      for (let i = start; i < Math.min(options.agents, start + BATCH); i++) {
        const guid = crypto.randomUUID().toUpperCase()
        const hostname = `${prefix}-${String(i + 1).padStart(width, "0")}`
        const der = crypto.generateKeyPairSync("ed25519").publicKey.export({ format: "der", type: "spki" })
        const fingerprint = spkiFingerprint(der)
        devices.push({
          guid,
          hostname,
          created_at: now,
          last_seen: now,
          ssl_key_fingerprint: fingerprint,
          token_version: 1,
          status: "active",
          key_added_at: iso
        })
        keys.push({ id: crypto.randomUUID(), guid, ssl_key_fingerprint: fingerprint, added_at: iso })
        let refreshToken: string | undefined
        if (withRefresh) {
          refreshToken = crypto.randomBytes(48).toString("base64url")
          refresh.push({ id: crypto.randomUUID(), guid, token_hash: refreshTokenHash(refreshToken), created_at: iso, expires_at: refreshExpires })
        }
        const accessToken = yield* Effect.promise(() => signAccessToken(key, { guid, fingerprint, tokenVersion: 1 }, now, ttl))
        agents.push({
          hostname,
          guid,
          agent_id: composeAgentId(hostname, guid, context),
          ssl_key_fingerprint: fingerprint,
          access_token: accessToken,
          ...(refreshToken === undefined ? {} : { refresh_token: refreshToken }),
          access_expires_at: now + ttl
        })
      }
      yield* sql.withTransaction(Effect.gen(function*() {
        yield* sql`INSERT INTO devices ${sql.insert(devices)}`
        yield* sql`INSERT INTO device_keys ${sql.insert(keys)}`
        if (refresh.length > 0) yield* sql`INSERT INTO refresh_tokens ${sql.insert(refresh)}`
      }))
    }
    const file: TokensFile = {
      version: 1,
      created_at: iso,
      database: config.databasePath,
      token_ttl_seconds: ttl,
      agents
    }
    if (options.out !== undefined) {
      fs.mkdirSync(path.dirname(path.resolve(options.out)), { recursive: true })
      fs.writeFileSync(options.out, JSON.stringify(file), { mode: 0o600 })
    }
    return file
  }).pipe(Effect.withSpan("Simulator.seed"))

/** Run the seed against `<root>` with the Engine's config/SQL layers; logs below Warning are muted. */
export const runSeed = (options: SeedOptions): Promise<TokensFile> => {
  const env: Record<string, string | undefined> = { ...process.env, ...options.env, BOREALIS_ROOT: options.root }
  const layer = SqlLive.pipe(Layer.provideMerge(EngineConfig.fromEnv(env)))
  return Effect.runPromise(
    seedProgram(options).pipe(Effect.provide(layer), Logger.withMinimumLogLevel(LogLevel.Warning))
  )
}
