// SQL for `sites` and `device_sites` (devices are assigned by hostname). spec: config-bootstrap-tests.md §4.3
import * as SqlClient from "@effect/sql/SqlClient"
import * as SqlSchema from "@effect/sql/SqlSchema"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Row from "../../layers/sqlRows.ts"
import { changes, run } from "../sqlResult.ts"

export interface SiteSummary {
  readonly id: number
  readonly name: string
  readonly description: string
  readonly created_at: number
  readonly device_count: number
}

export interface SiteMapping {
  readonly site_id: number
  readonly site_name: string
}

const SiteRow = Schema.Struct({
  id: Row.Num,
  name: Row.Nullable(Row.Text),
  description: Row.Nullable(Row.Text),
  created_at: Row.Nullable(Row.Num),
  device_count: Row.Nullable(Row.Num)
})

const MappingRow = Schema.Struct({ device_hostname: Row.Text, id: Row.Num, name: Row.Nullable(Row.Text) })

const toSite = (r: typeof SiteRow.Type): SiteSummary => ({
  id: Number(r.id),
  name: r.name ?? "",
  description: r.description ?? "",
  created_at: Number(r.created_at ?? 0) || 0,
  device_count: Number(r.device_count ?? 0) || 0
})

const isUniqueViolation = (error: unknown): boolean => /UNIQUE constraint failed/i.test(String((error as { cause?: unknown }).cause ?? error))

export class SitesRepo extends Effect.Service<SitesRepo>()("borealis/SitesRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const now = () => Math.floor(Date.now() / 1000)

    const summaries = (where: string, params: ReadonlyArray<number>) =>
      sql.unsafe(
        `SELECT s.id, s.name, s.description, s.created_at, COALESCE(ds.cnt, 0) AS device_count
           FROM sites s
      LEFT JOIN (SELECT site_id, COUNT(*) AS cnt FROM device_sites GROUP BY site_id) ds ON ds.site_id = s.id
          ${where}`,
        params as Array<number>
      )

    const listRows = SqlSchema.findAll({ Request: Schema.Void, Result: SiteRow, execute: () => summaries("ORDER BY LOWER(s.name) ASC", []) })
    const list = listRows(undefined).pipe(Effect.map((rows) => rows.map(toSite)), Effect.orDie)

    const getRow = SqlSchema.findOne({ Request: Schema.Number, Result: SiteRow, execute: (id) => summaries("WHERE s.id = ?", [id]) })
    const get = (id: number) => getRow(id).pipe(Effect.map(Option.map(toSite)), Effect.orDie)

    /** `none` when the name is taken. */
    const insert = (name: string, description: string) =>
      run(sql`INSERT INTO sites (name, description, created_at) VALUES (${name}, ${description}, ${now()})`).pipe(
        Effect.map((r) => Option.some(Number(r.lastInsertRowid))),
        Effect.catchAll((e) => (isUniqueViolation(e) ? Effect.succeed(Option.none<number>()) : Effect.die(e)))
      )

    /** `none` when the name is taken; `some(false)` when no such site. */
    const rename = (id: number, name: string) =>
      changes(sql`UPDATE sites SET name = ${name} WHERE id = ${id}`).pipe(
        Effect.map((n) => Option.some(n > 0)),
        Effect.catchAll((e) => (isUniqueViolation(e) ? Effect.succeed(Option.none<boolean>()) : Effect.die(e)))
      )

    const remove = (ids: ReadonlyArray<number>) =>
      Effect.gen(function*() {
        if (ids.length === 0) return 0
        yield* sql`DELETE FROM device_sites WHERE ${sql.in("site_id", ids)}`
        return yield* changes(sql`DELETE FROM sites WHERE ${sql.in("id", ids)}`)
      }).pipe(Effect.orDie)

    const countOf = SqlSchema.single({ Request: Schema.Number, Result: Row.CountRow, execute: (id) => sql`SELECT count(*) AS n FROM sites WHERE id = ${id}` })
    const exists = (id: number) => countOf(id).pipe(Effect.map((r) => r.n > 0), Effect.orDie)

    const assign = (siteId: number, hostnames: ReadonlyArray<string>) =>
      Effect.forEach(hostnames, (hostname) =>
        sql`INSERT INTO device_sites (device_hostname, site_id, assigned_at) VALUES (${hostname}, ${siteId}, ${now()})
          ON CONFLICT(device_hostname) DO UPDATE SET site_id = excluded.site_id, assigned_at = excluded.assigned_at`, { discard: true }).pipe(
        Effect.orDie
      )

    const mappingRows = SqlSchema.findAll({
      Request: Schema.UndefinedOr(Schema.Array(Schema.String)),
      Result: MappingRow,
      execute: (hostnames) =>
        hostnames === undefined
          ? sql`SELECT ds.device_hostname, s.id, s.name FROM device_sites ds INNER JOIN sites s ON s.id = ds.site_id`
          : sql`SELECT ds.device_hostname, s.id, s.name FROM device_sites ds INNER JOIN sites s ON s.id = ds.site_id
             WHERE ${sql.in("ds.device_hostname", hostnames)}`
    })

    const mapping = (hostnames: ReadonlyArray<string> | undefined) =>
      mappingRows(hostnames).pipe(
        Effect.map((rows) => {
          const out: Record<string, SiteMapping> = {}
          for (const r of rows) out[r.device_hostname] = { site_id: r.id, site_name: r.name ?? "" }
          return out
        }),
        Effect.orDie
      )

    return { list, get, insert, rename, remove, exists, assign, mapping } as const
  })
}) {}
