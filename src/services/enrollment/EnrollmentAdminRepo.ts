// SQL behind enrollment administration: install codes, and device approvals with the hostname
// conflict they would cause. spec: auth-enrollment.md §1.6, §2.4; config-bootstrap-tests.md §6.10
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { normalizeGuid } from "../devices/identity.ts"
import { changes } from "../sqlResult.ts"
import { isoUtc } from "../time.ts"
import { type DeviceApprovalRecord, type HostnameConflict, isoOrNull } from "./adminRecords.ts"

const DAY_MS = 86_400_000

export interface InstallCodeRow {
  readonly id: string
  readonly code: string
  readonly expires_at: string | null
  readonly created_by_user_id: string | null
  readonly used_at: string | null
  readonly used_by_guid: string | null
  readonly max_uses: number | null
  readonly use_count: number | null
  readonly last_used_at: string | null
}

export interface ApprovalRow {
  readonly id: string
  readonly approval_reference: string
  readonly guid: string | null
  readonly hostname_claimed: string | null
  readonly ssl_key_fingerprint_claimed: string | null
  readonly enrollment_code_id: string | null
  readonly status: string | null
  readonly client_nonce: string | null
  readonly server_nonce: string | null
  readonly created_at: string | null
  readonly updated_at: string | null
  readonly approved_by_user_id: string | null
  readonly approved_by_username: string | null
}

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

export class EnrollmentAdminRepo extends Effect.Service<EnrollmentAdminRepo>()("borealis/EnrollmentAdminRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    const listCodes = sql<InstallCodeRow>`SELECT id, code, expires_at, created_by_user_id, used_at, used_by_guid, max_uses, use_count, last_used_at
      FROM enrollment_install_codes`.pipe(Effect.orDie)

    const getCode = (id: string) =>
      sql<InstallCodeRow>`SELECT id, code, expires_at, created_by_user_id, used_at, used_by_guid, max_uses, use_count, last_used_at
        FROM enrollment_install_codes WHERE id = ${id}`.pipe(Effect.map((rows) => Option.fromNullable(rows[0])), Effect.orDie)

    const insertCode = (row: { readonly id: string; readonly code: string; readonly expires_at: string; readonly created_by_user_id: string | null; readonly max_uses: number }) =>
      sql`INSERT INTO enrollment_install_codes (id, code, expires_at, created_by_user_id, max_uses, use_count)
        VALUES (${row.id}, ${row.code}, ${row.expires_at}, ${row.created_by_user_id}, ${row.max_uses}, 0)`.pipe(Effect.orDie)

    /** Only a code nobody has used yet can be deleted. */
    const deleteUnusedCode = (id: string) =>
      changes(sql`DELETE FROM enrollment_install_codes WHERE id = ${id} AND COALESCE(use_count, 0) = 0`).pipe(Effect.orDie)

    /** The device already holding the claimed hostname (in any letter case), unless it is the approval's own GUID. */
    const hostnameConflict = (hostname: string, pendingGuid: string | null, claimedFingerprint: string) =>
      Effect.gen(function*() {
        const host = hostname.trim()
        if (host === "") return Option.none<HostnameConflict>()
        const rows = yield* sql<{ guid: string | null; ssl_key_fingerprint: string | null; site_id: number | null; site_name: string | null }>`
          SELECT d.guid, d.ssl_key_fingerprint, ds.site_id, s.name AS site_name
            FROM devices d
       LEFT JOIN device_sites ds ON ds.device_hostname = d.hostname
       LEFT JOIN sites s ON s.id = ds.site_id
           WHERE LOWER(d.hostname) = LOWER(${host})`
        const row = rows[0]
        if (row === undefined) return Option.none<HostnameConflict>()
        const existing = normalizeGuid(row.guid ?? "")
        const pending = normalizeGuid(pendingGuid ?? "")
        if (existing !== "" && pending !== "" && existing === pending) return Option.none<HostnameConflict>()
        const stored = (row.ssl_key_fingerprint ?? "").trim().toLowerCase()
        const claimed = claimedFingerprint.trim().toLowerCase()
        const fingerprintMatch = stored !== "" && claimed !== "" && stored === claimed
        return Option.some<HostnameConflict>({
          guid: existing === "" ? null : existing,
          ssl_key_fingerprint: stored === "" ? null : stored,
          site_id: row.site_id === null ? null : Number(row.site_id),
          site_name: (row.site_name ?? "").trim(),
          fingerprint_match: fingerprintMatch,
          requires_prompt: !fingerprintMatch
        })
      })

    /** The claimed hostname, else `host-1` … `host-50` — the first not held by another device. */
    const alternateHostname = (hostname: string, pendingGuid: string | null) =>
      Effect.gen(function*() {
        const base = hostname.trim().slice(0, 253)
        if (base === "") return Option.none<string>()
        const pending = normalizeGuid(pendingGuid ?? "")
        for (let suffix = 0; suffix <= 50; suffix++) {
          const candidate = suffix === 0 ? base : `${base}-${suffix}`
          const rows = yield* sql<{ guid: string | null }>`SELECT guid FROM devices WHERE LOWER(hostname) = LOWER(${candidate})`
          const row = rows[0]
          if (row === undefined) return Option.some(candidate)
          if (pending !== "" && normalizeGuid(row.guid ?? "") === pending) return Option.some(candidate)
        }
        return pending === "" ? Option.some(`${base}-51`) : Option.some(pending)
      })

    const toRecord = (row: ApprovalRow) =>
      Effect.gen(function*() {
        const hostname = (row.hostname_claimed ?? "").trim()
        const fingerprint = (row.ssl_key_fingerprint_claimed ?? "").trim().toLowerCase()
        const conflict = yield* hostnameConflict(hostname, row.guid, fingerprint)
        const requiresPrompt = Option.isSome(conflict) && conflict.value.requires_prompt
        const alternate = requiresPrompt ? yield* alternateHostname(hostname, row.guid) : Option.none<string>()
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

    /** Every approval (or those with one status), oldest first. */
    const listApprovals = (status: string | undefined) =>
      Effect.gen(function*() {
        const rows = status === undefined
          ? yield* sql.unsafe<ApprovalRow>(`${APPROVAL_SELECT} ORDER BY da.created_at ASC`)
          : yield* sql.unsafe<ApprovalRow>(`${APPROVAL_SELECT} WHERE LOWER(da.status) = ? ORDER BY da.created_at ASC`, [status])
        return yield* Effect.forEach(rows, (row) => Effect.map(toRecord(row), (r) => r.record))
      }).pipe(Effect.orDie)

    const getApproval = (id: string) =>
      Effect.gen(function*() {
        const rows = yield* sql.unsafe<ApprovalRow>(`${APPROVAL_SELECT} WHERE da.id = ?`, [id])
        const row = rows[0]
        if (row === undefined) return Option.none()
        return Option.some(yield* toRecord(row))
      }).pipe(Effect.orDie)

    /** Moves a still-pending approval on; 0 when it was no longer pending (a concurrent decision). */
    const decide = (id: string, input: { readonly status: "approved" | "denied"; readonly updatedAt: string; readonly approvedBy: string; readonly guid: string | null }) =>
      changes(sql`UPDATE device_approvals
           SET status = ${input.status}, updated_at = ${input.updatedAt},
               guid = COALESCE(${input.guid}, guid),
               approved_by_user_id = COALESCE(${input.approvedBy}, approved_by_user_id)
         WHERE id = ${id} AND (LOWER(status) = 'pending' OR LOWER(status) NOT IN ('approved', 'denied', 'completed', 'expired'))`).pipe(
        Effect.orDie
      )

    /** A user's id as text (the original stores ids in `*_by_user_id`), or none. */
    const userIdentifier = (username: string) =>
      sql<{ id: number }>`SELECT id FROM users WHERE LOWER(username) = LOWER(${username}) ORDER BY id LIMIT 1`.pipe(
        Effect.map((rows) => Option.map(Option.fromNullable(rows[0]), (r) => String(r.id))),
        Effect.orDie
      )

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

    return { listCodes, getCode, insertCode, deleteUnusedCode, listApprovals, getApproval, decide, userIdentifier, prune } as const
  })
}) {}
