// EnrollmentAdmin's rules without SQLite: the repository in memory (EnrollmentAdminRepo.Test) and the
// audit trail in memory (Audit.Test). spec: auth-enrollment.md §1.6, §2.4; config-bootstrap-tests.md §6.10
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { Audit } from "../../../src/services/audit/Audit.ts"
import { ApproveRequest, CreateInstallCodeRequest } from "../../../src/services/enrollment/adminRequests.ts"
import { EnrollmentAdmin } from "../../../src/services/enrollment/EnrollmentAdmin.ts"
import { EnrollmentAdminRepo, type EnrollmentAdminTestData } from "../../../src/services/enrollment/EnrollmentAdminRepo.ts"
import { lenientDecoder } from "../../../src/services/lenientSchema.ts"

const NOW = Date.UTC(2024, 0, 1)
const admin = { username: "admin", ip: "10.0.0.1" }
const OTHER_GUID = "11111111-2222-3333-4444-555555555555"
const OWN_GUID = "AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE"

const approval = (id: string, overrides: Partial<NonNullable<EnrollmentAdminTestData["approvals"]>[number]> = {}) => ({
  id,
  approval_reference: `ref-${id}`,
  guid: null,
  hostname_claimed: `host-${id}`,
  ssl_key_fingerprint_claimed: "f00d",
  enrollment_code_id: "code-1",
  status: "pending",
  client_nonce: "Y2xpZW50",
  server_nonce: "c2VydmVy",
  created_at: "2024-01-01T00:00:00+00:00",
  updated_at: "2024-01-01T00:00:00+00:00",
  approved_by_user_id: null,
  ...overrides
})

const layer = (data: EnrollmentAdminTestData) =>
  EnrollmentAdmin.withClock({ nowMs: () => NOW }).pipe(
    Layer.provideMerge(Layer.mergeAll(EnrollmentAdminRepo.Test({ users: [{ id: 7, username: "admin" }], ...data }), Audit.Test))
  )

const failureOf = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.exit(effect), (exit) => (Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined))

const approvalById = (id: string) =>
  Effect.flatMap(EnrollmentAdmin, (s) => Effect.map(s.listApprovals(), (all) => all.find((a) => a.id === id)))

const auditTypes = Effect.flatMap(Audit, (audit) => Effect.map(audit.query({ limit: 100, offset: 0 }), (page) => page.events.map((e) => e.type)))

describe("approval transitions (EnrollmentAdmin on EnrollmentAdminRepo.Test)", () => {
  it.effect("pending → approved: the approver's id is kept, the decision audited", () =>
    Effect.gen(function*() {
      const service = yield* EnrollmentAdmin
      expect(yield* service.approve("a1", {}, admin)).toEqual({ status: "approved" })
      expect(yield* approvalById("a1")).toMatchObject({
        status: "approved",
        approved_by_user_id: "7",
        approved_by_username: "admin",
        updated_at: "2024-01-01T00:00:00+00:00"
      })
      expect(yield* auditTypes).toEqual(["enrollment.approval_approved"])
    }).pipe(Effect.provide(layer({ approvals: [approval("a1")] }))))

  it.effect("pending → denied, audited; the approval keeps no GUID", () =>
    Effect.gen(function*() {
      const service = yield* EnrollmentAdmin
      expect(yield* service.deny("a1", admin)).toEqual({ status: "denied" })
      expect(yield* approvalById("a1")).toMatchObject({ status: "denied", guid: null, approved_by_user_id: "7" })
      expect(yield* auditTypes).toEqual(["enrollment.approval_denied"])
    }).pipe(Effect.provide(layer({ approvals: [approval("a1")] }))))

  it.effect("approved, denied, completed and expired approvals are no longer pending: 409 for approve and deny", () =>
    Effect.gen(function*() {
      const service = yield* EnrollmentAdmin
      for (const id of ["approved", "denied", "completed", "expired"]) {
        expect(yield* failureOf(service.approve(id, {}, admin))).toMatchObject({ _tag: "Conflict", error: "approval_not_pending" })
        expect(yield* failureOf(service.deny(id, admin))).toMatchObject({ _tag: "Conflict", error: "approval_not_pending" })
        expect((yield* approvalById(id))?.status).toBe(id)
      }
      // A second decision on the same approval is refused too.
      yield* service.approve("pending", {}, admin)
      expect(yield* failureOf(service.deny("pending", admin))).toMatchObject({ error: "approval_not_pending" })
      expect(yield* auditTypes).toEqual(["enrollment.approval_approved"])
    }).pipe(Effect.provide(layer({
      approvals: ["approved", "denied", "completed", "expired", "pending"].map((status) => approval(status, { status }))
    }))))

  it.effect("an unknown status reads as pending (the original's EnrollmentApprovalStatus)", () =>
    Effect.gen(function*() {
      const service = yield* EnrollmentAdmin
      expect(yield* service.approve("odd", {}, admin)).toEqual({ status: "approved" })
    }).pipe(Effect.provide(layer({ approvals: [approval("odd", { status: "Waiting" })] }))))

  it.effect("unknown and blank ids are 404 not_found", () =>
    Effect.gen(function*() {
      const service = yield* EnrollmentAdmin
      expect(yield* failureOf(service.approve("missing", {}, admin))).toMatchObject({ _tag: "NotFound", error: "not_found" })
      expect(yield* failureOf(service.deny("  ", admin))).toMatchObject({ _tag: "NotFound", error: "not_found" })
    }).pipe(Effect.provide(layer({}))))

  it.effect("a bad resolution is refused before a bad GUID, and both before the approval is looked up", () =>
    Effect.gen(function*() {
      const service = yield* EnrollmentAdmin
      expect(yield* failureOf(service.approve("missing", { conflictResolution: "merge", guid: "nope" }, admin))).toMatchObject({
        _tag: "BadRequest",
        error: "invalid_conflict_resolution"
      })
      expect(yield* failureOf(service.approve("missing", { guid: "nope" }, admin))).toMatchObject({ error: "invalid_guid" })
    }).pipe(Effect.provide(layer({}))))

  it.effect("a GUID given with the approval is normalised and bound", () =>
    Effect.gen(function*() {
      const service = yield* EnrollmentAdmin
      yield* service.approve("a1", { guid: `{${OWN_GUID.toLowerCase()}}` }, admin)
      expect((yield* approvalById("a1"))?.guid).toBe(OWN_GUID)
    }).pipe(Effect.provide(layer({ approvals: [approval("a1")] }))))
})

describe("hostname conflicts on approval", () => {
  const held = {
    approvals: [approval("a1", { hostname_claimed: "Shared-Host" })],
    devices: [
      { hostname: "shared-host", guid: OTHER_GUID.toLowerCase(), ssl_key_fingerprint: "beef", site_id: 3, site_name: " HQ " },
      { hostname: "shared-host-1", guid: "99999999-9999-9999-9999-999999999999", ssl_key_fingerprint: null, site_id: null, site_name: null }
    ]
  }

  it.effect("another device's key: the list prompts with an alternate hostname; approving needs a resolution", () =>
    Effect.gen(function*() {
      const service = yield* EnrollmentAdmin
      expect(yield* approvalById("a1")).toMatchObject({
        conflict_requires_prompt: true,
        fingerprint_match: false,
        hostname_conflict: { guid: OTHER_GUID, ssl_key_fingerprint: "beef", site_id: 3, site_name: "HQ", requires_prompt: true },
        alternate_hostname: "Shared-Host-2"
      })
      expect(yield* failureOf(service.approve("a1", {}, admin))).toMatchObject({ _tag: "Conflict", error: "conflict_resolution_required" })
      expect((yield* approvalById("a1"))?.status).toBe("pending")
    }).pipe(Effect.provide(layer(held))))

  it.effect("overwrite adopts the holder's GUID", () =>
    Effect.gen(function*() {
      const service = yield* EnrollmentAdmin
      expect(yield* service.approve("a1", { conflictResolution: " Overwrite " }, admin)).toEqual({ status: "approved", conflict_resolution: "overwrite" })
      expect((yield* approvalById("a1"))?.guid).toBe(OTHER_GUID)
    }).pipe(Effect.provide(layer(held))))

  it.effect("coexist keeps a new identity", () =>
    Effect.gen(function*() {
      const service = yield* EnrollmentAdmin
      expect(yield* service.approve("a1", { conflictResolution: "coexist" }, admin)).toEqual({ status: "approved", conflict_resolution: "coexist" })
      expect((yield* approvalById("a1"))?.guid).toBeNull()
    }).pipe(Effect.provide(layer(held))))

  it.effect("the same key merges without asking (auto_merge_fingerprint)", () =>
    Effect.gen(function*() {
      const service = yield* EnrollmentAdmin
      expect(yield* approvalById("a1")).toMatchObject({ conflict_requires_prompt: false, fingerprint_match: true })
      expect((yield* approvalById("a1"))?.alternate_hostname).toBeUndefined()
      expect(yield* service.approve("a1", {}, admin)).toEqual({ status: "approved", conflict_resolution: "auto_merge_fingerprint" })
      expect((yield* approvalById("a1"))?.guid).toBe(OTHER_GUID)
    }).pipe(Effect.provide(layer({ ...held, approvals: [approval("a1", { hostname_claimed: "shared-host", ssl_key_fingerprint_claimed: "BEEF" })] }))))

  it.effect("the approval's own GUID holding the hostname is no conflict", () =>
    Effect.gen(function*() {
      const service = yield* EnrollmentAdmin
      expect((yield* approvalById("a1"))?.hostname_conflict).toBeUndefined()
      expect(yield* service.approve("a1", {}, admin)).toEqual({ status: "approved" })
    }).pipe(Effect.provide(layer({ ...held, approvals: [approval("a1", { hostname_claimed: "shared-host", guid: OTHER_GUID })] }))))
})

describe("install codes on a fixed clock", () => {
  const code = (id: string, expires_at: string, use_count: number, max_uses = 2) => ({
    id,
    code: `CODE-${id}`,
    expires_at,
    created_by_user_id: null,
    used_at: null,
    used_by_guid: null,
    max_uses,
    use_count,
    last_used_at: null
  })
  const codes = [
    code("active", "2024-01-01T01:00:00+00:00", 1),
    code("expired", "2023-12-31T23:59:59", 0),
    code("used", "2024-01-02T00:00:00+00:00", 2),
    code("exactly-now", "2024-01-01T00:00:00Z", 0)
  ]

  it.effect("status is used, else expired (at or past expiry), else active; ?status= filters", () =>
    Effect.gen(function*() {
      const service = yield* EnrollmentAdmin
      expect((yield* service.listCodes()).map((c) => [c.id, c.status])).toEqual([
        ["expired", "expired"],
        ["exactly-now", "expired"],
        ["active", "active"],
        ["used", "used"]
      ])
      expect((yield* service.listCodes(" EXPIRED ")).map((c) => c.id)).toEqual(["expired", "exactly-now"])
      expect((yield* service.listCodes("bogus")).length).toBe(4)
    }).pipe(Effect.provide(layer({ codes }))))

  it.effect("create: only the allowed TTLs; uses clamped; the creator's id recorded; delete only while unused", () =>
    Effect.gen(function*() {
      const service = yield* EnrollmentAdmin
      expect(yield* failureOf(service.createCode(2, 1, admin))).toMatchObject({ _tag: "BadRequest", error: "invalid_ttl" })
      const created = yield* service.createCode(24, 50, admin)
      expect(created).toMatchObject({ max_uses: 10, use_count: 0, status: "active", created_by_user_id: "7", expires_at: "2024-01-02T00:00:00+00:00" })
      expect(yield* failureOf(service.deleteCode("used", admin))).toMatchObject({ _tag: "NotFound", error: "not_found" })
      yield* service.deleteCode(created.id, admin)
      expect((yield* service.listCodes()).map((c) => c.id)).not.toContain(created.id)
      expect(yield* auditTypes).toEqual(["enrollment.code_deleted", "enrollment.code_created"])
    }).pipe(Effect.provide(layer({ codes }))))
})

describe("the operator bodies, as the HTTP edge decodes them", () => {
  const approve = lenientDecoder(ApproveRequest)
  const createCode = lenientDecoder(CreateInstallCodeRequest)

  it("conflict_resolution, else its alias resolution; a non-string one asks for none", () => {
    expect(approve({ conflict_resolution: "coexist", resolution: "overwrite" })).toEqual(Either.right({ conflictResolution: "coexist", guid: undefined }))
    expect(approve({ conflict_resolution: "", resolution: "Overwrite" })).toEqual(Either.right({ conflictResolution: "overwrite", guid: undefined }))
    expect(approve({ conflict_resolution: 5, resolution: "overwrite" })).toEqual(Either.right({ conflictResolution: undefined, guid: undefined }))
    expect(approve({})).toEqual(Either.right({ conflictResolution: undefined, guid: undefined }))
  })

  it("a resolution is judged before the GUID; a GUID that is not a string is invalid; null or empty is none", () => {
    expect(approve({ conflict_resolution: "merge", guid: 12 })).toEqual(Either.left("invalid_conflict_resolution"))
    expect(approve({ guid: 12 })).toEqual(Either.left("invalid_guid"))
    expect(approve({ guid: ["x"] })).toEqual(Either.left("invalid_guid"))
    expect(approve({ guid: "not-a-guid" })).toEqual(Either.left("invalid_guid"))
    expect(approve({ guid: null })).toEqual(Either.right({ conflictResolution: undefined, guid: undefined }))
    expect(approve({ guid: "" })).toEqual(Either.right({ conflictResolution: undefined, guid: undefined }))
    expect(approve({ guid: OWN_GUID.toLowerCase() })).toEqual(Either.right({ conflictResolution: undefined, guid: OWN_GUID }))
  })

  it("install codes: aliases, defaults and int() readings", () => {
    expect(createCode({})).toEqual(Either.right({ ttl_hours: 1, max_uses: 2 }))
    expect(createCode({ ttl: 6, allowed_uses: "4" })).toEqual(Either.right({ ttl_hours: 6, max_uses: 4 }))
    expect(createCode({ ttl_hours: "soon", ttl: 6 })).toEqual(Either.right({ ttl_hours: 1, max_uses: 2 }))
    expect(createCode({ ttl_hours: null, ttl: 0, max_uses: null, allowed_uses: null })).toEqual(Either.right({ ttl_hours: 1, max_uses: 2 }))
    expect(createCode({ ttl_hours: 12.7, max_uses: -3 })).toEqual(Either.right({ ttl_hours: 12, max_uses: 1 }))
  })
})
