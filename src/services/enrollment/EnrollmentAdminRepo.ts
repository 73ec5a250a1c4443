// SQL behind enrollment administration: install codes, and device approvals with the hostname
// conflict they would cause. Rows are decoded by schema; `EnrollmentAdminRepo.Test` keeps the same
// rules in memory for tests of EnrollmentAdmin without SQLite.
// spec: auth-enrollment.md §1.6, §2.4; config-bootstrap-tests.md §6.10
import * as SqlClient from "@effect/sql/SqlClient"
import * as SqlSchema from "@effect/sql/SqlSchema"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import * as Row from "../../layers/sqlRows.ts"
import { normalizeGuid } from "../devices/identity.ts"
import { changes, transactionally } from "../sqlResult.ts"
import { DAY_MS, isoUtc, parseIsoUtc } from "../time.ts"
import { approvalStatusOf, type DeviceApprovalRecord, type HostnameConflict, isoOrNull } from "./adminRecords.ts"


const InstallCodeRow = Schema.Struct({
  id: Row.Text,
  code: Row.Text,
  expires_at: Row.Nullable(Row.TimestampText),
  created_by_user_id: Row.Nullable(Row.Text),
  used_at: Row.Nullable(Row.TimestampText),
  used_by_guid: Row.Nullable(Row.Text),
  max_uses: Row.Nullable(Row.Num),
  use_count: Row.Nullable(Row.Num),
  last_used_at: Row.Nullable(Row.TimestampText)
})
export type InstallCodeRow = typeof InstallCodeRow.Type

const ApprovalRow = Schema.Struct({
  id: Row.Text,
  approval_reference: Row.Nullable(Row.Text),
  guid: Row.Nullable(Row.Text),
  hostname_claimed: Row.Nullable(Row.Text),
  ssl_key_fingerprint_claimed: Row.Nullable(Row.Text),
  // Ids the original may have written as numbers.
  enrollment_code_id: Row.Nullable(Row.Scalar),
  status: Row.Nullable(Row.Text),
  client_nonce: Row.Nullable(Row.Text),
  server_nonce: Row.Nullable(Row.Text),
  created_at: Row.Nullable(Row.TimestampText),
  updated_at: Row.Nullable(Row.TimestampText),
  approved_by_user_id: Row.Nullable(Row.Scalar),
  approved_by_username: Row.Nullable(Row.Text)
})
type ApprovalRow = typeof ApprovalRow.Type

/** The device holding a hostname, with its site. */
const HolderRow = Schema.Struct({
  guid: Row.Nullable(Row.Text),
  ssl_key_fingerprint: Row.Nullable(Row.Text),
  site_id: Row.Nullable(Row.Num),
  site_name: Row.Nullable(Row.Text)
})
type HolderRow = typeof HolderRow.Type

const IdRow = Schema.Struct({ id: Row.Num })

const APPROVAL_SELECT = `SELECT da.id, da.approval_reference, da.guid, da.hostname_claimed, da.ssl_key_fingerprint_claimed,
       da.enrollment_code_id, da.status, da.client_nonce, da.server_nonce, da.created_at, da.updated_at,
       da.approved_by_user_id,
       (SELECT u.username FROM users u
         WHERE CAST(da.approved_by_user_id AS TEXT) = CAST(u.id AS TEXT) OR LOWER(da.approved_by_user_id) = LOWER(u.username)
         ORDER BY u.id LIMIT 1) AS approved_by_username
  FROM device_approvals da`

const textOrNull = (v: unknown): string | null => {
  const s = typeof v === "string" ? v.trim() : v === null || v === undefined ? "" : String(v).trim()
  return s === "" ? null : s
}

/** A decision on a still-pending approval. */
interface Decision {
  readonly status: "approved" | "denied"
  readonly updatedAt: string
  readonly approvedBy: string
  readonly guid: string | null
}

/** The conflict a claimed hostname causes with the device holding it, unless that device is the approval's own GUID. */
const conflictWith = (holder: HolderRow | undefined, pendingGuid: string | null, claimedFingerprint: string): Option.Option<HostnameConflict> => {
  if (holder === undefined) return Option.none()
  const existing = normalizeGuid(holder.guid ?? "")
  const pending = normalizeGuid(pendingGuid ?? "")
  if (existing !== "" && pending !== "" && existing === pending) return Option.none()
  const stored = (holder.ssl_key_fingerprint ?? "").trim().toLowerCase()
  const claimed = claimedFingerprint.trim().toLowerCase()
  const fingerprintMatch = stored !== "" && claimed !== "" && stored === claimed
  return Option.some({
    guid: existing === "" ? null : existing,
    ssl_key_fingerprint: stored === "" ? null : stored,
    site_id: holder.site_id,
    site_name: (holder.site_name ?? "").trim(),
    fingerprint_match: fingerprintMatch,
    requires_prompt: !fingerprintMatch
  })
}

/** The claimed hostname, else `host-1` … `host-50` — the first not held by another device. */
const alternateHostname = <E, R>(
  hostname: string,
  pendingGuid: string | null,
  holderOf: (candidate: string) => Effect.Effect<Option.Option<{ readonly guid: string | null }>, E, R>
) =>
  Effect.gen(function*() {
    const base = hostname.trim().slice(0, 253)
    if (base === "") return Option.none<string>()
    const pending = normalizeGuid(pendingGuid ?? "")
    for (let suffix = 0; suffix <= 50; suffix++) {
      const candidate = suffix === 0 ? base : `${base}-${suffix}`
      const holder = yield* holderOf(candidate)
      if (Option.isNone(holder)) return Option.some(candidate)
      if (pending !== "" && normalizeGuid(holder.value.guid ?? "") === pending) return Option.some(candidate)
    }
    return pending === "" ? Option.some(`${base}-51`) : Option.some(pending)
  })

/** An approval as the admin API shows it, with the conflict its hostname causes. */
const toRecord = <E, R>(
  row: ApprovalRow,
  holderOf: (hostname: string) => Effect.Effect<Option.Option<HolderRow>, E, R>
) =>
  Effect.gen(function*() {
    const hostname = (row.hostname_claimed ?? "").trim()
    const fingerprint = (row.ssl_key_fingerprint_claimed ?? "").trim().toLowerCase()
    const holder = hostname === "" ? Option.none<HolderRow>() : yield* holderOf(hostname)
    const conflict = conflictWith(Option.getOrUndefined(holder), row.guid, fingerprint)
    const requiresPrompt = Option.isSome(conflict) && conflict.value.requires_prompt
    const alternate = requiresPrompt ? yield* alternateHostname(hostname, row.guid, holderOf) : Option.none<string>()
    const guid = normalizeGuid(row.guid ?? "")
    const record: DeviceApprovalRecord = {
      id: row.id.trim(),
      approval_reference: (row.approval_reference ?? "").trim(),
      status: (row.status ?? "").trim().toLowerCase() || "pending",
      hostname_claimed: hostname,
      ssl_key_fingerprint_claimed: fingerprint,
      created_at: isoOrNull(row.created_at),
      updated_at: isoOrNull(row.updated_at),
      enrollment_code_id: textOrNull(row.enrollment_code_id),
      guid: guid === "" ? null : guid,
      approved_by_user_id: textOrNull(row.approved_by_user_id),
      approved_by_username: textOrNull(row.approved_by_username),
      client_nonce: (row.client_nonce ?? "").trim(),
      server_nonce: (row.server_nonce ?? "").trim(),
      conflict_requires_prompt: requiresPrompt,
      fingerprint_match: Option.isSome(conflict) && conflict.value.fingerprint_match,
      ...(Option.isSome(conflict) ? { hostname_conflict: conflict.value } : {}),
      ...(Option.isSome(alternate) && alternate.value !== "" ? { alternate_hostname: alternate.value } : {})
    }
    return { record, conflict }
  })

/** What `EnrollmentAdminRepo.Test` starts with. */
export interface EnrollmentAdminTestData {
  readonly codes?: ReadonlyArray<InstallCodeRow>
  /** Approvals as stored (who approved is resolved against `users`, as the SQL does). */
  readonly approvals?: ReadonlyArray<Omit<ApprovalRow, "approved_by_username">>
  /** Devices holding hostnames (matched case-insensitively), with their site. */
  readonly devices?: ReadonlyArray<{ readonly hostname: string } & HolderRow>
  readonly users?: ReadonlyArray<{ readonly id: number; readonly username: string }>
}

export class EnrollmentAdminRepo extends Effect.Service<EnrollmentAdminRepo>()("borealis/EnrollmentAdminRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    /** An action and its audit record commit together; a failing database is a defect (503 at the edge). */
    const transaction = <A, E, R>(effect: Effect.Effect<A, E, R>) => transactionally(sql, effect)

    const codeRows = SqlSchema.findAll({
      Request: Schema.Void,
      Result: InstallCodeRow,
      execute: () => sql`SELECT id, code, expires_at, created_by_user_id, used_at, used_by_guid, max_uses, use_count, last_used_at
        FROM enrollment_install_codes`
    })
    const listCodes = codeRows(undefined).pipe(Effect.orDie)

    const codeRow = SqlSchema.findOne({
      Request: Schema.String,
      Result: InstallCodeRow,
      execute: (id) => sql`SELECT id, code, expires_at, created_by_user_id, used_at, used_by_guid, max_uses, use_count, last_used_at
        FROM enrollment_install_codes WHERE id = ${id}`
    })
    const getCode = (id: string) => codeRow(id).pipe(Effect.orDie)

    const insertCode = (row: { readonly id: string; readonly code: string; readonly expires_at: string; readonly created_by_user_id: string | null; readonly max_uses: number }) =>
      sql`INSERT INTO enrollment_install_codes (id, code, expires_at, created_by_user_id, max_uses, use_count)
        VALUES (${row.id}, ${row.code}, ${row.expires_at}, ${row.created_by_user_id}, ${row.max_uses}, 0)`.pipe(Effect.asVoid, Effect.orDie)

    /** Only a code nobody has used yet can be deleted. */
    const deleteUnusedCode = (id: string) =>
      changes(sql`DELETE FROM enrollment_install_codes WHERE id = ${id} AND COALESCE(use_count, 0) = 0`).pipe(Effect.orDie)

    /** The device holding a hostname (in any letter case), with its site. */
    const holderOf = SqlSchema.findOne({
      Request: Schema.String,
      Result: HolderRow,
      execute: (hostname) => sql`SELECT d.guid, d.ssl_key_fingerprint, ds.site_id, s.name AS site_name
            FROM devices d
       LEFT JOIN device_sites ds ON ds.device_hostname = d.hostname
       LEFT JOIN sites s ON s.id = ds.site_id
           WHERE LOWER(d.hostname) = LOWER(${hostname})`
    })

    const approvalRows = SqlSchema.findAll({
      Request: Schema.UndefinedOr(Schema.String),
      Result: ApprovalRow,
      execute: (status) =>
        status === undefined
          ? sql.unsafe(`${APPROVAL_SELECT} ORDER BY da.created_at ASC`)
          : sql.unsafe(`${APPROVAL_SELECT} WHERE LOWER(da.status) = ? ORDER BY da.created_at ASC`, [status])
    })
    const approvalRow = SqlSchema.findOne({ Request: Schema.String, Result: ApprovalRow, execute: (id) => sql.unsafe(`${APPROVAL_SELECT} WHERE da.id = ?`, [id]) })

    /** Every approval (or those with one status), oldest first. */
    const listApprovals = (status: string | undefined) =>
      Effect.flatMap(approvalRows(status), (rows) => Effect.forEach(rows, (row) => Effect.map(toRecord(row, holderOf), (r) => r.record))).pipe(
        Effect.orDie
      )

    const getApproval = (id: string) =>
      Effect.flatMap(approvalRow(id), Option.match({
        onNone: () => Effect.succeed(Option.none<{ readonly record: DeviceApprovalRecord; readonly conflict: Option.Option<HostnameConflict> }>()),
        onSome: (row) => Effect.map(toRecord(row, holderOf), Option.some)
      })).pipe(Effect.orDie)

    /** Moves a still-pending approval on; 0 when it was no longer pending (a concurrent decision). */
    const decide = (id: string, input: Decision) =>
      changes(sql`UPDATE device_approvals
           SET status = ${input.status}, updated_at = ${input.updatedAt},
               guid = COALESCE(${input.guid}, guid),
               approved_by_user_id = COALESCE(${input.approvedBy}, approved_by_user_id)
         WHERE id = ${id} AND (LOWER(status) = 'pending' OR LOWER(status) NOT IN ('approved', 'denied', 'completed', 'expired'))`).pipe(
        Effect.orDie
      )

    const userId = SqlSchema.findOne({
      Request: Schema.String,
      Result: IdRow,
      execute: (username) => sql`SELECT id FROM users WHERE LOWER(username) = LOWER(${username}) ORDER BY id LIMIT 1`
    })
    /** A user's id as text (the original stores ids in `*_by_user_id`), or none. */
    const userIdentifier = (username: string) => userId(username).pipe(Effect.map(Option.map((r) => String(r.id))), Effect.orDie)

    /**
     * Housekeeping (the original's daily prune, S-prune): install codes a day past expiry go; pending
     * approvals older than a day expire; denied and expired approvals go after 30 days. ISO times are
     * compared by their first 19 characters (both the original's and this server's spellings sort so).
     */
    const prune = (nowMs: number) =>
      Effect.gen(function*() {
        const at = (ms: number) => isoUtc(ms).slice(0, 19)
        const codes = yield* changes(sql`DELETE FROM enrollment_install_codes WHERE substr(expires_at, 1, 19) < ${at(nowMs - DAY_MS)}`)
        const expired = yield* changes(sql`UPDATE device_approvals SET status = 'expired', updated_at = ${isoUtc(nowMs)}
          WHERE status = 'pending' AND substr(created_at, 1, 19) < ${at(nowMs - DAY_MS)}`)
        const approvals = yield* changes(sql`DELETE FROM device_approvals
          WHERE status IN ('denied', 'expired') AND substr(updated_at, 1, 19) < ${at(nowMs - 30 * DAY_MS)}`)
        return { install_codes: codes, approvals_expired: expired, approvals: approvals }
      }).pipe(Effect.orDie)

    return { transaction, listCodes, getCode, insertCode, deleteUnusedCode, listApprovals, getApproval, decide, userIdentifier, prune } as const
  })
}) {
  /**
   * In memory, with the SQL's rules (case-insensitive hostnames and usernames, pending-only
   * decisions, the prune's cut-offs); transactions are a no-op. For tests of EnrollmentAdmin's rules.
   */
  static readonly Test = (data: EnrollmentAdminTestData = {}): Layer.Layer<EnrollmentAdminRepo> =>
    Layer.effect(
      EnrollmentAdminRepo,
      Effect.gen(function*() {
        const codes = yield* Ref.make<ReadonlyArray<InstallCodeRow>>(data.codes ?? [])
        const approvals = yield* Ref.make(data.approvals ?? [])
        const devices = data.devices ?? []
        const users = data.users ?? []
        const lower = (s: string | null) => (s ?? "").toLowerCase()
        const holderOf = (hostname: string) =>
          Effect.succeed(Option.fromNullable(devices.find((d) => d.hostname.toLowerCase() === hostname.toLowerCase())))
        const withApprover = (row: Omit<ApprovalRow, "approved_by_username">): ApprovalRow => {
          const by = row.approved_by_user_id === null ? "" : String(row.approved_by_user_id)
          const user = users.find((u) => String(u.id) === by || u.username.toLowerCase() === by.toLowerCase())
          return { ...row, approved_by_username: user?.username ?? null }
        }
        const byCreation = (a: { readonly created_at: string | null }, b: { readonly created_at: string | null }) =>
          (a.created_at ?? "").localeCompare(b.created_at ?? "")
        const sinceMs = (ts: string | null) => parseIsoUtc(ts) ?? 0
        return EnrollmentAdminRepo.make({
          transaction: (effect) => effect,
          listCodes: Ref.get(codes),
          getCode: (id) => Effect.map(Ref.get(codes), (all) => Option.fromNullable(all.find((c) => c.id === id))),
          insertCode: (row) =>
            Ref.update(codes, (all) => [
              ...all,
              { ...row, used_at: null, used_by_guid: null, use_count: 0, last_used_at: null }
            ]),
          deleteUnusedCode: (id) =>
            Ref.modify(codes, (all) => {
              const kept = all.filter((c) => !(c.id === id && (c.use_count ?? 0) === 0))
              return [all.length - kept.length, kept]
            }),
          listApprovals: (status) =>
            Effect.flatMap(Ref.get(approvals), (all) =>
              Effect.forEach(
                [...all].filter((a) => status === undefined || lower(a.status) === status).sort(byCreation),
                (row) => Effect.map(toRecord(withApprover(row), holderOf), (r) => r.record)
              )),
          getApproval: (id) =>
            Effect.flatMap(Ref.get(approvals), (all) => {
              const row = all.find((a) => a.id === id)
              return row === undefined ? Effect.succeed(Option.none()) : Effect.map(toRecord(withApprover(row), holderOf), Option.some)
            }),
          decide: (id, input) =>
            Ref.modify(approvals, (all) => {
              const target = all.find((a) => a.id === id && approvalStatusOf(a.status) === "pending")
              if (target === undefined) return [0, all]
              const decided = {
                ...target,
                status: input.status,
                updated_at: input.updatedAt,
                guid: input.guid ?? target.guid,
                approved_by_user_id: input.approvedBy
              }
              return [1, all.map((a) => (a === target ? decided : a))]
            }),
          userIdentifier: (username) =>
            Effect.succeed(Option.map(Option.fromNullable(users.find((u) => u.username.toLowerCase() === username.toLowerCase())), (u) => String(u.id))),
          prune: (nowMs) =>
            Effect.gen(function*() {
              const removedCodes = yield* Ref.modify(codes, (all) => {
                const kept = all.filter((c) => c.expires_at === null || sinceMs(c.expires_at) >= nowMs - DAY_MS)
                return [all.length - kept.length, kept]
              })
              const expired = yield* Ref.modify(approvals, (all) => {
                const stale = (a: (typeof all)[number]) => a.status === "pending" && sinceMs(a.created_at) < nowMs - DAY_MS
                return [all.filter(stale).length, all.map((a) => (stale(a) ? { ...a, status: "expired", updated_at: isoUtc(nowMs) } : a))]
              })
              const removed = yield* Ref.modify(approvals, (all) => {
                const kept = all.filter((a) => !((a.status === "denied" || a.status === "expired") && sinceMs(a.updated_at) < nowMs - 30 * DAY_MS))
                return [all.length - kept.length, kept]
              })
              return { install_codes: removedCodes, approvals_expired: expired, approvals: removed }
            })
        })
      })
    )
}
