// Reads of `devices` (with their site) for operators, and the one operator write: the description.
// Rows are decoded by schema; the snapshot columns stay as stored (snapshot.ts reads them leniently,
// as the original does: a legacy row may hold text in an INTEGER column).
import * as SqlClient from "@effect/sql/SqlClient"
import * as SqlSchema from "@effect/sql/SqlSchema"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Row from "../../layers/sqlRows.ts"
import { changes } from "../sqlResult.ts"
import { normalizeGuid } from "./identity.ts"
import { DEVICE_COLUMNS, type DeviceRow } from "./snapshot.ts"

interface DeviceWithSite {
  readonly row: DeviceRow
  readonly site: { readonly id: number | null; readonly name: string | null; readonly description: string | null }
}

const Column = Row.Nullable(Row.Scalar)

const JoinedRow = Schema.Struct({
  ...(Object.fromEntries(DEVICE_COLUMNS.map((c) => [c, Column])) as { readonly [K in (typeof DEVICE_COLUMNS)[number]]: typeof Column }),
  site_id: Row.Nullable(Row.Num),
  site_name: Row.Nullable(Row.Text),
  site_description: Row.Nullable(Row.Text)
})

/** `devices list` in the CLI: the few columns an operator needs on a terminal. */
const BriefRow = Schema.Struct({
  guid: Row.Text,
  hostname: Row.Nullable(Row.Text),
  status: Row.Nullable(Row.Text),
  last_seen: Row.Nullable(Row.Num),
  operating_system: Row.Nullable(Row.Text),
  agent_id: Row.Nullable(Row.Text)
})

const SELECT = `SELECT ${DEVICE_COLUMNS.map((c) => `d.${c}`).join(", ")}, s.id AS site_id, s.name AS site_name, s.description AS site_description
  FROM devices d
  LEFT JOIN device_sites ds ON ds.device_hostname = d.hostname
  LEFT JOIN sites s ON s.id = ds.site_id`

const split = (r: typeof JoinedRow.Type): DeviceWithSite => {
  const { site_id, site_name, site_description, ...row } = r
  return { row, site: { id: site_id, name: site_name, description: site_description } }
}

export class DeviceDirectoryRepo extends Effect.Service<DeviceDirectoryRepo>()("borealis/DeviceDirectoryRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    const all = SqlSchema.findAll({ Request: Schema.Void, Result: JoinedRow, execute: () => sql.unsafe(`${SELECT} ORDER BY d.rowid`) })
    const list = all(undefined).pipe(Effect.map((rows) => rows.map(split)), Effect.orDie)

    const hostnameRow = SqlSchema.findOne({
      Request: Schema.String,
      Result: JoinedRow,
      execute: (hostname) => sql.unsafe(`${SELECT} WHERE LOWER(d.hostname) = LOWER(?)`, [hostname])
    })
    /** By hostname in any letter case (one device per hostname, case-insensitively). */
    const byHostname = (hostname: string) => hostnameRow(hostname).pipe(Effect.map(Option.map(split)), Effect.orDie)

    const guidRow = SqlSchema.findOne({
      Request: Schema.String,
      Result: JoinedRow,
      execute: (guid) => sql.unsafe(`${SELECT} WHERE UPPER(d.guid) = ? LIMIT 1`, [guid])
    })
    /** GUID compared case-insensitively after normalisation. */
    const byGuid = (guid: string) => guidRow(normalizeGuid(guid)).pipe(Effect.map(Option.map(split)), Effect.orDie)

    const setDescription = (hostname: string, description: string) =>
      changes(sql`UPDATE devices SET description = ${description} WHERE LOWER(hostname) = LOWER(${hostname})`).pipe(Effect.orDie)

    const briefRows = SqlSchema.findAll({
      Request: Schema.Void,
      Result: BriefRow,
      execute: () => sql`SELECT guid, hostname, status, last_seen, operating_system, agent_id FROM devices ORDER BY LOWER(hostname)`
    })
    const brief = briefRows(undefined).pipe(Effect.orDie)

    return { list, byHostname, byGuid, setDescription, brief } as const
  })
}) {}
