// What better-sqlite3 reports for a write, read from `statement.raw` (the driver's RunResult).
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
