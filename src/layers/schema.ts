// The complete schema, as data: the first-generation Engine's tables (spec: config-bootstrap-tests.md
// §4.3, MIG-6) plus the tables and columns this rebuild adds. Migrations ensure each table, column and
// index exists; nothing is dropped.

export interface ColumnDef {
  readonly name: string
  /** Declaration used by CREATE TABLE. */
  readonly decl: string
}

export interface TableDef {
  readonly name: string
  readonly columns: ReadonlyArray<ColumnDef>
  /** Table constraints appended to CREATE TABLE (foreign keys, composite keys). */
  readonly constraints?: ReadonlyArray<string>
  readonly indexes?: ReadonlyArray<string>
}

const col = (name: string, decl: string): ColumnDef => ({ name, decl })

export const devicesTable: TableDef = {
  name: "devices",
  columns: [
    col("guid", "TEXT PRIMARY KEY"),
    col("hostname", "TEXT"),
    col("description", "TEXT"),
    col("created_at", "INTEGER"),
    col("agent_hash", "TEXT"),
    col("memory", "TEXT"),
    col("network", "TEXT"),
    col("software", "TEXT"),
    col("storage", "TEXT"),
    col("cpu", "TEXT"),
    col("device_type", "TEXT"),
    col("domain", "TEXT"),
    col("external_ip", "TEXT"),
    col("internal_ip", "TEXT"),
    col("last_reboot", "TEXT"),
    col("last_seen", "INTEGER"),
    col("last_user", "TEXT"),
    col("operating_system", "TEXT"),
    col("uptime", "INTEGER"),
    col("agent_id", "TEXT"),
    col("ansible_ee_ver", "TEXT"),
    col("connection_type", "TEXT"),
    col("connection_endpoint", "TEXT"),
    col("ssl_key_fingerprint", "TEXT"),
    col("token_version", "INTEGER DEFAULT 1"),
    col("status", "TEXT DEFAULT 'active'"),
    col("key_added_at", "TEXT")
  ],
  indexes: [
    "CREATE UNIQUE INDEX IF NOT EXISTS uq_devices_hostname ON devices(hostname)",
    "CREATE INDEX IF NOT EXISTS idx_devices_ssl_key ON devices(ssl_key_fingerprint)",
    "CREATE INDEX IF NOT EXISTS idx_devices_status ON devices(status)",
    // GUIDs are compared case-insensitively (legacy rows may be lowercase); this keeps that an index lookup.
    "CREATE INDEX IF NOT EXISTS idx_devices_guid_upper ON devices(UPPER(guid))",
    // Socket events from pre-token agents and job targets match hostnames case-insensitively. (The
    // unique case-insensitive index, uq_devices_hostname_ci, is made by the migration, which first
    // reports rows that differ only in case.)
    "CREATE INDEX IF NOT EXISTS idx_devices_hostname_lower ON devices(LOWER(hostname))"
  ]
}

export const TABLES: ReadonlyArray<TableDef> = [
  devicesTable,
  {
    name: "activity_history",
    columns: [
      col("id", "INTEGER PRIMARY KEY AUTOINCREMENT"),
      col("hostname", "TEXT"),
      col("script_path", "TEXT"),
      col("script_name", "TEXT"),
      col("script_type", "TEXT"),
      col("ran_at", "INTEGER"),
      col("status", "TEXT"),
      col("stdout", "TEXT"),
      col("stderr", "TEXT"),
      // Added by this rebuild: the device a dispatch was sent to; only it may report the result.
      col("device_guid", "TEXT")
    ],
    indexes: ["CREATE INDEX IF NOT EXISTS idx_activity_history_hostname ON activity_history(hostname)"]
  },
  {
    name: "device_keys",
    columns: [
      col("id", "TEXT PRIMARY KEY"),
      col("guid", "TEXT NOT NULL"),
      col("ssl_key_fingerprint", "TEXT NOT NULL"),
      col("added_at", "TEXT NOT NULL"),
      col("retired_at", "TEXT")
    ],
    indexes: [
      "CREATE UNIQUE INDEX IF NOT EXISTS uq_device_keys_guid_fingerprint ON device_keys(guid, ssl_key_fingerprint)",
      "CREATE INDEX IF NOT EXISTS idx_device_keys_guid ON device_keys(guid)"
    ]
  },
  {
    name: "refresh_tokens",
    columns: [
      col("id", "TEXT PRIMARY KEY"),
      col("guid", "TEXT NOT NULL"),
      col("token_hash", "TEXT NOT NULL"),
      col("dpop_jkt", "TEXT"),
      col("created_at", "TEXT NOT NULL"),
      col("expires_at", "TEXT NOT NULL"),
      col("revoked_at", "TEXT"),
      col("last_used_at", "TEXT"),
      // Added by this rebuild: opt-in rotation (a family of tokens, each superseding the previous one).
      col("family_id", "TEXT"),
      col("superseded_at", "TEXT")
    ],
    indexes: [
      "CREATE INDEX IF NOT EXISTS idx_refresh_tokens_guid ON refresh_tokens(guid)",
      "CREATE INDEX IF NOT EXISTS idx_refresh_tokens_expires_at ON refresh_tokens(expires_at)",
      "CREATE INDEX IF NOT EXISTS idx_refresh_tokens_hash ON refresh_tokens(token_hash)",
      "CREATE INDEX IF NOT EXISTS idx_refresh_tokens_family ON refresh_tokens(family_id)"
    ]
  },
  {
    name: "enrollment_install_codes",
    columns: [
      col("id", "TEXT PRIMARY KEY"),
      col("code", "TEXT NOT NULL UNIQUE"),
      col("expires_at", "TEXT NOT NULL"),
      col("created_by_user_id", "TEXT"),
      col("used_at", "TEXT"),
      col("used_by_guid", "TEXT"),
      col("max_uses", "INTEGER NOT NULL DEFAULT 1"),
      col("use_count", "INTEGER NOT NULL DEFAULT 0"),
      col("last_used_at", "TEXT")
    ],
    indexes: ["CREATE INDEX IF NOT EXISTS idx_eic_expires_at ON enrollment_install_codes(expires_at)"]
  },
  {
    name: "device_approvals",
    columns: [
      col("id", "TEXT PRIMARY KEY"),
      col("approval_reference", "TEXT NOT NULL UNIQUE"),
      col("guid", "TEXT"),
      col("hostname_claimed", "TEXT NOT NULL"),
      col("ssl_key_fingerprint_claimed", "TEXT NOT NULL"),
      col("enrollment_code_id", "TEXT NOT NULL"),
      col("status", "TEXT NOT NULL"),
      col("client_nonce", "TEXT NOT NULL"),
      col("server_nonce", "TEXT NOT NULL"),
      col("agent_pubkey_der", "BLOB NOT NULL"),
      col("created_at", "TEXT NOT NULL"),
      col("updated_at", "TEXT NOT NULL"),
      col("approved_by_user_id", "TEXT")
    ],
    indexes: [
      "CREATE INDEX IF NOT EXISTS idx_da_status ON device_approvals(status)",
      "CREATE INDEX IF NOT EXISTS idx_da_fp_status ON device_approvals(ssl_key_fingerprint_claimed, status)"
    ]
  },
  {
    name: "device_list_views",
    columns: [
      col("id", "INTEGER PRIMARY KEY AUTOINCREMENT"),
      col("name", "TEXT UNIQUE NOT NULL"),
      col("columns_json", "TEXT NOT NULL"),
      col("filters_json", "TEXT"),
      col("created_at", "INTEGER"),
      col("updated_at", "INTEGER")
    ]
  },
  {
    name: "sites",
    columns: [
      col("id", "INTEGER PRIMARY KEY AUTOINCREMENT"),
      col("name", "TEXT UNIQUE NOT NULL"),
      col("description", "TEXT"),
      col("created_at", "INTEGER")
    ]
  },
  {
    name: "device_sites",
    columns: [
      col("device_hostname", "TEXT UNIQUE NOT NULL"),
      col("site_id", "INTEGER NOT NULL"),
      col("assigned_at", "INTEGER")
    ],
    constraints: ["FOREIGN KEY(site_id) REFERENCES sites(id) ON DELETE CASCADE"]
  },
  {
    name: "credentials",
    columns: [
      col("id", "INTEGER PRIMARY KEY AUTOINCREMENT"),
      col("name", "TEXT NOT NULL UNIQUE"),
      col("description", "TEXT"),
      col("site_id", "INTEGER"),
      col("credential_type", "TEXT NOT NULL DEFAULT 'machine'"),
      col("connection_type", "TEXT NOT NULL DEFAULT 'ssh'"),
      col("username", "TEXT"),
      col("password_encrypted", "BLOB"),
      col("private_key_encrypted", "BLOB"),
      col("private_key_passphrase_encrypted", "BLOB"),
      col("become_method", "TEXT"),
      col("become_username", "TEXT"),
      col("become_password_encrypted", "BLOB"),
      col("metadata_json", "TEXT"),
      col("created_at", "INTEGER NOT NULL"),
      col("updated_at", "INTEGER NOT NULL")
    ],
    constraints: ["FOREIGN KEY(site_id) REFERENCES sites(id) ON DELETE SET NULL"]
  },
  {
    name: "github_token",
    columns: [col("token", "TEXT")]
  },
  {
    name: "scheduled_jobs",
    columns: [
      col("id", "INTEGER PRIMARY KEY AUTOINCREMENT"),
      col("name", "TEXT NOT NULL"),
      col("components_json", "TEXT NOT NULL"),
      col("targets_json", "TEXT NOT NULL"),
      col("schedule_type", "TEXT NOT NULL"),
      col("start_ts", "INTEGER"),
      col("duration_stop_enabled", "INTEGER DEFAULT 0"),
      col("expiration", "TEXT"),
      col("execution_context", "TEXT NOT NULL"),
      col("credential_id", "INTEGER"),
      col("use_service_account", "INTEGER NOT NULL DEFAULT 1"),
      col("enabled", "INTEGER DEFAULT 1"),
      col("created_at", "INTEGER"),
      col("updated_at", "INTEGER"),
      // Added by this rebuild: IANA zone the calendar schedule is evaluated in (NULL = server zone).
      col("timezone", "TEXT"),
      // Added by this rebuild: the operator who created the job (a User changes only its own jobs).
      col("created_by", "TEXT")
    ]
  },
  {
    name: "scheduled_job_runs",
    columns: [
      col("id", "INTEGER PRIMARY KEY AUTOINCREMENT"),
      col("job_id", "INTEGER NOT NULL"),
      col("scheduled_ts", "INTEGER"),
      col("started_ts", "INTEGER"),
      col("finished_ts", "INTEGER"),
      col("status", "TEXT"),
      col("error", "TEXT"),
      col("created_at", "INTEGER"),
      col("updated_at", "INTEGER"),
      col("target_hostname", "TEXT")
    ],
    constraints: ["FOREIGN KEY(job_id) REFERENCES scheduled_jobs(id) ON DELETE CASCADE"],
    indexes: ["CREATE INDEX IF NOT EXISTS idx_runs_job_sched_target ON scheduled_job_runs(job_id, scheduled_ts, target_hostname)"]
  },
  {
    name: "scheduled_job_run_activity",
    columns: [
      col("id", "INTEGER PRIMARY KEY AUTOINCREMENT"),
      col("run_id", "INTEGER NOT NULL"),
      col("activity_id", "INTEGER NOT NULL"),
      col("component_kind", "TEXT"),
      col("script_type", "TEXT"),
      col("component_path", "TEXT"),
      col("component_name", "TEXT"),
      col("created_at", "INTEGER")
    ],
    constraints: ["FOREIGN KEY(run_id) REFERENCES scheduled_job_runs(id) ON DELETE CASCADE"],
    indexes: [
      "CREATE INDEX IF NOT EXISTS idx_run_activity_run ON scheduled_job_run_activity(run_id)",
      "CREATE UNIQUE INDEX IF NOT EXISTS idx_run_activity_activity ON scheduled_job_run_activity(activity_id)"
    ]
  },
  {
    name: "users",
    columns: [
      col("id", "INTEGER PRIMARY KEY AUTOINCREMENT"),
      col("username", "TEXT UNIQUE NOT NULL"),
      col("display_name", "TEXT"),
      col("password_sha512", "TEXT NOT NULL"),
      col("role", "TEXT NOT NULL DEFAULT 'Admin'"),
      col("last_login", "INTEGER"),
      col("created_at", "INTEGER"),
      col("updated_at", "INTEGER"),
      col("mfa_enabled", "INTEGER NOT NULL DEFAULT 0"),
      col("mfa_secret", "TEXT"),
      // Added by this rebuild: bumped on password reset / MFA reset so older operator tokens and
      // sessions stop working.
      col("auth_epoch", "INTEGER NOT NULL DEFAULT 0"),
      // Added by this rebuild: the salted scrypt of what the client sends (password_sha512 is emptied
      // once this is set), and whether that is still the published default password.
      col("password_hash", "TEXT"),
      col("password_is_default", "INTEGER NOT NULL DEFAULT 0")
    ]
  }
]

/** Tables this rebuild adds (none of them exist in the original). */
export const ADDED_TABLES: ReadonlyArray<TableDef> = [
  {
    // Operator browser sessions (the original kept them in Flask's signed cookie); keyed by the
    // SHA-256 of the random cookie value, so the table never holds a usable session id.
    name: "operator_sessions",
    columns: [
      col("id_hash", "TEXT PRIMARY KEY"),
      col("user_id", "INTEGER NOT NULL"),
      col("username", "TEXT NOT NULL"),
      col("auth_epoch", "INTEGER NOT NULL DEFAULT 0"),
      col("created_at", "INTEGER NOT NULL"),
      col("expires_at", "INTEGER NOT NULL"),
      col("last_seen_at", "INTEGER"),
      col("ip", "TEXT"),
      col("user_agent", "TEXT")
    ],
    indexes: [
      "CREATE INDEX IF NOT EXISTS idx_operator_sessions_user ON operator_sessions(user_id)",
      "CREATE INDEX IF NOT EXISTS idx_operator_sessions_expires ON operator_sessions(expires_at)"
    ]
  },
  {
    // Operator tokens (`borealis_auth`) revoked by logout before their 30-day expiry.
    name: "operator_token_revocations",
    columns: [col("jti", "TEXT PRIMARY KEY"), col("expires_at", "INTEGER NOT NULL")],
    indexes: ["CREATE INDEX IF NOT EXISTS idx_operator_token_revocations_expires ON operator_token_revocations(expires_at)"]
  },
  {
    // Append-only operator/security audit trail (triggers below refuse UPDATE and DELETE).
    name: "audit_events",
    columns: [
      col("id", "INTEGER PRIMARY KEY AUTOINCREMENT"),
      col("ts", "INTEGER NOT NULL"),
      col("type", "TEXT NOT NULL"),
      col("actor", "TEXT"),
      col("actor_ip", "TEXT"),
      col("target", "TEXT"),
      col("outcome", "TEXT NOT NULL DEFAULT 'success'"),
      col("details_json", "TEXT")
    ],
    indexes: [
      "CREATE INDEX IF NOT EXISTS idx_audit_ts ON audit_events(ts)",
      "CREATE INDEX IF NOT EXISTS idx_audit_type_ts ON audit_events(type, ts)",
      "CREATE INDEX IF NOT EXISTS idx_audit_actor_ts ON audit_events(actor, ts)",
      "CREATE TRIGGER IF NOT EXISTS audit_events_no_update BEFORE UPDATE ON audit_events BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END"
      // The no-delete trigger (AUDIT_NO_DELETE_TRIGGER) is kept current by the migration: it lets
      // retention remove only rows older than the configured cutoff.
    ]
  },
  {
    // The audit retention cutoff (epoch seconds): rows older than it may be deleted, no others.
    name: "audit_retention",
    columns: [col("id", "INTEGER PRIMARY KEY CHECK (id = 1)"), col("cutoff", "INTEGER NOT NULL")]
  },
  {
    // DPoP proof ids seen and not yet expired; persistent so a restart does not reopen the window.
    name: "dpop_replay",
    columns: [col("jti", "TEXT PRIMARY KEY"), col("expires_at", "INTEGER NOT NULL")],
    indexes: ["CREATE INDEX IF NOT EXISTS idx_dpop_replay_expires ON dpop_replay(expires_at)"]
  },
  {
    // Revoked credentials (operator accounts and sessions, devices), read by every Engine process so
    // each cuts the sockets it holds with them; pruned after a day.
    name: "credential_revocations",
    columns: [
      col("id", "INTEGER PRIMARY KEY AUTOINCREMENT"),
      col("kind", "TEXT NOT NULL"),
      col("subject", "TEXT NOT NULL"),
      col("reason", "TEXT NOT NULL"),
      col("at", "INTEGER NOT NULL")
    ],
    indexes: ["CREATE INDEX IF NOT EXISTS idx_credential_revocations_at ON credential_revocations(at)"]
  },
  {
    // spec: auth-enrollment.md §7 (L-purge): blocks refresh of a purged device.
    name: "device_purge_barriers",
    columns: [
      col("guid", "TEXT PRIMARY KEY"),
      col("required_token_version", "INTEGER NOT NULL"),
      col("purged_at", "TEXT NOT NULL"),
      col("purged_by", "TEXT"),
      col("last_hostname", "TEXT"),
      col("last_agent_id", "TEXT")
    ],
    indexes: ["CREATE INDEX IF NOT EXISTS idx_purge_barriers_version ON device_purge_barriers(required_token_version)"]
  },
  {
    // spec: realtime-jobs.md §6 (legacy server table for Ansible recap reports).
    name: "ansible_play_recaps",
    columns: [
      col("id", "INTEGER PRIMARY KEY AUTOINCREMENT"),
      col("run_id", "TEXT UNIQUE NOT NULL"),
      col("hostname", "TEXT"),
      col("agent_id", "TEXT"),
      col("playbook_path", "TEXT"),
      col("playbook_name", "TEXT"),
      col("scheduled_job_id", "INTEGER"),
      col("scheduled_run_id", "INTEGER"),
      col("activity_job_id", "INTEGER"),
      col("status", "TEXT"),
      col("recap_text", "TEXT"),
      col("recap_json", "TEXT"),
      col("started_ts", "INTEGER"),
      col("finished_ts", "INTEGER"),
      col("created_at", "INTEGER"),
      col("updated_at", "INTEGER"),
      // Added by this rebuild: set when the server itself sent the playbook (scheduled run or an
      // Admin's relay); only such runs take recap reports, and only for that device.
      col("dispatched_at", "INTEGER"),
      col("device_guid", "TEXT"),
      col("source", "TEXT")
    ],
    indexes: [
      "CREATE INDEX IF NOT EXISTS idx_recaps_host_created ON ansible_play_recaps(hostname, created_at)",
      "CREATE INDEX IF NOT EXISTS idx_recaps_status ON ansible_play_recaps(status)"
    ]
  }
]

/** Refuses deleting any audit row at or after the retention cutoff (no cutoff: every row). */
export const AUDIT_NO_DELETE_TRIGGER =
  "CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events WHEN OLD.ts >= COALESCE((SELECT cutoff FROM audit_retention WHERE id = 1), 0) BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END"

/** Render CREATE TABLE for a definition. */
export const createTableSql = (t: TableDef): string =>
  `CREATE TABLE IF NOT EXISTS ${t.name} (\n  ${[...t.columns.map((c) => `${c.name} ${c.decl}`), ...(t.constraints ?? [])].join(",\n  ")}\n)`

/**
 * The declaration usable by `ALTER TABLE ADD COLUMN`, which cannot add key/unique columns nor NOT NULL
 * without a default: those constraints are dropped for columns added to an existing table.
 */
export const addColumnDecl = (decl: string): string => {
  let d = decl.replace(/\bPRIMARY KEY\b|\bAUTOINCREMENT\b|\bUNIQUE\b/gi, "")
  if (/\bNOT NULL\b/i.test(d) && !/\bDEFAULT\b/i.test(d)) d = d.replace(/\bNOT NULL\b/gi, "")
  return d.replace(/\s+/g, " ").trim()
}
