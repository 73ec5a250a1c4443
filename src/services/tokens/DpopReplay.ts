// The DPoP `jti` replay store: proof ids seen and not yet expired, kept in `dpop_replay` so neither a
// restart nor a second node reopens the window. `DpopReplay.Test` keeps them in memory, for tests of
// the DPoP rules without a database. spec: auth-enrollment.md §4
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { changes } from "../sqlResult.ts"

export class DpopReplay extends Effect.Service<DpopReplay>()("borealis/DpopReplay", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    let inserts = 0

    /** Record `key` until `expiresAt` (epoch seconds); false when it is already recorded and not yet expired. */
    const remember = (key: string, now: number, expiresAt: number) =>
      Effect.gen(function*() {
        // Checked proofs prune now and then, so the table stays small between maintenance runs.
        if (++inserts % 256 === 0) yield* sql`DELETE FROM dpop_replay WHERE expires_at < ${now}`
        return yield* sql.withTransaction(Effect.gen(function*() {
          yield* sql`DELETE FROM dpop_replay WHERE jti = ${key} AND expires_at < ${now}`
          return (yield* changes(sql`INSERT OR IGNORE INTO dpop_replay (jti, expires_at) VALUES (${key}, ${expiresAt})`)) === 1
        }))
      }).pipe(Effect.orDie)

    /** Proof ids past their window; the number removed. */
    const prune = (nowSeconds: number) => changes(sql`DELETE FROM dpop_replay WHERE expires_at < ${nowSeconds}`).pipe(Effect.orDie)

    return { remember, prune } as const
  })
}) {
  /** In memory, with the same rule: a key is fresh again once its expiry is in the past. */
  static readonly Test: Layer.Layer<DpopReplay> = Layer.sync(DpopReplay, () => {
    const seen = new Map<string, number>()
    return DpopReplay.make({
      remember: (key, now, expiresAt) =>
        Effect.sync(() => {
          const expiry = seen.get(key)
          if (expiry !== undefined && expiry >= now) return false
          seen.set(key, expiresAt)
          return true
        }),
      prune: (nowSeconds) =>
        Effect.sync(() => {
          let removed = 0
          for (const [key, expiry] of seen) {
            if (expiry < nowSeconds) {
              seen.delete(key)
              removed++
            }
          }
          return removed
        })
    })
  })
}
