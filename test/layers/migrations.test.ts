import { describe, expect, it } from "@effect/vitest"
import * as SqlClient from "@effect/sql/SqlClient"
import Sqlite from "better-sqlite3"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { applyMigrations, DEFAULT_ADMIN_PASSWORD_SHA512, ensureDefaultAdmin } from "../../src/layers/Migrations.ts"
import { ADDED_TABLES, TABLES } from "../../src/layers/schema.ts"
import { checkDatabaseFile, sqliteAt } from "../../src/layers/Sql.ts"

const dbFile = () => path.join(fs.mkdtempSync(path.join(os.tmpdir(), "mig-")), "database.db")
const run = <A, E>(file: string, effect: Effect.Effect<A, E, SqlClient.SqlClient>) =>
  effect.pipe(Effect.provide(sqliteAt(file)))

const tables = (file: string): Array<string> => {
  const db = new Sqlite(file, { readonly: true })
  try {
    return (db.prepare("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name").all() as Array<{ name: string }>).map((r) => r.name)
  } finally {
    db.close()
  }
}
const columns = (file: string, table: string): Array<string> => {
  const db = new Sqlite(file, { readonly: true })
  try {
    return (db.prepare(`PRAGMA table_info(${table})`).all() as Array<{ name: string }>).map((r) => r.name)
  } finally {
    db.close()
  }
}
const query = <T>(file: string, sql: string): Array<T> => {
  const db = new Sqlite(file, { readonly: true })
  try {
    return db.prepare(sql).all() as Array<T>
  } finally {
    db.close()
  }
}

describe("migrations (spec §4.2–§4.3)", () => {
  it.effect("a fresh file gets the complete schema, the indexes and the default admin", () =>
    Effect.gen(function*() {
      const file = dbFile()
      yield* run(file, applyMigrations)
      const names = tables(file)
      for (const t of [...TABLES, ...ADDED_TABLES]) expect(names).toContain(t.name)
      for (const t of TABLES) expect(columns(file, t.name)).toEqual(t.columns.map((c) => c.name))
      const indexes = query<{ name: string }>(file, "SELECT name FROM sqlite_master WHERE type='index'").map((r) => r.name)
      for (const i of ["uq_devices_hostname", "idx_devices_ssl_key", "idx_devices_status", "idx_eic_expires_at", "idx_da_fp_status", "idx_runs_job_sched_target", "idx_run_activity_activity", "uq_runs_job_target_occurrence"]) {
        expect(indexes).toContain(i)
      }
      const admin = query<{ username: string; role: string; password_sha512: string; display_name: string; mfa_enabled: number }>(
        file,
        "SELECT * FROM users WHERE LOWER(username) = 'admin'"
      )
      expect(admin).toHaveLength(1)
      expect(admin[0]).toMatchObject({ username: "admin", role: "Admin", display_name: "Administrator", mfa_enabled: 0 })
      expect(admin[0]!.password_sha512).toBe(createHash("sha512").update("Password").digest("hex"))
      expect(DEFAULT_ADMIN_PASSWORD_SHA512).toMatch(/^e6c83b28.*85f8bb$/)
    }))

  it.effect("running twice changes nothing and duplicates nothing", () =>
    Effect.gen(function*() {
      const file = dbFile()
      yield* run(file, applyMigrations)
      const before = query(file, "SELECT type, name, sql FROM sqlite_master ORDER BY name")
      yield* run(file, applyMigrations)
      expect(query(file, "SELECT type, name, sql FROM sqlite_master ORDER BY name")).toEqual(before)
      expect(query<{ n: number }>(file, "SELECT count(*) AS n FROM users")[0]!.n).toBe(1)
    }))

  it.effect("an older, half-migrated database keeps its rows and gains what is missing", () =>
    Effect.gen(function*() {
      const file = dbFile()
      const db = new Sqlite(file)
      // MIG-1 era: devices without several columns, install codes without use counters, no users.
      db.exec(`
        CREATE TABLE devices (guid TEXT PRIMARY KEY, hostname TEXT, created_at INTEGER, last_seen INTEGER, ssl_key_fingerprint TEXT, token_version INTEGER, status TEXT);
        INSERT INTO devices VALUES ('AAAA', 'host-a', 1700000000, 1700000100, 'fp-a', NULL, '');
        INSERT INTO devices VALUES ('BBBB', 'host-b', 1700000000, 1700000100, 'fp-b', 3, 'quarantined');
        CREATE TABLE enrollment_install_codes (id TEXT PRIMARY KEY, code TEXT NOT NULL UNIQUE, expires_at TEXT NOT NULL, created_by_user_id TEXT, used_at TEXT, used_by_guid TEXT);
        INSERT INTO enrollment_install_codes VALUES ('c1', 'ABCD', '2030-01-01T00:00:00+00:00', 'admin', NULL, NULL);
        CREATE TABLE scheduled_jobs (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, components_json TEXT NOT NULL, targets_json TEXT NOT NULL, schedule_type TEXT NOT NULL, start_ts INTEGER, duration_stop_enabled INTEGER DEFAULT 0, expiration TEXT, execution_context TEXT NOT NULL, enabled INTEGER DEFAULT 1, created_at INTEGER, updated_at INTEGER);
        INSERT INTO scheduled_jobs (name, components_json, targets_json, schedule_type, execution_context) VALUES ('job', '[]', '[]', 'once', 'system');
        CREATE TABLE scheduled_job_runs (id INTEGER PRIMARY KEY AUTOINCREMENT, job_id INTEGER NOT NULL, scheduled_ts INTEGER, started_ts INTEGER, finished_ts INTEGER, status TEXT, error TEXT, created_at INTEGER, updated_at INTEGER);
        INSERT INTO scheduled_job_runs (job_id, scheduled_ts, status) VALUES (1, 100, 'Success');
        INSERT INTO scheduled_job_runs (job_id, scheduled_ts, status) VALUES (1, 100, 'Success');
        CREATE TABLE users (id INTEGER PRIMARY KEY AUTOINCREMENT, username TEXT UNIQUE NOT NULL, display_name TEXT, password_sha512 TEXT NOT NULL, role TEXT NOT NULL DEFAULT 'Admin', last_login INTEGER, created_at INTEGER, updated_at INTEGER);
        INSERT INTO users (username, display_name, password_sha512, role) VALUES ('admin', 'Custom', 'hash', 'user');
      `)
      db.close()
      yield* run(file, applyMigrations)
      expect(columns(file, "devices")).toEqual(expect.arrayContaining(["description", "memory", "agent_id", "key_added_at", "uptime"]))
      expect(query(file, "SELECT guid, hostname, token_version, status FROM devices ORDER BY guid")).toEqual([
        { guid: "AAAA", hostname: "host-a", token_version: 1, status: "active" },
        { guid: "BBBB", hostname: "host-b", token_version: 3, status: "quarantined" }
      ])
      expect(query(file, "SELECT code, max_uses, use_count FROM enrollment_install_codes")).toEqual([{ code: "ABCD", max_uses: 1, use_count: 0 }])
      expect(columns(file, "scheduled_jobs")).toEqual(expect.arrayContaining(["credential_id", "use_service_account", "timezone"]))
      expect(columns(file, "scheduled_job_runs")).toContain("target_hostname")
      // both pre-existing duplicate runs survive; the new unique key only covers new rows
      expect(query<{ n: number }>(file, "SELECT count(*) AS n FROM scheduled_job_runs")[0]!.n).toBe(2)
      expect(columns(file, "users")).toEqual(expect.arrayContaining(["mfa_enabled", "mfa_secret"]))
      // ensure_default_admin promotes the existing admin and leaves its password alone (§6.4)
      expect(query(file, "SELECT role, password_sha512 FROM users WHERE username = 'admin'")).toEqual([{ role: "Admin", password_sha512: "hash" }])
      for (const t of ["activity_history", "device_approvals", "sites", "device_sites", "credentials", "audit_events", "dpop_replay"]) {
        expect(tables(file)).toContain(t)
      }
    }))

  it.effect("a legacy devices table keyed by hostname is rebuilt around guid without losing a row", () =>
    Effect.gen(function*() {
      const file = dbFile()
      const db = new Sqlite(file)
      db.exec(`
        CREATE TABLE devices (hostname TEXT PRIMARY KEY, guid TEXT, description TEXT, created_at INTEGER, details TEXT);
        INSERT INTO devices VALUES ('one', ' 11111111-1111-1111-1111-111111111111 ', 'first', 1700000000, '{}');
        INSERT INTO devices VALUES ('two', '', NULL, NULL, NULL);
      `)
      db.close()
      yield* run(file, applyMigrations)
      const rows = query<{ guid: string; hostname: string; description: string | null; key_added_at: string; token_version: number; status: string }>(
        file,
        "SELECT guid, hostname, description, key_added_at, token_version, status FROM devices ORDER BY hostname"
      )
      expect(rows).toHaveLength(2)
      expect(rows[0]).toMatchObject({ guid: "11111111-1111-1111-1111-111111111111", hostname: "one", description: "first", token_version: 1, status: "active" })
      expect(rows[0]!.key_added_at).toBe(new Date(1700000000 * 1000).toISOString())
      expect(rows[1]!.guid).toMatch(/^[0-9a-f-]{36}$/)
      expect(tables(file).filter((t) => t.startsWith("devices_legacy"))).toEqual([])
    }))

  it.effect("duplicate hostnames keep their rows; the unique index is reported, not forced", () =>
    Effect.gen(function*() {
      const file = dbFile()
      const db = new Sqlite(file)
      db.exec(`CREATE TABLE devices (guid TEXT PRIMARY KEY, hostname TEXT);
        INSERT INTO devices VALUES ('A', 'same'); INSERT INTO devices VALUES ('B', 'same');`)
      db.close()
      yield* run(file, applyMigrations)
      expect(query<{ n: number }>(file, "SELECT count(*) AS n FROM devices")[0]!.n).toBe(2)
    }))

  it.effect("ensureDefaultAdmin alone (auto-migrate off) creates the users table and the admin", () =>
    Effect.gen(function*() {
      const file = dbFile()
      yield* run(file, ensureDefaultAdmin)
      expect(tables(file)).toContain("users")
      expect(tables(file)).not.toContain("devices")
      expect(query(file, "SELECT username, role FROM users")).toEqual([{ username: "admin", role: "Admin" }])
    }))

  it.effect("foreign keys are enforced on every connection", () =>
    Effect.gen(function*() {
      const file = dbFile()
      const result = yield* run(file, Effect.gen(function*() {
        yield* applyMigrations
        const sql = yield* SqlClient.SqlClient
        const fk = yield* sql<{ foreign_keys: number }>`PRAGMA foreign_keys`
        const journal = yield* sql<{ journal_mode: string }>`PRAGMA journal_mode`
        const busy = yield* sql<{ timeout: number }>`PRAGMA busy_timeout`
        const sync = yield* sql<{ synchronous: number }>`PRAGMA synchronous`
        const orphan = yield* Effect.exit(sql`INSERT INTO device_sites (device_hostname, site_id) VALUES ('x', 999)`)
        return { fk: fk[0]!.foreign_keys, journal: journal[0]!.journal_mode, busy: busy[0]!.timeout, sync: sync[0]!.synchronous, orphan }
      }))
      expect(result).toMatchObject({ fk: 1, journal: "wal", busy: 5000, sync: 1 })
      expect(Exit.isFailure(result.orphan)).toBe(true)
    }))

  it.effect("a corrupt or non-database file is refused and never overwritten", () =>
    Effect.gen(function*() {
      const file = dbFile()
      fs.writeFileSync(file, "this is not a sqlite database, it is a text file".repeat(200))
      const before = fs.readFileSync(file)
      const exit = yield* Effect.exit(checkDatabaseFile(file))
      expect(Exit.isFailure(exit)).toBe(true)
      const layerExit = yield* Effect.exit(run(file, applyMigrations))
      expect(Exit.isFailure(layerExit)).toBe(true)
      expect(String(Exit.isFailure(layerExit) ? layerExit.cause : "")).toContain("file is not a database")
      expect(fs.readFileSync(file).equals(before)).toBe(true)
    }))
})
