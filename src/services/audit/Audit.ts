// The audit trail: typed events appended to `audit_events` (append-only: triggers refuse UPDATE and
// DELETE) and logged. Callers inside a `sql.withTransaction` get the row in the same transaction, so
// an action and its audit record commit or roll back together.
import * as SqlClient from "@effect/sql/SqlClient"
import * as SqlSchema from "@effect/sql/SqlSchema"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import * as Row from "../../layers/sqlRows.ts"
import { changes } from "../sqlResult.ts"
import { AuditEvent, type AuditEventInput, type AuditRecord, redactForLog } from "./events.ts"

interface AuditQuery {
  /** Exact type, or a prefix when it ends with `.` or `*` (`auth.*`, `enrollment.`). */
  readonly type?: string | undefined
  readonly actor?: string | undefined
  readonly target?: string | undefined
  /** Epoch seconds, inclusive. */
  readonly since?: number | undefined
  /** Epoch seconds, inclusive. */
  readonly until?: number | undefined
  readonly limit: number
  readonly offset: number
}

const QueryRequest = Schema.Struct({
  type: Schema.optional(Schema.String),
  actor: Schema.optional(Schema.String),
  target: Schema.optional(Schema.String),
  since: Schema.optional(Schema.Number),
  until: Schema.optional(Schema.Number),
  limit: Schema.Number,
  offset: Schema.Number
})

interface AuditPage {
  readonly events: ReadonlyArray<AuditRecord>
  readonly total: number
}

const decodeEvent = Schema.decodeUnknown(AuditEvent)

const AuditRow = Schema.Struct({
  id: Row.Num,
  ts: Row.Num,
  type: Row.Text,
  actor: Row.Nullable(Row.Text),
  actor_ip: Row.Nullable(Row.Text),
  target: Row.Nullable(Row.Text),
  outcome: Row.Text,
  details_json: Row.Nullable(Row.Text)
})

const parseDetails = (raw: string | null): unknown => {
  if (raw === null || raw === "") return {}
  try {
    return JSON.parse(raw)
  } catch {
    return {}
  }
}

const toRecord = (row: typeof AuditRow.Type): AuditRecord => ({
  id: row.id,
  ts: row.ts,
  ts_iso: new Date(row.ts * 1000).toISOString(),
  type: row.type,
  actor: row.actor,
  actor_ip: row.actor_ip,
  target: row.target,
  outcome: row.outcome,
  details: parseDetails(row.details_json)
})

const typeFilter = (type: string): { readonly exact: string } | { readonly prefix: string } =>
  type.endsWith("*") ? { prefix: type.slice(0, -1) } : type.endsWith(".") ? { prefix: type } : { exact: type }

const logEvent = (event: AuditEvent) =>
  Effect.logInfo("audit").pipe(
    Effect.annotateLogs({
      type: event.type,
      outcome: event.outcome,
      ...(event.actor === undefined ? {} : { actor: event.actor }),
      ...(event.actor_ip === undefined ? {} : { actor_ip: event.actor_ip }),
      ...(event.target === undefined ? {} : { target: event.target }),
      details: JSON.stringify(redactForLog(event.details))
    })
  )

/** Matching in memory, the same rules as the SQL (used by the test layer). */
const matches = (q: AuditQuery) => (r: AuditRecord): boolean => {
  if (q.type !== undefined) {
    const f = typeFilter(q.type)
    if ("exact" in f ? r.type !== f.exact : !r.type.startsWith(f.prefix)) return false
  }
  if (q.actor !== undefined && r.actor !== q.actor) return false
  if (q.target !== undefined && r.target !== q.target) return false
  if (q.since !== undefined && r.ts < q.since) return false
  if (q.until !== undefined && r.ts > q.until) return false
  return true
}

export class Audit extends Effect.Service<Audit>()("borealis/Audit", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    const record = Effect.fn("Audit.record")(function*(input: AuditEventInput) {
      const event = yield* Effect.orDie(decodeEvent(input))
      const ts = Math.floor(Date.now() / 1000)
      yield* sql`INSERT INTO audit_events (ts, type, actor, actor_ip, target, outcome, details_json)
        VALUES (${ts}, ${event.type}, ${event.actor ?? null}, ${event.actor_ip ?? null}, ${event.target ?? null},
                ${event.outcome}, ${JSON.stringify(event.details)})`.pipe(Effect.orDie)
      yield* logEvent(event)
    })

    const where = (q: AuditQuery) => {
      const conditions = []
      if (q.type !== undefined) {
        const f = typeFilter(q.type)
        conditions.push("exact" in f ? sql`type = ${f.exact}` : sql`substr(type, 1, ${f.prefix.length}) = ${f.prefix}`)
      }
      if (q.actor !== undefined) conditions.push(sql`actor = ${q.actor}`)
      if (q.target !== undefined) conditions.push(sql`target = ${q.target}`)
      if (q.since !== undefined) conditions.push(sql`ts >= ${q.since}`)
      if (q.until !== undefined) conditions.push(sql`ts <= ${q.until}`)
      return sql.and(conditions)
    }
    const total = SqlSchema.single({
      Request: QueryRequest,
      Result: Row.CountRow,
      execute: (q) => sql`SELECT count(*) AS n FROM audit_events WHERE ${where(q)}`
    })
    const page = SqlSchema.findAll({
      Request: QueryRequest,
      Result: AuditRow,
      execute: (q) =>
        sql`SELECT id, ts, type, actor, actor_ip, target, outcome, details_json
        FROM audit_events WHERE ${where(q)} ORDER BY id DESC LIMIT ${q.limit} OFFSET ${q.offset}`
    })

    const query = Effect.fn("Audit.query")(function*(q: AuditQuery) {
      const counted = yield* total(q)
      const rows = yield* page(q)
      return { events: rows.map(toRecord), total: counted.n } satisfies AuditPage
    }, Effect.orDie)

    /**
     * Audit retention (BOREALIS_AUDIT_RETENTION_DAYS): rows older than the cutoff are deleted; the
     * append-only trigger refuses deleting any newer row.
     */
    const applyRetention = (cutoffSeconds: number) =>
      Effect.gen(function*() {
        yield* sql`INSERT INTO audit_retention (id, cutoff) VALUES (1, ${cutoffSeconds})
          ON CONFLICT(id) DO UPDATE SET cutoff = MAX(cutoff, excluded.cutoff)`
        return yield* changes(sql`DELETE FROM audit_events WHERE ts < ${cutoffSeconds}`)
      }).pipe(Effect.orDie)

    return { record, query, applyRetention } as const
  })
}) {
  /**
   * In memory: `record` validates and keeps events, `query` filters them; `Audit.Test` also exposes
   * nothing else, so a test reads what was recorded through `query`.
   */
  static readonly Test: Layer.Layer<Audit> = Layer.effect(
    Audit,
    Effect.gen(function*() {
      const store = yield* Ref.make<ReadonlyArray<AuditRecord>>([])
      return Audit.make({
        record: (input) =>
          Effect.gen(function*() {
            const event = yield* Effect.orDie(decodeEvent(input))
            yield* Ref.update(store, (all) => [
              ...all,
              {
                id: all.length + 1,
                ts: Math.floor(Date.now() / 1000),
                ts_iso: new Date().toISOString(),
                type: event.type,
                actor: event.actor ?? null,
                actor_ip: event.actor_ip ?? null,
                target: event.target ?? null,
                outcome: event.outcome,
                details: event.details
              }
            ])
          }),
        query: (q) =>
          Effect.map(Ref.get(store), (all) => {
            const hits = all.filter(matches(q)).reverse()
            return { events: hits.slice(q.offset, q.offset + q.limit), total: hits.length }
          }),
        applyRetention: (cutoff) =>
          Ref.modify(store, (all) => {
            const kept = all.filter((r) => r.ts >= cutoff)
            return [all.length - kept.length, kept]
          })
      })
    })
  )
}
