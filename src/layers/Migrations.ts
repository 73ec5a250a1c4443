// Idempotent "ensure" migrations, as the original: no version table, every step safe to repeat, on a
// fresh file or on a database the Python Engine created or left half-migrated. Nothing is dropped.
// spec: config-bootstrap-tests.md §4.2–§4.3
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { createHash, randomUUID } from "node:crypto"
import { EngineConfig } from "./Config.ts"
import { ADDED_TABLES, addColumnDecl, AUDIT_NO_DELETE_TRIGGER, createTableSql, devicesTable, TABLES, type TableDef } from "./schema.ts"

export const DEFAULT_ADMIN_USERNAME = "admin"
export const DEFAULT_ADMIN_PASSWORD_SHA512 = createHash("sha512").update("Password").digest("hex")

interface ColumnInfo {
  readonly name: string
  readonly pk: number
}

const tableColumns = (sql: SqlClient.SqlClient, table: string) =>
  sql.unsafe<ColumnInfo>(`PRAGMA table_info(${table})`)

const tableExists = (sql: SqlClient.SqlClient, table: string) =>
  sql<{ n: number }>`SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = ${table}`.pipe(
    Effect.map((rows) => (rows[0]?.n ?? 0) > 0)
  )

/** Indexes can fail on legacy data (duplicate hostnames); that is reported, never fatal or destructive. */
const ensureIndexes = (sql: SqlClient.SqlClient, t: TableDef) =>
  Effect.forEach(t.indexes ?? [], (statement) =>
    sql.unsafe(statement).pipe(
      Effect.catchAll((error) =>
        Effect.logWarning("migrations-index-skipped").pipe(
          Effect.annotateLogs({ table: t.name, statement, reason: String(error.cause) })
        )
      )
    ), { discard: true })

const ensureTable = (sql: SqlClient.SqlClient, t: TableDef) =>
  Effect.gen(function*() {
    if (!(yield* tableExists(sql, t.name))) {
      yield* sql.unsafe(createTableSql(t))
    } else {
      const present = new Set((yield* tableColumns(sql, t.name)).map((c) => c.name.toLowerCase()))
      for (const column of t.columns) {
        if (present.has(column.name.toLowerCase())) continue
        yield* sql.unsafe(`ALTER TABLE ${t.name} ADD COLUMN ${column.name} ${addColumnDecl(column.decl)}`)
        yield* Effect.logInfo("migrations-column-added").pipe(Effect.annotateLogs({ table: t.name, column: column.name }))
      }
    }
    yield* ensureIndexes(sql, t)
  })

const isoFromEpoch = (value: unknown): string => {
  const n = typeof value === "number" ? value : Number(value)
  return new Date(Number.isFinite(n) && n > 0 ? n * 1000 : Date.now()).toISOString()
}

/**
 * A `devices` table whose primary key is not `guid` (the legacy server keyed it by hostname) is
 * rebuilt: rows are copied into the new shape, and the old table is dropped only when every row made it.
 */
const rebuildDevices = (sql: SqlClient.SqlClient) =>
  Effect.gen(function*() {
    const legacyColumns = (yield* tableColumns(sql, "devices")).map((c) => c.name)
    const known = new Set(devicesTable.columns.map((c) => c.name))
    const copy = legacyColumns.filter((c) => known.has(c))
    const legacyName = `devices_legacy_${Date.now()}`
    yield* sql.unsafe("PRAGMA foreign_keys = OFF")
    const outcome = yield* sql.withTransaction(Effect.gen(function*() {
      yield* sql.unsafe(`ALTER TABLE devices RENAME TO ${legacyName}`)
      yield* sql.unsafe(createTableSql(devicesTable))
      const rows = yield* sql.unsafe<Record<string, unknown>>(`SELECT ${copy.length > 0 ? copy.join(", ") : "rowid"} FROM ${legacyName}`)
      let copied = 0
      for (const row of rows) {
        const guid = typeof row["guid"] === "string" && row["guid"].trim() !== "" ? row["guid"].trim() : randomUUID()
        const values: Record<string, unknown> = { ...row, guid }
        if (values["key_added_at"] === undefined || values["key_added_at"] === null) values["key_added_at"] = isoFromEpoch(row["created_at"])
        if (!values["token_version"]) values["token_version"] = 1
        if (!values["status"]) values["status"] = "active"
        const names = Object.keys(values).filter((k) => known.has(k))
        const result = yield* sql.unsafe(
          `INSERT OR IGNORE INTO devices (${names.join(", ")}) VALUES (${names.map(() => "?").join(", ")})`,
          names.map((n) => values[n] as never)
        ).raw
        copied += (result as unknown as { changes: number }).changes ?? 0
      }
      if (copied === rows.length) yield* sql.unsafe(`DROP TABLE ${legacyName}`)
      return { total: rows.length, copied }
    })).pipe(Effect.ensuring(sql.unsafe("PRAGMA foreign_keys = ON").pipe(Effect.ignore)))
    if (outcome.copied === outcome.total) {
      yield* Effect.logInfo("migrations-devices-rebuilt").pipe(Effect.annotateLogs(outcome))
    } else {
      yield* Effect.logWarning("migrations-devices-rebuilt-partially").pipe(
        Effect.annotateLogs({ ...outcome, kept_table: legacyName })
      )
    }
  })

const ensureDevices = (sql: SqlClient.SqlClient) =>
  Effect.gen(function*() {
    if (yield* tableExists(sql, "devices")) {
      const pk = (yield* tableColumns(sql, "devices")).filter((c) => c.pk > 0).map((c) => c.name)
      if (pk.length !== 1 || pk[0] !== "guid") yield* rebuildDevices(sql)
    }
    yield* ensureTable(sql, devicesTable)
    yield* sql`UPDATE devices SET token_version = 1 WHERE token_version IS NULL`
    yield* sql`UPDATE devices SET status = 'active' WHERE status IS NULL OR status = ''`
    yield* ensureHostnameUniqueIgnoringCase(sql)
  })

export const HOSTNAME_INDEX = "uq_devices_hostname_ci"

/**
 * One device per hostname, whatever the letter case (`VICTIM-01` and `victim-01` are one machine to
 * Windows, to DNS and to the agents' job routing). Rows that already differ only in case are reported
 * on every start and left as they are — never merged: an operator decides which device is genuine
 * (docs/security.md). Until then the index covers every other row, and the services refuse a new
 * claim on any held hostname in any case.
 */
export const ensureHostnameUniqueIgnoringCase = (sql: SqlClient.SqlClient) =>
  Effect.gen(function*() {
    const groups = yield* sql<{ key: string; guids: string; hostnames: string }>`
      SELECT LOWER(hostname) AS key, group_concat(guid, ',') AS guids, group_concat(hostname, ',') AS hostnames
        FROM devices WHERE hostname IS NOT NULL AND hostname != ''
       GROUP BY LOWER(hostname) HAVING count(*) > 1`
    const duplicateGuids = groups.flatMap((g) => g.guids.split(","))
    for (const g of groups) {
      yield* Effect.logWarning("devices-hostname-case-duplicates").pipe(Effect.annotateLogs({
        hostname: g.key,
        hostnames: g.hostnames,
        guids: g.guids,
        resolve: "keep the genuine device; delete or revoke the other (npm run cli -- devices delete <guid>)"
      }))
    }
    const where = duplicateGuids.length === 0 ? "" : ` WHERE guid NOT IN (${duplicateGuids.map((g) => `'${g.replaceAll("'", "''")}'`).join(", ")})`
    const wanted = `CREATE UNIQUE INDEX ${HOSTNAME_INDEX} ON devices(LOWER(hostname))${where}`
    const existing = yield* sql<{ sql: string | null }>`SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ${HOSTNAME_INDEX}`
    if (existing[0]?.sql === wanted) return
    yield* sql.unsafe(`DROP INDEX IF EXISTS ${HOSTNAME_INDEX}`)
    yield* sql.unsafe(wanted)
    yield* Effect.logInfo("migrations-hostname-index").pipe(Effect.annotateLogs({ excluded_rows: duplicateGuids.length }))
  })

/**
 * A run is created at most once per (job, target, occurrence). Rows from before this rebuild may
 * already repeat a key, so the unique index covers rows created from the first migration on.
 */
const ensureRunOccurrenceKey = (sql: SqlClient.SqlClient) =>
  Effect.gen(function*() {
    const existing = yield* sql<{ n: number }>`SELECT count(*) AS n FROM sqlite_master WHERE type = 'index' AND name = 'uq_runs_job_target_occurrence'`
    if ((existing[0]?.n ?? 0) > 0) return
    const duplicates = yield* sql<{ n: number }>`
      SELECT count(*) AS n FROM (
        SELECT 1 FROM scheduled_job_runs WHERE scheduled_ts IS NOT NULL
        GROUP BY job_id, COALESCE(target_hostname, ''), scheduled_ts HAVING count(*) > 1)`
    const floor = (duplicates[0]?.n ?? 0) > 0
      ? ((yield* sql<{ m: number | null }>`SELECT max(id) AS m FROM scheduled_job_runs`)[0]?.m ?? 0)
      : 0
    yield* sql.unsafe(
      `CREATE UNIQUE INDEX uq_runs_job_target_occurrence ON scheduled_job_runs(job_id, COALESCE(target_hostname, ''), scheduled_ts) WHERE scheduled_ts IS NOT NULL AND id > ${Number(floor)}`
    )
  })

/** The audit trail refuses deletes except below the retention cutoff (an older build refused them all). */
const ensureAuditDeleteGuard = (sql: SqlClient.SqlClient) =>
  Effect.gen(function*() {
    const existing = yield* sql<{ sql: string | null }>`SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'audit_events_no_delete'`
    if (existing[0]?.sql === AUDIT_NO_DELETE_TRIGGER) return
    yield* sql.unsafe("DROP TRIGGER IF EXISTS audit_events_no_delete")
    yield* sql.unsafe(AUDIT_NO_DELETE_TRIGGER)
  })

/** Every ensure step, in the original's order (MIG-6), then this rebuild's additions. */
export const applyMigrations: Effect.Effect<void, SqlError, SqlClient.SqlClient> = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* ensureDevices(sql)
  yield* sql.withTransaction(Effect.gen(function*() {
    for (const table of TABLES) {
      if (table.name !== "devices") yield* ensureTable(sql, table)
    }
    for (const table of ADDED_TABLES) yield* ensureTable(sql, table)
    yield* ensureRunOccurrenceKey(sql)
    yield* ensureAuditDeleteGuard(sql)
    yield* ensureDefaultAdminRow(sql)
  }))
  const orphans = yield* sql.unsafe<{ table: string }>("PRAGMA foreign_key_check")
  if (orphans.length > 0) {
    const byTable: Record<string, number> = {}
    for (const row of orphans) byTable[row.table] = (byTable[row.table] ?? 0) + 1
    yield* Effect.logWarning("migrations-orphan-rows").pipe(Effect.annotateLogs(byTable))
  }
}).pipe(Effect.withSpan("Migrations.apply"))

const ensureDefaultAdminRow = (sql: SqlClient.SqlClient) =>
  Effect.gen(function*() {
    const admins = yield* sql<{ n: number }>`SELECT count(*) AS n FROM users WHERE LOWER(role) = 'admin'`
    if ((admins[0]?.n ?? 0) > 0) return
    const now = Math.floor(Date.now() / 1000)
    const named = yield* sql<{ id: number }>`SELECT id FROM users WHERE LOWER(username) = 'admin'`
    if (named.length > 0) {
      yield* sql`UPDATE users SET role = 'Admin', updated_at = ${now} WHERE LOWER(username) = 'admin'`
    } else {
      // The operators capability replaces the SHA-512 with a salted hash before anyone can log in.
      yield* sql`INSERT INTO users (username, display_name, password_sha512, role, last_login, created_at, updated_at, mfa_enabled, mfa_secret)
        VALUES (${DEFAULT_ADMIN_USERNAME}, 'Administrator', ${DEFAULT_ADMIN_PASSWORD_SHA512}, 'Admin', 0, ${now}, ${now}, 0, NULL)`
    }
  })

/**
 * The original always ensures an administrator exists, even with migrations off: the users table
 * and the `admin` row (a promotion never changes its password).
 */
export const ensureDefaultAdmin: Effect.Effect<void, SqlError, SqlClient.SqlClient> = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const users = TABLES.find((t) => t.name === "users")!
  yield* sql.withTransaction(Effect.zipRight(ensureTable(sql, users), ensureDefaultAdminRow(sql)))
  const defaults = yield* sql<{ username: string }>`
    SELECT username FROM users WHERE LOWER(role) = 'admin' AND (password_sha512 = ${DEFAULT_ADMIN_PASSWORD_SHA512} OR password_is_default = 1)`
  for (const row of defaults) {
    yield* Effect.logWarning("default-admin-password-in-use").pipe(
      Effect.annotateLogs({ username: row.username, hint: "change it: npm run cli -- users passwd admin" })
    )
  }
}).pipe(Effect.withSpan("Migrations.ensureDefaultAdmin"))

/** Bootstrap steps 4 and 6 (spec §3.2): migrations (or `migrations-skipped`), then the default admin. */
export const MigrationsLive: Layer.Layer<never, SqlError, SqlClient.SqlClient | EngineConfig> = Layer.effectDiscard(
  Effect.gen(function*() {
    const config = yield* EngineConfig
    if (config.applyMigrations) {
      yield* Effect.logInfo("migrations-start")
      yield* applyMigrations
      yield* Effect.logInfo("migrations-complete")
    } else {
      yield* Effect.logInfo("migrations-skipped")
    }
    yield* ensureDefaultAdmin
    yield* Effect.logInfo("default-admin-ensured")
  })
)
