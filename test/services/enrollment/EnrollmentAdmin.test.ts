// spec: config-bootstrap-tests.md §6.12 (test_enrollment_admin_service.py: fixed clock 2024-01-01T00:00Z).
import { describe, expect, it } from "@effect/vitest"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Either from "effect/Either"
import { codeStatus, generateInstallCode, pythonIso } from "../../../src/services/enrollment/adminRecords.ts"
import { CreateInstallCodeRequest } from "../../../src/services/enrollment/adminRequests.ts"
import { lenientDecoder } from "../../../src/services/lenientSchema.ts"
import { EnrollmentAdmin } from "../../../src/services/enrollment/EnrollmentAdmin.ts"
import { operatorServices } from "../../support/operatorServices.ts"

// The TTL and max-uses readings are the install-code body's schema now.
const decodeCreateCode = lenientDecoder(CreateInstallCodeRequest)
const ttlFromPayload = (ttl_hours: unknown, ttl: unknown) => Either.getOrThrow(decodeCreateCode({ ttl_hours, ttl })).ttl_hours
const maxUsesFromPayload = (max_uses: unknown, allowed_uses: unknown) => Either.getOrThrow(decodeCreateCode({ max_uses, allowed_uses })).max_uses

const NOW = Date.UTC(2024, 0, 1)
const fixed = (root?: string) => EnrollmentAdmin.withClock({ nowMs: () => NOW }).pipe(Layer.provideMerge(operatorServices(root)))
const admin = { username: "admin" }

describe("EnrollmentAdmin at 2024-01-01T00:00Z", () => {
  it.effect("create and list install codes; ttl 2 is invalid; delete removes it (test_create_and_list_install_codes)", () =>
    Effect.gen(function*() {
      const service = yield* EnrollmentAdmin
      const record = yield* service.createCode(3, 5, admin)
      expect(record.code).toBeTruthy()
      expect(record.max_uses).toBe(5)
      expect(record.status).toBe("active")
      expect(record.expires_at).toBe("2024-01-01T03:00:00+00:00")
      expect((yield* service.listCodes()).map((c) => c.id)).toContain(record.id)
      const invalid = yield* Effect.exit(service.createCode(2, 1, admin))
      expect(Exit.isFailure(invalid) && Option.getOrUndefined(Cause.failureOption(invalid.cause))).toMatchObject({ error: "invalid_ttl" })
      yield* service.deleteCode(record.id, admin)
      expect((yield* service.listCodes()).map((c) => c.id)).not.toContain(record.id)
    }).pipe(Effect.provide(fixed())))

  it.effect("the approval list reports the conflict, matching fingerprint, no prompt (test_list_device_approvals_includes_conflict)", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql`INSERT INTO sites (id, name, description, created_at) VALUES (1, 'HQ', '', 0)`
      yield* sql`INSERT INTO devices (guid, hostname, ssl_key_fingerprint) VALUES ('11111111-1111-1111-1111-111111111111', 'agent-one', 'abc123')`
      yield* sql`INSERT INTO device_sites (device_hostname, site_id, assigned_at) VALUES ('agent-one', 1, 0)`
      yield* sql`INSERT INTO device_approvals (id, approval_reference, hostname_claimed, ssl_key_fingerprint_claimed, enrollment_code_id, status,
          client_nonce, server_nonce, agent_pubkey_der, created_at, updated_at)
        VALUES ('approval-1', 'REF123', 'agent-one', 'abc123', 'code', 'pending', 'Y2xpZW50', 'c2VydmVy', X'707562',
          '2024-01-01T00:00:00+00:00', '2024-01-01T00:00:00+00:00')`
      const service = yield* EnrollmentAdmin
      const approvals = yield* service.listApprovals()
      expect(approvals).toHaveLength(1)
      expect(approvals[0]?.hostname_conflict).toBeDefined()
      expect(approvals[0]?.hostname_conflict?.fingerprint_match).toBe(true)
      expect(approvals[0]?.hostname_conflict?.site_name).toBe("HQ")
      expect(approvals[0]?.conflict_requires_prompt).toBe(false)
      expect(approvals[0]?.created_at).toBe("2024-01-01T00:00:00+00:00")
    }).pipe(Effect.provide(fixed())))

  it.effect("an expired code lists as expired", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql`INSERT INTO enrollment_install_codes (id, code, expires_at, max_uses, use_count) VALUES ('old', 'X', '2023-12-31T23:59:59', 2, 0)`
      const service = yield* EnrollmentAdmin
      expect((yield* service.listCodes("expired")).map((c) => [c.id, c.status])).toEqual([["old", "expired"]])
      expect(yield* service.listCodes("active")).toEqual([])
    }).pipe(Effect.provide(fixed())))
})

describe("admin record rules", () => {
  it("install codes are 8 groups of 4 uppercase hex", () => {
    for (let i = 0; i < 20; i++) expect(generateInstallCode()).toMatch(/^[0-9A-F]{4}(-[0-9A-F]{4}){7}$/)
    expect(new Set(Array.from({ length: 50 }, generateInstallCode)).size).toBe(50)
  })

  it("TTL and max-uses parsing with the original's aliases and defaults", () => {
    expect(ttlFromPayload(undefined, undefined)).toBe(1)
    expect(ttlFromPayload(undefined, 6)).toBe(6)
    expect(ttlFromPayload("24", 6)).toBe(24)
    expect(ttlFromPayload("soon", undefined)).toBe(1)
    expect(ttlFromPayload(2, undefined)).toBe(2)
    expect(maxUsesFromPayload(undefined, undefined)).toBe(2)
    expect(maxUsesFromPayload(undefined, 4)).toBe(4)
    expect(maxUsesFromPayload(99, 4)).toBe(10)
    expect(maxUsesFromPayload(-3, undefined)).toBe(1)
    expect(maxUsesFromPayload("x", undefined)).toBe(2)
  })

  it("status is used, else expired, else active", () => {
    expect(codeStatus({ use_count: 2, max_uses: 2, expiresAtMs: NOW + 1 }, NOW)).toBe("used")
    expect(codeStatus({ use_count: 0, max_uses: 2, expiresAtMs: NOW }, NOW)).toBe("expired")
    expect(codeStatus({ use_count: 1, max_uses: 2, expiresAtMs: NOW + 1 }, NOW)).toBe("active")
  })

  it("timestamps render as Python isoformat", () => {
    expect(pythonIso(NOW)).toBe("2024-01-01T00:00:00+00:00")
    expect(pythonIso(NOW + 123)).toBe("2024-01-01T00:00:00.123000+00:00")
  })
})
