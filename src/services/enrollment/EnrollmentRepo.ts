// SQL of the agent side of enrollment: install codes, approvals, finalisation.
// spec: auth-enrollment.md §2.1, §2.4, §2.5, §5, §7
import * as SqlClient from "@effect/sql/SqlClient"
import * as SqlSchema from "@effect/sql/SqlSchema"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type * as Types from "effect/Types"
import * as Row from "../../layers/sqlRows.ts"
import { randomUUID } from "node:crypto"
import { type DeviceIdentityTable, DeviceRecords } from "../devices/DeviceRecords.ts"
import { normalizeGuid } from "../devices/identity.ts"
import { run } from "../sqlResult.ts"
import { DAY_MS, isoUtc } from "../time.ts"
import { hashRefreshToken, REFRESH_TOKEN_LIFETIME_DAYS } from "../tokens/refreshToken.ts"


const InstallCodeRow = Schema.Struct({
  id: Row.Text,
  code: Row.Text,
  expires_at: Row.TimestampText,
  max_uses: Row.Num,
  use_count: Row.Num,
  used_by_guid: Row.Nullable(Row.Text)
})
export type InstallCodeRow = typeof InstallCodeRow.Type

const ApprovalRow = Schema.Struct({
  id: Row.Text,
  approval_reference: Row.Text,
  guid: Row.Nullable(Row.Text),
  hostname_claimed: Row.Text,
  ssl_key_fingerprint_claimed: Row.Text,
  enrollment_code_id: Row.Nullable(Row.Text),
  status: Row.Text,
  client_nonce: Row.Text,
  server_nonce: Row.Text,
  agent_pubkey_der: Row.Bytes
})
export type ApprovalRow = typeof ApprovalRow.Type

const APPROVAL_COLUMNS = `id, approval_reference, guid, hostname_claimed, ssl_key_fingerprint_claimed, enrollment_code_id,
  status, client_nonce, server_nonce, agent_pubkey_der`

const BarrierRow = Schema.Struct({ required_token_version: Row.Num })

export interface NewApproval {
  readonly hostname: string
  readonly fingerprint: string
  readonly codeId: string
  readonly reuseGuid: string | undefined
  readonly clientNonce: string
  readonly serverNonce: string
  readonly pubkeyDer: Uint8Array
  readonly nowMs: number
}

export interface Finalised {
  readonly guid: string
  readonly hostname: string
  readonly fingerprint: string
  readonly tokenVersion: number
  /** A known device took a new key: its old tokens (and sockets) are no longer valid. */
  readonly rekeyed: boolean
}

export class EnrollmentRepo extends Effect.Service<EnrollmentRepo>()("borealis/EnrollmentRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const devices = yield* DeviceRecords

    const installCodeRow = SqlSchema.findOne({
      Request: Schema.String,
      Result: InstallCodeRow,
      execute: (code) =>
        sql`SELECT id, code, expires_at, max_uses, use_count, used_by_guid FROM enrollment_install_codes WHERE code = ${code}`
    })
    const approvalWhere = (column: "approval_reference" | "id") =>
      SqlSchema.findOne({
        Request: Schema.String,
        Result: ApprovalRow,
        execute: (value) => sql`SELECT ${sql.literal(APPROVAL_COLUMNS)} FROM device_approvals WHERE ${sql(column)} = ${value}`
      })
    const approvalRowByReference = approvalWhere("approval_reference")
    const approvalRowById = approvalWhere("id")
    const barrierRow = SqlSchema.findOne({
      Request: Schema.String,
      Result: BarrierRow,
      execute: (guid) => sql`SELECT required_token_version FROM device_purge_barriers WHERE UPPER(guid) = ${guid}`
    })

    /** Exact, case-sensitive match on `code`. */
    const installCode = (code: string) => installCodeRow(code).pipe(Effect.orDie)

    /**
     * A repeat request from the same key supersedes its older pending approval (it becomes `expired`,
     * so a poll on the old reference says so) and a fresh approval is issued.
     */
    const supersedeAndInsert = (a: NewApproval) =>
      sql.withTransaction(Effect.gen(function*() {
        const now = isoUtc(a.nowMs)
        const superseded = yield* run(sql`UPDATE device_approvals SET status = 'expired', updated_at = ${now}
          WHERE ssl_key_fingerprint_claimed = ${a.fingerprint} AND status = 'pending'`)
        const id = randomUUID()
        const reference = randomUUID()
        yield* sql`INSERT INTO device_approvals (id, approval_reference, guid, hostname_claimed, ssl_key_fingerprint_claimed,
            enrollment_code_id, status, client_nonce, server_nonce, agent_pubkey_der, created_at, updated_at, approved_by_user_id)
          VALUES (${id}, ${reference}, ${a.reuseGuid ?? null}, ${a.hostname}, ${a.fingerprint}, ${a.codeId}, 'pending',
            ${a.clientNonce}, ${a.serverNonce}, ${Buffer.from(a.pubkeyDer)}, ${now}, ${now}, NULL)`
        return { id, reference, superseded: superseded.changes }
      })).pipe(Effect.orDie)

    const approvalByReference = (reference: string) => approvalRowByReference(reference).pipe(Effect.orDie)

    /**
     * Finalise an approved enrollment in one transaction (§2.5): device row created or re-keyed (new key
     * → token_version + 1 and every refresh token revoked), key recorded, install code use counted,
     * approval completed, refresh token stored (only its SHA-256), purge barrier cleared. Returns none
     * when the approval is no longer `approved` (another poll finalised it first).
     */
    const finalise = (input: { readonly approvalId: string; readonly refreshToken: string; readonly nowMs: number }) =>
      sql.withTransaction(Effect.gen(function*() {
        const now = Math.floor(input.nowMs / 1000)
        const nowIso = isoUtc(input.nowMs)
        const found = yield* approvalRowById(input.approvalId)
        if (Option.isNone(found) || found.value.status !== "approved") return Option.none<Finalised>()
        const approval = found.value
        const fingerprint = approval.ssl_key_fingerprint_claimed.trim().toLowerCase()
        const guid = approval.guid !== null && approval.guid.trim() !== "" ? normalizeGuid(approval.guid) : randomUUID().toUpperCase()
        const barrier = yield* barrierRow(guid)
        const minimumVersion = Math.max(1, Option.match(barrier, { onNone: () => 1, onSome: (b) => b.required_token_version }))

        const existing = yield* devices.byGuid(guid)
        let device: Finalised
        if (Option.isNone(existing)) {
          const claimed = approval.hostname_claimed.trim().slice(0, 253)
          const hostname = yield* devices.freeHostname(claimed === "" ? guid : claimed, guid, 50, guid)
          yield* sql`INSERT INTO devices (guid, hostname, created_at, last_seen, ssl_key_fingerprint, token_version, status, key_added_at)
            VALUES (${guid}, ${hostname}, ${now}, ${now}, ${fingerprint}, ${minimumVersion}, 'active', ${nowIso})`
          device = { guid, hostname, fingerprint, tokenVersion: minimumVersion, rekeyed: false }
        } else {
          const row = existing.value
          let tokenVersion = Math.max(row.tokenVersion, minimumVersion)
          if (row.fingerprint === "") {
            yield* sql`UPDATE devices SET ssl_key_fingerprint = ${fingerprint}, key_added_at = ${nowIso}, status = 'active',
              token_version = ${tokenVersion} WHERE guid = ${row.storedGuid}`
          } else if (row.fingerprint !== fingerprint) {
            // A new key for a known device (reinstall, key rotation): old tokens must stop working.
            tokenVersion = Math.max(row.tokenVersion + 1, minimumVersion)
            yield* sql`UPDATE devices SET ssl_key_fingerprint = ${fingerprint}, key_added_at = ${nowIso}, status = 'active',
              token_version = ${tokenVersion} WHERE guid = ${row.storedGuid}`
            yield* sql`UPDATE refresh_tokens SET revoked_at = ${nowIso} WHERE UPPER(guid) = ${guid} AND revoked_at IS NULL`
          } else {
            yield* sql`UPDATE devices SET status = 'active', token_version = ${tokenVersion} WHERE guid = ${row.storedGuid}`
          }
          device = { guid: row.guid, hostname: row.hostname, fingerprint, tokenVersion, rekeyed: tokenVersion !== row.tokenVersion }
        }

        yield* sql`INSERT OR IGNORE INTO device_keys (id, guid, ssl_key_fingerprint, added_at)
          VALUES (${randomUUID()}, ${device.guid}, ${fingerprint}, ${nowIso})`
        yield* sql`UPDATE device_keys SET retired_at = ${nowIso}
          WHERE guid = ${device.guid} AND ssl_key_fingerprint != ${fingerprint} AND retired_at IS NULL`
        if (approval.enrollment_code_id !== null) {
          yield* sql`UPDATE enrollment_install_codes
            SET use_count = use_count + 1, used_by_guid = ${device.guid}, last_used_at = ${nowIso}, used_at = COALESCE(used_at, ${nowIso})
            WHERE id = ${approval.enrollment_code_id}`
        }
        yield* sql`UPDATE device_approvals SET status = 'completed', guid = ${device.guid}, updated_at = ${nowIso}
          WHERE id = ${approval.id}`
        const tokenId = randomUUID()
        yield* sql`INSERT INTO refresh_tokens (id, guid, token_hash, dpop_jkt, created_at, expires_at, revoked_at, last_used_at, family_id)
          VALUES (${tokenId}, ${device.guid}, ${hashRefreshToken(input.refreshToken)}, NULL, ${nowIso},
            ${isoUtc(input.nowMs + REFRESH_TOKEN_LIFETIME_DAYS * DAY_MS)}, NULL, NULL, ${tokenId})`
        yield* sql`DELETE FROM device_purge_barriers WHERE UPPER(guid) = ${device.guid}`
        return Option.some(device)
      })).pipe(Effect.orDie)

    return { installCode, supersedeAndInsert, approvalByReference, finalise, deviceByGuid: devices.byGuid } as const
  })
}) {
  /**
   * The same steps over in-memory tables the test owns (and may inspect), for tests of the enrollment
   * rules without a database: finalisation creates or re-keys the device, counts the code's use,
   * completes the approval and records the refresh token's hash, as the transaction above does.
   */
  static readonly makeTestLayer = (table: EnrollmentTable): Layer.Layer<EnrollmentRepo> =>
    Layer.effect(
      EnrollmentRepo,
      Effect.gen(function*() {
        const devices = yield* DeviceRecords
        const finalise = (input: { readonly approvalId: string; readonly refreshToken: string; readonly nowMs: number }) =>
          Effect.sync((): Option.Option<Finalised> => {
            const approval = table.approvals.find((a) => a.id === input.approvalId)
            if (approval === undefined || approval.status !== "approved") return Option.none()
            const nowIso = isoUtc(input.nowMs)
            const fingerprint = approval.ssl_key_fingerprint_claimed.trim().toLowerCase()
            const guid = approval.guid !== null && approval.guid.trim() !== "" ? normalizeGuid(approval.guid) : randomUUID().toUpperCase()
            const minimumVersion = Math.max(1, table.devices.purgeBarriers.get(guid) ?? 1)
            const existing = table.devices.devices.find((d) => normalizeGuid(d.guid) === guid)
            let device: Finalised
            if (existing === undefined) {
              const claimed = approval.hostname_claimed.trim().slice(0, 253)
              const hostname = claimed === "" ? guid : claimed
              table.devices.devices.push({ guid, hostname, ssl_key_fingerprint: fingerprint, token_version: minimumVersion, status: "active", agent_id: null })
              device = { guid, hostname, fingerprint, tokenVersion: minimumVersion, rekeyed: false }
            } else {
              const current = (existing.token_version ?? 1) || 1
              const stored = (existing.ssl_key_fingerprint ?? "").trim().toLowerCase()
              const tokenVersion = stored !== "" && stored !== fingerprint ? Math.max(current + 1, minimumVersion) : Math.max(current, minimumVersion)
              if (stored !== "" && stored !== fingerprint) {
                for (const t of table.refreshTokens) if (t.guid === guid && t.revoked_at === null) t.revoked_at = nowIso
              }
              existing.ssl_key_fingerprint = fingerprint
              existing.status = "active"
              existing.token_version = tokenVersion
              device = { guid, hostname: existing.hostname ?? "", fingerprint, tokenVersion, rekeyed: tokenVersion !== current }
            }
            const code = table.codes.find((c) => c.id === approval.enrollment_code_id)
            if (code !== undefined) {
              code.use_count += 1
              code.used_by_guid = device.guid
            }
            approval.status = "completed"
            approval.guid = device.guid
            table.refreshTokens.push({ guid: device.guid, token_hash: hashRefreshToken(input.refreshToken), revoked_at: null })
            table.devices.purgeBarriers.delete(device.guid)
            return Option.some(device)
          })
        return EnrollmentRepo.make({
          installCode: (code) => Effect.sync(() => Option.fromNullable(table.codes.find((c) => c.code === code))),
          supersedeAndInsert: (a) =>
            Effect.sync(() => {
              let superseded = 0
              for (const approval of table.approvals) {
                if (approval.ssl_key_fingerprint_claimed === a.fingerprint && approval.status === "pending") {
                  approval.status = "expired"
                  superseded++
                }
              }
              const id = randomUUID()
              const reference = randomUUID()
              table.approvals.push({
                id,
                approval_reference: reference,
                guid: a.reuseGuid ?? null,
                hostname_claimed: a.hostname,
                ssl_key_fingerprint_claimed: a.fingerprint,
                enrollment_code_id: a.codeId,
                status: "pending",
                client_nonce: a.clientNonce,
                server_nonce: a.serverNonce,
                agent_pubkey_der: a.pubkeyDer
              })
              return { id, reference, superseded }
            }),
          approvalByReference: (reference) => Effect.sync(() => Option.fromNullable(table.approvals.find((a) => a.approval_reference === reference))),
          finalise,
          deviceByGuid: devices.byGuid
        })
      })
    ).pipe(Layer.provide(DeviceRecords.makeTestLayer(table.devices)))
}

/** The tables of `EnrollmentRepo.makeTestLayer`. */
export interface EnrollmentTable {
  readonly codes: Array<Types.Mutable<InstallCodeRow>>
  readonly approvals: Array<Types.Mutable<ApprovalRow>>
  readonly devices: DeviceIdentityTable
  /** What finalisation stored of each refresh token it issued. */
  readonly refreshTokens: Array<{ readonly guid: string; readonly token_hash: string; revoked_at: string | null }>
}
