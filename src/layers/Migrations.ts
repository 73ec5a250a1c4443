// Idempotent "ensure" migrations, as the original: no version table, every step safe to repeat, on a
// fresh file or on a database the Python Engine created or left half-migrated. Nothing is dropped.
// spec: config-bootstrap-tests.md §4.2–§4.3
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as SqlSchema from "@effect/sql/SqlSchema"
import type * as Statement from "@effect/sql/Statement"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { createHash, randomUUID } from "node:crypto"
import { EngineConfig } from "./Config.ts"
import { ADDED_TABLES, addColumnDecl, AUDIT_NO_DELETE_TRIGGER, createTableSql, devicesTable, TABLES, type TableDef } from "./schema.ts"
import * as Row from "./sqlRows.ts"

export const DEFAULT_ADMIN_USERNAME = "admin"
export const DEFAULT_ADMIN_PASSWORD_SHA512 = createHash("sha512").update("Password").digest("hex")

/** `PRAGMA table_info`: the columns read here (name, and its place in the primary key, 0 = none). */
const TableColumn = Schema.Struct({ name: Row.Text, pk: Row.Num })
/** A legacy `devices` row, whatever columns it has. */
const LegacyRow = Schema.Record({ key: Schema.String, value: Schema.Unknown })
/** What a write reports (`statement.raw`: better-sqlite3's RunResult). */
const WriteResult = Schema.Struct({ changes: Row.Num })
const CaseDuplicates = Schema.Struct({ key: Row.Text, guids: Row.Text, hostnames: Row.Text })
const Definition = Schema.Struct({ sql: Row.Nullable(Row.Text) })
const SchemaObject = Schema.Struct({ type: Schema.Literal("table", "index", "trigger"), name: Schema.String })
type SchemaObject = typeof SchemaObject.Type

/** Our own row schemas not matching is a bug, not a database problem: a defect; SQL failures stay failures. */
const decoded = <A, R>(effect: Effect.Effect<A, SqlError | ParseResult.ParseError, R>): Effect.Effect<A, SqlError, R> =>
  Effect.catchIf(effect, ParseResult.isParseError, (error) => Effect.die(error))

/** The reads the migrations make, each decoded by its row schema; built once per run. */
const makeCatalog = (sql: SqlClient.SqlClient) => {
  const counter = <I>(Request: Schema.Schema<I>, execute: (request: I) => Effect.Effect<ReadonlyArray<unknown>, SqlError>) => {
    const first = SqlSchema.findOne({ Request, Result: Row.CountRow, execute })
    return (request: I) => decoded(Effect.map(first(request), Option.match({ onNone: () => 0, onSome: (row) => row.n })))
  }
  const tableCount = counter(Schema.String, (table) => sql`SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = ${table}`)
  const columns = SqlSchema.findAll({ Request: Schema.String, Result: TableColumn, execute: (table) => sql.unsafe(`PRAGMA table_info(${table})`) })
  const definition = SqlSchema.findOne({
    Request: SchemaObject,
    Result: Definition,
    execute: ({ name, type }) => sql`SELECT sql FROM sqlite_master WHERE type = ${type} AND name = ${name}`
  })
  const legacyRows = SqlSchema.findAll({ Request: Schema.String, Result: LegacyRow, execute: (query) => sql.unsafe(query) })
  const written = Schema.decodeUnknown(WriteResult)
  const caseDuplicates = SqlSchema.findAll({
    Request: Schema.Void,
    Result: CaseDuplicates,
    execute: () =>
      sql`SELECT LOWER(hostname) AS key, group_concat(guid, ',') AS guids, group_concat(hostname, ',') AS hostnames
            FROM devices WHERE hostname IS NOT NULL AND hostname != ''
           GROUP BY LOWER(hostname) HAVING count(*) > 1`
  })
  const runKeyDuplicates = counter(Schema.Void, () =>
    sql`SELECT count(*) AS n FROM (
          SELECT 1 FROM scheduled_job_runs WHERE scheduled_ts IS NOT NULL
          GROUP BY job_id, COALESCE(target_hostname, ''), scheduled_ts HAVING count(*) > 1)`)
  const maxRunId = SqlSchema.findOne({
    Request: Schema.Void,
    Result: Schema.Struct({ m: Row.Nullable(Row.Num) }),
    execute: () => sql`SELECT max(id) AS m FROM scheduled_job_runs`
  })
  const orphans = SqlSchema.findAll({ Request: Schema.Void, Result: Schema.Struct({ table: Row.Text }), execute: () => sql.unsafe("PRAGMA foreign_key_check") })
  const adminCount = counter(Schema.Void, () => sql`SELECT count(*) AS n FROM users WHERE LOWER(role) = 'admin'`)
  const namedAdmins = SqlSchema.findAll({
    Request: Schema.Void,
    Result: Schema.Struct({ id: Row.Num }),
    execute: () => sql`SELECT id FROM users WHERE LOWER(username) = 'admin'`
  })
  const defaultPasswordAdmins = SqlSchema.findAll({
    Request: Schema.Void,
    Result: Schema.Struct({ username: Row.Text }),
    execute: () =>
      sql`SELECT username FROM users WHERE LOWER(role) = 'admin' AND (password_sha512 = ${DEFAULT_ADMIN_PASSWORD_SHA512} OR password_is_default = 1)`
  })
  return {
    sql,
    tableExists: (table: string) => Effect.map(tableCount(table), (n) => n > 0),
    tableColumns: (table: string) => decoded(columns(table)),
    /** The stored definition of a table, index or trigger (`none`: no such object; `some(null)`: none stored). */
    definitionOf: (type: SchemaObject["type"], name: string) => decoded(Effect.map(definition({ type, name }), Option.map((row) => row.sql))),
    legacyRows: (query: string) => decoded(legacyRows(query)),
    /** Rows a write changed. */
    changes: (statement: Statement.Statement<object>) => decoded(Effect.map(Effect.flatMap(statement.raw, written), (r) => r.changes)),
    caseDuplicates: decoded(caseDuplicates(undefined)),
    runKeyDuplicates: runKeyDuplicates(undefined),
    maxRunId: decoded(Effect.map(maxRunId(undefined), (row) => Option.getOrUndefined(row)?.m ?? 0)),
    orphans: decoded(orphans(undefined)),
    adminCount: adminCount(undefined),
    namedAdmins: decoded(namedAdmins(undefined)),
    defaultPasswordAdmins: decoded(defaultPasswordAdmins(undefined))
  }
}
type Catalog = ReturnType<typeof makeCatalog>

/** Indexes can fail on legacy data (duplicate hostnames); that is reported, never fatal or destructive. */
const ensureIndexes = (db: Catalog, t: TableDef) =>
  Effect.forEach(t.indexes ?? [], (statement) =>
    db.sql.unsafe(statement).pipe(
      Effect.catchAll((error) =>
        Effect.logWarning("migrations-index-skipped").pipe(
          Effect.annotateLogs({ table: t.name, statement, reason: String(error.cause) })
        )
      )
    ), { discard: true })

const ensureTable = (db: Catalog, t: TableDef) =>
  Effect.gen(function*() {
    if (!(yield* db.tableExists(t.name))) {
      yield* db.sql.unsafe(createTableSql(t))
    } else {
      const present = new Set((yield* db.tableColumns(t.name)).map((c) => c.name.toLowerCase()))
      for (const column of t.columns) {
        if (present.has(column.name.toLowerCase())) continue
        yield* db.sql.unsafe(`ALTER TABLE ${t.name} ADD COLUMN ${column.name} ${addColumnDecl(column.decl)}`)
        yield* Effect.logInfo("migrations-column-added").pipe(Effect.annotateLogs({ table: t.name, column: column.name }))
      }
    }
    yield* ensureIndexes(db, t)
  })

const isoFromEpoch = (value: unknown): string => {
  const n = typeof value === "number" ? value : Number(value)
  return new Date(Number.isFinite(n) && n > 0 ? n * 1000 : Date.now()).toISOString()
}

/**
 * A `devices` table whose primary key is not `guid` (the legacy server keyed it by hostname) is
 * rebuilt: rows are copied into the new shape, and the old table is dropped only when every row made it.
 */
const rebuildDevices = (db: Catalog) =>
  Effect.gen(function*() {
    const { sql } = db
    const legacyColumns = (yield* db.tableColumns("devices")).map((c) => c.name)
    const known = new Set(devicesTable.columns.map((c) => c.name))
    const copy = legacyColumns.filter((c) => known.has(c))
    const legacyName = `devices_legacy_${Date.now()}`
    yield* sql.unsafe("PRAGMA foreign_keys = OFF")
    const outcome = yield* sql.withTransaction(Effect.gen(function*() {
      yield* sql.unsafe(`ALTER TABLE devices RENAME TO ${legacyName}`)
      yield* sql.unsafe(createTableSql(devicesTable))
      const rows = yield* db.legacyRows(`SELECT ${copy.length > 0 ? copy.join(", ") : "rowid"} FROM ${legacyName}`)
      let copied = 0
      for (const row of rows) {
        const legacyGuid = row["guid"]
        const guid = typeof legacyGuid === "string" && legacyGuid.trim() !== "" ? legacyGuid.trim() : randomUUID()
        const values: Record<string, unknown> = { ...row, guid }
        if (values["key_added_at"] === undefined || values["key_added_at"] === null) values["key_added_at"] = isoFromEpoch(row["created_at"])
        if (!values["token_version"]) values["token_version"] = 1
        if (!values["status"]) values["status"] = "active"
        const names = Object.keys(values).filter((k) => known.has(k))
        copied += yield* db.changes(sql.unsafe(
          `INSERT OR IGNORE INTO devices (${names.join(", ")}) VALUES (${names.map(() => "?").join(", ")})`,
          names.map((n) => values[n])
        ))
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

const ensureDevices = (db: Catalog) =>
  Effect.gen(function*() {
    if (yield* db.tableExists("devices")) {
      const pk = (yield* db.tableColumns("devices")).filter((c) => c.pk > 0).map((c) => c.name)
      if (pk.length !== 1 || pk[0] !== "guid") yield* rebuildDevices(db)
    }
    yield* ensureTable(db, devicesTable)
    yield* db.sql`UPDATE devices SET token_version = 1 WHERE token_version IS NULL`
    yield* db.sql`UPDATE devices SET status = 'active' WHERE status IS NULL OR status = ''`
    yield* ensureHostnameUniqueIgnoringCase(db)
  })

const HOSTNAME_INDEX = "uq_devices_hostname_ci"

/**
 * One device per hostname, whatever the letter case (`VICTIM-01` and `victim-01` are one machine to
 * Windows, to DNS and to the agents' job routing). Rows that already differ only in case are reported
 * on every start and left as they are — never merged: an operator decides which device is genuine
 * (docs/security.md). Until then the index covers every other row, and the services refuse a new
 * claim on any held hostname in any case.
 */
const ensureHostnameUniqueIgnoringCase = (db: Catalog) =>
  Effect.gen(function*() {
    const groups = yield* db.caseDuplicates
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
    if (Option.getOrUndefined(yield* db.definitionOf("index", HOSTNAME_INDEX)) === wanted) return
    yield* db.sql.unsafe(`DROP INDEX IF EXISTS ${HOSTNAME_INDEX}`)
    yield* db.sql.unsafe(wanted)
    yield* Effect.logInfo("migrations-hostname-index").pipe(Effect.annotateLogs({ excluded_rows: duplicateGuids.length }))
  })

/**
 * A run is created at most once per (job, target, occurrence). Rows from before this rebuild may
 * already repeat a key, so the unique index covers rows created from the first migration on.
 */
const ensureRunOccurrenceKey = (db: Catalog) =>
  Effect.gen(function*() {
    if (Option.isSome(yield* db.definitionOf("index", "uq_runs_job_target_occurrence"))) return
    const floor = (yield* db.runKeyDuplicates) > 0 ? yield* db.maxRunId : 0
    yield* db.sql.unsafe(
      `CREATE UNIQUE INDEX uq_runs_job_target_occurrence ON scheduled_job_runs(job_id, COALESCE(target_hostname, ''), scheduled_ts) WHERE scheduled_ts IS NOT NULL AND id > ${Number(floor)}`
    )
  })

/** The audit trail refuses deletes except below the retention cutoff (an older build refused them all). */
const ensureAuditDeleteGuard = (db: Catalog) =>
  Effect.gen(function*() {
    if (Option.getOrUndefined(yield* db.definitionOf("trigger", "audit_events_no_delete")) === AUDIT_NO_DELETE_TRIGGER) return
    yield* db.sql.unsafe("DROP TRIGGER IF EXISTS audit_events_no_delete")
    yield* db.sql.unsafe(AUDIT_NO_DELETE_TRIGGER)
  })

/** Every ensure step, in the original's order (MIG-6), then this rebuild's additions. */
export const applyMigrations: Effect.Effect<void, SqlError, SqlClient.SqlClient> = Effect.gen(function*() {
  const db = makeCatalog(yield* SqlClient.SqlClient)
  yield* ensureDevices(db)
  yield* db.sql.withTransaction(Effect.gen(function*() {
    for (const table of TABLES) {
      if (table.name !== "devices") yield* ensureTable(db, table)
    }
    for (const table of ADDED_TABLES) yield* ensureTable(db, table)
    yield* ensureRunOccurrenceKey(db)
    yield* ensureAuditDeleteGuard(db)
    yield* ensureDefaultAdminRow(db)
  }))
  const orphans = yield* db.orphans
  if (orphans.length > 0) {
    const byTable: Record<string, number> = {}
    for (const row of orphans) byTable[row.table] = (byTable[row.table] ?? 0) + 1
    yield* Effect.logWarning("migrations-orphan-rows").pipe(Effect.annotateLogs(byTable))
  }
}).pipe(Effect.withSpan("Migrations.apply"))

const ensureDefaultAdminRow = (db: Catalog) =>
  Effect.gen(function*() {
    if ((yield* db.adminCount) > 0) return
    const now = Math.floor(Date.now() / 1000)
    if ((yield* db.namedAdmins).length > 0) {
      yield* db.sql`UPDATE users SET role = 'Admin', updated_at = ${now} WHERE LOWER(username) = 'admin'`
    } else {
      // The operators capability replaces the SHA-512 with a salted hash before anyone can log in.
      yield* db.sql`INSERT INTO users (username, display_name, password_sha512, role, last_login, created_at, updated_at, mfa_enabled, mfa_secret)
        VALUES (${DEFAULT_ADMIN_USERNAME}, 'Administrator', ${DEFAULT_ADMIN_PASSWORD_SHA512}, 'Admin', 0, ${now}, ${now}, 0, NULL)`
    }
  })

const usersTable = TABLES.find((t) => t.name === "users")

/**
 * The original always ensures an administrator exists, even with migrations off: the users table
 * and the `admin` row (a promotion never changes its password).
 */
export const ensureDefaultAdmin: Effect.Effect<void, SqlError, SqlClient.SqlClient> = Effect.gen(function*() {
  const db = makeCatalog(yield* SqlClient.SqlClient)
  if (usersTable === undefined) return yield* Effect.dieMessage("schema.ts has no users table")
  yield* db.sql.withTransaction(Effect.zipRight(ensureTable(db, usersTable), ensureDefaultAdminRow(db)))
  for (const row of yield* db.defaultPasswordAdmins) {
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
