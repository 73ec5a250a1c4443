// What better-sqlite3 reports for a write, read from `statement.raw` (the driver's RunResult).
import type * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import type * as Statement from "@effect/sql/Statement"
import * as Effect from "effect/Effect"

export interface RunResult {
  readonly changes: number
  readonly lastInsertRowid: number | bigint
}

const asRunResult = (raw: unknown): RunResult => {
  const r = raw as Partial<RunResult> | null
  return { changes: Number(r?.changes ?? 0), lastInsertRowid: r?.lastInsertRowid ?? 0 }
}

/** Run a write and return its RunResult; SQL failures stay failures for the caller to judge. */
export const run = <A extends object>(statement: Statement.Statement<A>) => Effect.map(statement.raw, asRunResult)

/** Rows changed by a write. */
export const changes = <A extends object>(statement: Statement.Statement<A>) => Effect.map(run(statement), (r) => r.changes)

/**
 * `effect` in one SQL transaction (rolled back when it fails); a failing database is a defect here,
 * which the HTTP edge answers 503.
 */
export const transactionally = <A, E, R>(sql: SqlClient.SqlClient, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  sql.withTransaction(effect).pipe(
    Effect.catchIf((e): e is SqlError => e instanceof SqlError, (e) => Effect.die(e))
  ) as Effect.Effect<A, E, R>
