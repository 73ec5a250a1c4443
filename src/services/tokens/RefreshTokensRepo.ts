// SQL of `refresh_tokens` for refresh and rotation, and the purge barriers that stop a refresh.
// `RefreshTokensRepo.makeTestLayer` keeps the same table in memory, for tests of the refresh rules
// without a database. spec: auth-enrollment.md §1.3, §5, §7 (L-tok2)
import * as SqlClient from "@effect/sql/SqlClient"
import * as SqlSchema from "@effect/sql/SqlSchema"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { randomUUID } from "node:crypto"
import * as Row from "../../layers/sqlRows.ts"
import { changes } from "../sqlResult.ts"
import { DAY_MS, isoUtc } from "../time.ts"


/** A stored token as refresh judges it, with whether its GUID has a purge barrier. */
const StoredTokenRow = Schema.Struct({
  id: Row.Text,
  guid: Row.Text,
  dpop_jkt: Row.Nullable(Row.Text),
  expires_at: Row.Nullable(Row.TimestampText),
  revoked_at: Row.Nullable(Row.TimestampText),
  superseded_at: Row.Nullable(Row.TimestampText),
  family_id: Row.Nullable(Row.Text),
  purged: Row.Bool
})
export type StoredRefreshToken = typeof StoredTokenRow.Type

/** A use of a token: its sliding expiry moves on, and a DPoP key binds it (once bound, it stays so). */
export interface TokenUse {
  readonly id: string
  readonly nowIso: string
  readonly expiresAt: string
  readonly dpopJkt: string | undefined
}

/** A rotation: the used token and everything current in its family are superseded by a new token. */
export interface TokenRotation extends TokenUse {
  readonly family: string
  readonly guid: string
  readonly newTokenHash: string
  /** The new token's DPoP binding. */
  readonly newDpopJkt: string | null
}

export class RefreshTokensRepo extends Effect.Service<RefreshTokensRepo>()("borealis/RefreshTokensRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    const byHash = SqlSchema.findAll({
      Request: Schema.String,
      Result: StoredTokenRow,
      execute: (hash) =>
        sql`SELECT t.id, t.guid, t.dpop_jkt, t.expires_at, t.revoked_at, t.superseded_at, t.family_id,
            (SELECT count(*) FROM device_purge_barriers b WHERE UPPER(b.guid) = UPPER(t.guid)) AS purged
          FROM refresh_tokens t WHERE t.token_hash = ${hash}`
    })
    const barriers = SqlSchema.single({
      Request: Schema.String,
      Result: Row.CountRow,
      execute: (guid) => sql`SELECT count(*) AS n FROM device_purge_barriers WHERE UPPER(guid) = ${guid}`
    })

    const touch = (use: TokenUse) =>
      sql`UPDATE refresh_tokens SET last_used_at = ${use.nowIso}, expires_at = ${use.expiresAt},
          dpop_jkt = COALESCE(${use.dpopJkt ?? null}, dpop_jkt) WHERE id = ${use.id}`

    return {
      /** The tokens with this hash (one query, the purge barrier of each one's GUID with it). */
      findByHash: (hash: string) => byHash(hash).pipe(Effect.orDie),

      /** Whether a purge barrier names this (canonical) GUID. */
      hasPurgeBarrier: (guid: string) => barriers(guid).pipe(Effect.map((r) => r.n > 0), Effect.orDie),

      /** Every token of a family not yet revoked is revoked at `atIso`. */
      revokeFamily: (family: string, atIso: string) =>
        sql`UPDATE refresh_tokens SET revoked_at = ${atIso}
          WHERE (family_id = ${family} OR id = ${family}) AND revoked_at IS NULL`.pipe(Effect.asVoid, Effect.orDie),

      /** A use without rotation: one UPDATE, atomic on its own (no transaction round trip). */
      touch: (use: TokenUse) => touch(use).pipe(Effect.asVoid, Effect.orDie),

      /** A use with rotation, in one transaction. */
      rotate: (rotation: TokenRotation) =>
        sql.withTransaction(Effect.gen(function*() {
          yield* touch(rotation)
          // Everything still current in the family (the head, or what a lost response handed out) is superseded.
          yield* sql`UPDATE refresh_tokens SET superseded_at = ${rotation.nowIso}
            WHERE (family_id = ${rotation.family} OR id = ${rotation.family}) AND superseded_at IS NULL AND revoked_at IS NULL`
          yield* sql`INSERT INTO refresh_tokens (id, guid, token_hash, dpop_jkt, created_at, expires_at, revoked_at, last_used_at, family_id)
            VALUES (${randomUUID()}, ${rotation.guid}, ${rotation.newTokenHash}, ${rotation.newDpopJkt},
              ${rotation.nowIso}, ${rotation.expiresAt}, NULL, NULL, ${rotation.family})`
        })).pipe(Effect.orDie),

      /** Expired tokens, and revoked ones after 90 days (reuse detection needs them until then). */
      prune: (nowMs: number) =>
        changes(sql`DELETE FROM refresh_tokens WHERE substr(expires_at, 1, 19) < ${isoUtc(nowMs).slice(0, 19)}
            OR (revoked_at IS NOT NULL AND revoked_at != '' AND substr(revoked_at, 1, 19) < ${isoUtc(nowMs - 90 * DAY_MS).slice(0, 19)})`).pipe(
          Effect.orDie
        )
    } as const
  })
}) {
  /**
   * The repository over an in-memory table the test owns (and may inspect): the same rules as the
   * SQL above, with GUIDs in `purgeBarriers` uppercase as the queries compare them.
   */
  static readonly makeTestLayer = (table: RefreshTokenTable): Layer.Layer<RefreshTokensRepo> =>
    Layer.succeed(
      RefreshTokensRepo,
      RefreshTokensRepo.make({
        findByHash: (hash) =>
          Effect.sync(() =>
            table.tokens.filter((t) => t.token_hash === hash).map((t) => ({
              id: t.id,
              guid: t.guid,
              dpop_jkt: t.dpop_jkt,
              expires_at: t.expires_at,
              revoked_at: t.revoked_at,
              superseded_at: t.superseded_at,
              family_id: t.family_id,
              purged: table.purgeBarriers.has(t.guid.toUpperCase())
            }))
          ),
        hasPurgeBarrier: (guid) => Effect.sync(() => table.purgeBarriers.has(guid)),
        revokeFamily: (family, atIso) =>
          Effect.sync(() => {
            for (const t of inFamily(table, family)) if (t.revoked_at === null) t.revoked_at = atIso
          }),
        touch: (use) => Effect.sync(() => touchRecord(table, use)),
        rotate: (rotation) =>
          Effect.sync(() => {
            touchRecord(table, rotation)
            for (const t of inFamily(table, rotation.family)) {
              if (t.superseded_at === null && t.revoked_at === null) t.superseded_at = rotation.nowIso
            }
            table.tokens.push({
              id: randomUUID(),
              guid: rotation.guid,
              token_hash: rotation.newTokenHash,
              dpop_jkt: rotation.newDpopJkt,
              created_at: rotation.nowIso,
              expires_at: rotation.expiresAt,
              revoked_at: null,
              last_used_at: null,
              family_id: rotation.family,
              superseded_at: null
            })
          }),
        prune: (nowMs) =>
          Effect.sync(() => {
            const now = isoUtc(nowMs).slice(0, 19)
            const revokedBefore = isoUtc(nowMs - 90 * DAY_MS).slice(0, 19)
            const kept = table.tokens.filter((t) =>
              !(t.expires_at.slice(0, 19) < now || (t.revoked_at !== null && t.revoked_at !== "" && t.revoked_at.slice(0, 19) < revokedBefore))
            )
            const removed = table.tokens.length - kept.length
            table.tokens.splice(0, table.tokens.length, ...kept)
            return removed
          })
      })
    )
}

/** A `refresh_tokens` row, for the in-memory table of `makeTestLayer`. */
export interface RefreshTokenRecord {
  readonly id: string
  readonly guid: string
  readonly token_hash: string
  dpop_jkt: string | null
  readonly created_at: string
  expires_at: string
  revoked_at: string | null
  last_used_at: string | null
  readonly family_id: string | null
  superseded_at: string | null
}

export interface RefreshTokenTable {
  readonly tokens: Array<RefreshTokenRecord>
  /** Uppercase GUIDs that have a purge barrier. */
  readonly purgeBarriers: Set<string>
}

const inFamily = (table: RefreshTokenTable, family: string) => table.tokens.filter((t) => t.family_id === family || t.id === family)

const touchRecord = (table: RefreshTokenTable, use: TokenUse) => {
  for (const t of table.tokens) {
    if (t.id !== use.id) continue
    t.last_used_at = use.nowIso
    t.expires_at = use.expiresAt
    t.dpop_jkt = use.dpopJkt ?? t.dpop_jkt
  }
}
