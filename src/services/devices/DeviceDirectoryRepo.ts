// Reads of `devices` (with their site) for operators, and the one operator write: the description.
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { changes } from "../sqlResult.ts"
import { normalizeGuid } from "./identity.ts"
import { DEVICE_COLUMNS, type DeviceRow } from "./snapshot.ts"

export interface DeviceWithSite {
  readonly row: DeviceRow
  readonly site: { readonly id: number | null; readonly name: string | null; readonly description: string | null }
}

type JoinedRow = DeviceRow & { readonly site_id: number | null; readonly site_name: string | null; readonly site_description: string | null }

const SELECT = `SELECT ${DEVICE_COLUMNS.map((c) => `d.${c}`).join(", ")}, s.id AS site_id, s.name AS site_name, s.description AS site_description
  FROM devices d
  LEFT JOIN device_sites ds ON ds.device_hostname = d.hostname
  LEFT JOIN sites s ON s.id = ds.site_id`

const split = (r: JoinedRow): DeviceWithSite => {
  const { site_id, site_name, site_description, ...row } = r
  return { row, site: { id: site_id === null ? null : Number(site_id), name: site_name, description: site_description } }
}

export class DeviceDirectoryRepo extends Effect.Service<DeviceDirectoryRepo>()("borealis/DeviceDirectoryRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    const list = sql.unsafe<JoinedRow>(`${SELECT} ORDER BY d.rowid`).pipe(Effect.map((rows) => rows.map(split)), Effect.orDie)

    /** By hostname in any letter case (one device per hostname, case-insensitively). */
    const byHostname = (hostname: string) =>
      sql.unsafe<JoinedRow>(`${SELECT} WHERE LOWER(d.hostname) = LOWER(?)`, [hostname]).pipe(
        Effect.map((rows) => Option.map(Option.fromNullable(rows[0]), split)),
        Effect.orDie
      )

    /** GUID compared case-insensitively after normalisation. */
    const byGuid = (guid: string) =>
      sql.unsafe<JoinedRow>(`${SELECT} WHERE UPPER(d.guid) = ? LIMIT 1`, [normalizeGuid(guid)]).pipe(
        Effect.map((rows) => Option.map(Option.fromNullable(rows[0]), split)),
        Effect.orDie
      )

    const setDescription = (hostname: string, description: string) =>
      changes(sql`UPDATE devices SET description = ${description} WHERE LOWER(hostname) = LOWER(${hostname})`).pipe(Effect.orDie)

    /** `devices list` in the CLI: the few columns an operator needs on a terminal. */
    const brief = sql<{ guid: string; hostname: string | null; status: string | null; last_seen: number | null; operating_system: string | null; agent_id: string | null }>`
      SELECT guid, hostname, status, last_seen, operating_system, agent_id FROM devices ORDER BY LOWER(hostname)`.pipe(Effect.orDie)

    return { list, byHostname, byGuid, setDescription, brief } as const
  })
}) {}
