// The operator side of enrollment: install codes (create, list with computed status, delete while
// unused) and device approvals (list with hostname conflicts, approve with a conflict resolution,
// deny). Approving sets `status = approved`, the effective `guid` and `approved_by_user_id`; the
// agent's next poll finalises it (Enrollment.ts). spec: auth-enrollment.md §1.6, §2.1, §2.4;
// config-bootstrap-tests.md §6.10, §6.12
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { randomUUID } from "node:crypto"
import { Audit } from "../audit/Audit.ts"
import { normalizeGuid } from "../devices/identity.ts"
import { BadRequest, Conflict, NotFound } from "../errors.ts"
import type { Actor } from "../actor.ts"
import { parseIsoUtc } from "../time.ts"
import {
  approvalChoice,
  approvalStatusOf,
  clampMaxUses,
  codeStatus,
  type CodeStatus,
  generateInstallCode,
  type InstallCodeRecord,
  isoOrNull,
  pythonIso,
  VALID_TTL_HOURS
} from "./adminRecords.ts"
import { EnrollmentAdminRepo, type InstallCodeRow } from "./EnrollmentAdminRepo.ts"

/** The service's clock (tests fix it, as the original's admin-service tests do). */
interface AdminClock {
  readonly nowMs: () => number
}

const notFound = new NotFound({ error: "not_found" })
const notPending = new Conflict({ error: "approval_not_pending" })

const toCodeRecord = (row: InstallCodeRow, nowMs: number): InstallCodeRecord => {
  const maxUses = Number(row.max_uses ?? 1) || 1
  const useCount = Number(row.use_count ?? 0) || 0
  const expiresAtMs = parseIsoUtc(row.expires_at)
  const usedBy = normalizeGuid(row.used_by_guid ?? "")
  return {
    id: row.id,
    code: row.code,
    expires_at: expiresAtMs === undefined ? null : pythonIso(expiresAtMs),
    max_uses: maxUses,
    use_count: useCount,
    created_by_user_id: (row.created_by_user_id ?? "").trim() || null,
    used_at: isoOrNull(row.used_at),
    used_by_guid: usedBy === "" ? null : usedBy,
    last_used_at: isoOrNull(row.last_used_at),
    status: codeStatus({ use_count: useCount, max_uses: maxUses, expiresAtMs }, nowMs)
  }
}

const make = (clock: AdminClock) =>
  Effect.gen(function*() {
    const repo = yield* EnrollmentAdminRepo
    const audit = yield* Audit

    /** The actor as the original records it: the user's id, else the name given, else `system`. */
    const actorIdentifier = (actor: Actor) =>
      Effect.gen(function*() {
        const name = actor.username.trim()
        if (name === "") return "system"
        return Option.getOrElse(yield* repo.userIdentifier(name), () => name)
      })

    const listCodes = Effect.fn("EnrollmentAdmin.listCodes")(function*(status?: string) {
      const now = clock.nowMs()
      const filter = (status ?? "").trim().toLowerCase()
      const records = (yield* repo.listCodes).map((row) => toCodeRecord(row, now))
      const sorted = [...records].sort((a, b) => (parseIsoUtc(a.expires_at) ?? 0) - (parseIsoUtc(b.expires_at) ?? 0))
      return ["active", "expired", "used"].includes(filter) ? sorted.filter((r) => r.status === (filter as CodeStatus)) : sorted
    })

    const createCode = Effect.fn("EnrollmentAdmin.createCode")(function*(ttlHours: number, maxUsesRaw: number, actor: Actor) {
      if (!VALID_TTL_HOURS.includes(ttlHours)) return yield* new BadRequest({ error: "invalid_ttl" })
      const maxUses = clampMaxUses(maxUsesRaw)
      const now = clock.nowMs()
      const expiresAt = new Date(now + ttlHours * 3600_000).toISOString()
      const id = randomUUID()
      return yield* repo.transaction(Effect.gen(function*() {
        const createdBy = actor.username.trim() === "" ? null : yield* actorIdentifier(actor)
        yield* repo.insertCode({ id, code: generateInstallCode(), expires_at: expiresAt, created_by_user_id: createdBy, max_uses: maxUses })
        yield* audit.record({
          type: "enrollment.code_created",
          actor: actor.username,
          actor_ip: actor.ip,
          target: id,
          details: { ttl_hours: ttlHours, max_uses: maxUses, expires_at: expiresAt }
        })
        const row = yield* repo.getCode(id)
        return Option.match(row, {
          onNone: () => Effect.dieMessage("install code vanished after insert"),
          onSome: (r) => Effect.succeed(toCodeRecord(r, now))
        })
      })).pipe(Effect.flatten)
    })

    const deleteCode = Effect.fn("EnrollmentAdmin.deleteCode")(function*(idRaw: string, actor: Actor) {
      const id = idRaw.trim()
      if (id === "") return yield* notFound
      return yield* repo.transaction(Effect.gen(function*() {
        if ((yield* repo.deleteUnusedCode(id)) === 0) return yield* notFound
        yield* audit.record({ type: "enrollment.code_deleted", actor: actor.username, actor_ip: actor.ip, target: id })
      }))
    })

    /** `?status=` filters by status; absent, empty, `all` or `*` lists every approval. */
    const listApprovals = Effect.fn("EnrollmentAdmin.listApprovals")(function*(status?: string) {
      const filter = (status ?? "").trim().toLowerCase()
      return yield* repo.listApprovals(filter === "" || filter === "all" || filter === "*" ? undefined : filter)
    })

    const loadPending = (idRaw: string) =>
      Effect.gen(function*() {
        const id = idRaw.trim()
        const found = id === "" ? Option.none() : yield* repo.getApproval(id)
        if (Option.isNone(found)) return yield* notFound
        const { record, conflict } = found.value
        // Unknown statuses read as pending (EnrollmentApprovalStatus), as in the original.
        if (approvalStatusOf(record.status) !== "pending") return yield* notPending
        return { id, record, conflict }
      })

    /**
     * Approve, resolving a hostname conflict: same fingerprint adopts the existing GUID
     * (`auto_merge_fingerprint`), `overwrite` adopts it too, `coexist` keeps a new identity; any
     * other conflict is 409 `conflict_resolution_required`.
     */
    const approve = Effect.fn("EnrollmentAdmin.approve")(function*(
      idRaw: string,
      input: { readonly guid?: string | undefined; readonly conflictResolution?: string | undefined },
      actor: Actor
    ) {
      const choice = approvalChoice(input.conflictResolution, input.guid)
      if (Either.isLeft(choice)) return yield* new BadRequest({ error: choice.left })
      const { guid } = choice.right
      return yield* repo.transaction(Effect.gen(function*() {
        const { id, record, conflict } = yield* loadPending(idRaw)
        let resolution = choice.right.resolution
        let effectiveGuid = guid ?? record.guid
        if (Option.isSome(conflict)) {
          const existing = conflict.value.guid
          if (conflict.value.fingerprint_match) {
            effectiveGuid = existing ?? effectiveGuid
            resolution = resolution ?? "auto_merge_fingerprint"
          } else if (resolution === "overwrite") {
            effectiveGuid = existing ?? effectiveGuid
          } else if (resolution !== "coexist") {
            return yield* new Conflict({ error: "conflict_resolution_required" })
          }
        }
        const approvedBy = yield* actorIdentifier(actor)
        const changed = yield* repo.decide(id, {
          status: "approved",
          updatedAt: new Date(clock.nowMs()).toISOString(),
          approvedBy,
          guid: effectiveGuid
        })
        if (changed === 0) return yield* notPending
        yield* audit.record({
          type: "enrollment.approval_approved",
          actor: actor.username,
          actor_ip: actor.ip,
          target: id,
          details: { hostname: record.hostname_claimed, guid: effectiveGuid, conflict_resolution: resolution }
        })
        return resolution === null ? { status: "approved" as const } : { status: "approved" as const, conflict_resolution: resolution }
      }))
    })

    const deny = Effect.fn("EnrollmentAdmin.deny")(function*(idRaw: string, actor: Actor) {
      return yield* repo.transaction(Effect.gen(function*() {
        const { id, record } = yield* loadPending(idRaw)
        const changed = yield* repo.decide(id, {
          status: "denied",
          updatedAt: new Date(clock.nowMs()).toISOString(),
          approvedBy: yield* actorIdentifier(actor),
          guid: null
        })
        if (changed === 0) return yield* notPending
        yield* audit.record({
          type: "enrollment.approval_denied",
          actor: actor.username,
          actor_ip: actor.ip,
          target: id,
          details: { hostname: record.hostname_claimed }
        })
        return { status: "denied" as const }
      }))
    })

    return { listCodes, createCode, deleteCode, listApprovals, approve, deny } as const
  })

export class EnrollmentAdmin extends Effect.Service<EnrollmentAdmin>()("borealis/EnrollmentAdmin", {
  effect: make({ nowMs: () => Date.now() })
}) {
  /** The real service on a fixed clock (spec §6.12 runs at 2024-01-01T00:00Z). */
  static readonly withClock = (clock: AdminClock) => Layer.effect(EnrollmentAdmin, Effect.map(make(clock), (s) => EnrollmentAdmin.make(s)))
}
