// A device's script/job history (`activity_history`): list, one entry's output, clear.
// spec: config-bootstrap-tests.md §6.11 (test_device_activity_endpoints)
import * as SqlClient from "@effect/sql/SqlClient"
import * as SqlSchema from "@effect/sql/SqlSchema"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Row from "../../layers/sqlRows.ts"
import { Audit } from "../audit/Audit.ts"
import { NotFound } from "../errors.ts"
import type { Actor } from "../actor.ts"
import { changes, transactionally } from "../sqlResult.ts"
import { cleanDeviceStr } from "./snapshot.ts"

export interface ActivitySummary {
  readonly id: number
  readonly script_name: string | null
  readonly script_path: string | null
  readonly script_type: string | null
  readonly ran_at: number | null
  readonly status: string | null
  readonly has_stdout: boolean
  readonly has_stderr: boolean
}

export interface ActivityEntry {
  readonly id: number
  readonly hostname: string | null
  readonly script_name: string | null
  readonly script_path: string | null
  readonly script_type: string | null
  readonly ran_at: number | null
  readonly status: string | null
  readonly stdout: string
  readonly stderr: string
}

const Script = {
  script_name: Row.Nullable(Row.Text),
  script_path: Row.Nullable(Row.Text),
  script_type: Row.Nullable(Row.Text),
  ran_at: Row.Nullable(Row.Num),
  status: Row.Nullable(Row.Text)
}
const SummaryRow = Schema.Struct({ id: Row.Num, ...Script, out_len: Row.Num, err_len: Row.Num })
const EntryRow = Schema.Struct({ id: Row.Num, hostname: Row.Nullable(Row.Text), ...Script, stdout: Row.Nullable(Row.Text), stderr: Row.Nullable(Row.Text) })

export class DeviceActivity extends Effect.Service<DeviceActivity>()("borealis/DeviceActivity", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const audit = yield* Audit

    const summaries = SqlSchema.findAll({
      Request: Schema.String,
      Result: SummaryRow,
      execute: (hostname) => sql`
        SELECT id, script_name, script_path, script_type, ran_at, status,
               LENGTH(COALESCE(stdout, '')) AS out_len, LENGTH(COALESCE(stderr, '')) AS err_len
          FROM activity_history WHERE LOWER(hostname) = LOWER(${hostname})
         ORDER BY ran_at DESC, id DESC`
    })

    const entryRow = SqlSchema.findOne({
      Request: Schema.Number,
      Result: EntryRow,
      execute: (id) => sql`SELECT id, hostname, script_name, script_path, script_type, ran_at, status, stdout, stderr
          FROM activity_history WHERE id = ${id}`
    })

    const history = Effect.fn("DeviceActivity.history")(function*(hostnameRaw: string) {
      const hostname = cleanDeviceStr(hostnameRaw)
      if (hostname === undefined) return []
      const rows = yield* summaries(hostname).pipe(Effect.orDie)
      return rows.map(({ out_len, err_len, ...r }): ActivitySummary => ({ ...r, has_stdout: out_len > 0, has_stderr: err_len > 0 }))
    })

    const entry = Effect.fn("DeviceActivity.entry")(function*(idRaw: string) {
      const notFound = new NotFound({ error: "not found" })
      // Flask's `<int:activity_id>`: only plain digits route here.
      if (!/^\d{1,15}$/.test(idRaw)) return yield* notFound
      const row = yield* entryRow(Number(idRaw)).pipe(Effect.orDie)
      if (Option.isNone(row)) return yield* notFound
      return { ...row.value, stdout: row.value.stdout ?? "", stderr: row.value.stderr ?? "" } satisfies ActivityEntry
    })

    const clear = Effect.fn("DeviceActivity.clear")(function*(hostnameRaw: string, actor: Actor) {
      const hostname = cleanDeviceStr(hostnameRaw)
      if (hostname === undefined) return 0
      return yield* transactionally(sql, Effect.gen(function*() {
        const deleted = yield* changes(sql`DELETE FROM activity_history WHERE LOWER(hostname) = LOWER(${hostname})`).pipe(Effect.orDie)
        yield* audit.record({ type: "device.activity_cleared", actor: actor.username, actor_ip: actor.ip, target: hostname, details: { deleted } })
        return deleted
      }))
    })

    return { history, entry, clear } as const
  })
}) {}
