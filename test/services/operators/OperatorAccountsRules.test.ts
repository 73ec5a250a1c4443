// OperatorAccounts' rules without SQLite: accounts and sessions in memory (UsersRepo.Test,
// SessionsRepo.Test), the audit trail and revocations in memory.
// spec: config-bootstrap-tests.md §6.13 (test_operator_account_service.py, test_http_users.py)
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import { Audit } from "../../../src/services/audit/Audit.ts"
import { DEFAULT_PASSWORD_SHA512, sha512Hex } from "../../../src/services/operators/credentials.ts"
import { OperatorAccounts } from "../../../src/services/operators/OperatorAccounts.ts"
import { SessionsRepo } from "../../../src/services/operators/SessionsRepo.ts"
import { UsersRepo } from "../../../src/services/operators/UsersRepo.ts"
import type { OperatorAccount } from "../../../src/services/operators/UsersRepo.ts"
import { Revocations } from "../../../src/services/revocations/Revocations.ts"

const actor = { username: "root", ip: "10.0.0.1" }
const hash = sha512Hex("pw")

const layer = (accounts: ReadonlyArray<Partial<OperatorAccount> & { readonly username: string }>) =>
  OperatorAccounts.Default.pipe(
    Layer.provideMerge(Layer.mergeAll(UsersRepo.Test(accounts), SessionsRepo.Test, Audit.Test, Revocations.Test))
  )

const failureOf = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.exit(effect), (exit) => (Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined))

/** A session for each account id, so a test can see which ones a change ends. */
const sessionsFor = (ids: ReadonlyArray<number>) =>
  Effect.flatMap(SessionsRepo, (sessions) =>
    Effect.forEach(ids, (userId) => sessions.create({ userId, username: `user-${userId}`, authEpoch: 0, ip: undefined, userAgent: undefined })))

const alive = (idHashes: ReadonlyArray<string>) =>
  Effect.flatMap(SessionsRepo, (sessions) => Effect.forEach(idHashes, (h) => Effect.map(sessions.findByHash(h), Option.isSome)))

/** Revocations published while `effect` runs. */
const published = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const feed = yield* (yield* Revocations).subscribe
    yield* effect
    return Chunk.toReadonlyArray(yield* Queue.takeAll(feed))
  })

const auditTypes = Effect.flatMap(Audit, (audit) => Effect.map(audit.query({ limit: 100, offset: 0 }), (page) => page.events.map((e) => e.type)))

describe("the last admin and the last user", () => {
  it.scoped("the only admin can be neither deleted nor demoted; with a second admin both work", () =>
    Effect.gen(function*() {
      const accounts = yield* OperatorAccounts
      expect(yield* failureOf(accounts.remove("Boss", actor))).toMatchObject({ _tag: "BadRequest", error: "cannot delete the last admin" })
      expect(yield* failureOf(accounts.changeRole("boss", "user", actor))).toMatchObject({ _tag: "BadRequest", error: "cannot demote the last admin" })
      // Admin → Admin is no demotion.
      expect((yield* accounts.changeRole("boss", "ADMIN", actor)).role).toBe("Admin")
      yield* accounts.create({ username: "second", password_sha512: hash, role: "admin" }, actor)
      expect((yield* accounts.changeRole("boss", "Viewer", actor)).role).toBe("Viewer")
      expect(yield* failureOf(accounts.changeRole("second", "User", actor))).toMatchObject({ error: "cannot demote the last admin" })
      yield* accounts.remove("boss", actor)
      expect((yield* accounts.list()).map((a) => [a.username, a.role])).toEqual([["helper", "User"], ["second", "Admin"]])
    }).pipe(Effect.provide(layer([{ username: "boss", role: "Admin" }, { username: "helper", role: "User" }]))))

  it.scoped("the sole user cannot be deleted; nobody deletes themself (in any letter case)", () =>
    Effect.gen(function*() {
      const accounts = yield* OperatorAccounts
      expect(yield* failureOf(accounts.remove("solo", actor))).toMatchObject({ error: "cannot delete the last user" })
      expect(yield* failureOf(accounts.remove(" SOLO ", { username: "solo" }))).toMatchObject({ error: "cannot delete yourself" })
      expect(yield* failureOf(accounts.remove("  ", actor))).toMatchObject({ _tag: "NotFound", error: "invalid username" })
      expect(yield* auditTypes).toEqual([])
    }).pipe(Effect.provide(layer([{ username: "solo", role: "Admin" }]))))

  it.scoped("an unknown account is 404 user not found", () =>
    Effect.gen(function*() {
      const accounts = yield* OperatorAccounts
      expect(yield* failureOf(accounts.remove("ghost", actor))).toMatchObject({ _tag: "NotFound", error: "user not found" })
      expect(yield* failureOf(accounts.changeRole("ghost", "User", actor))).toMatchObject({ error: "user not found" })
      expect(yield* failureOf(accounts.resetPassword("ghost", hash, actor))).toMatchObject({ error: "user not found" })
      expect(yield* failureOf(accounts.updateMfa("ghost", true, false, actor))).toMatchObject({ error: "user not found" })
    }).pipe(Effect.provide(layer([{ username: "boss", role: "Admin" }, { username: "helper" }]))))
})

describe("changes that end sessions", () => {
  it.scoped("deleting an account ends its sessions only, and revokes it", () =>
    Effect.gen(function*() {
      const accounts = yield* OperatorAccounts
      const [boss, helper] = yield* sessionsFor([1, 2])
      const revoked = yield* published(accounts.remove("helper", actor))
      expect(revoked).toEqual([{ _tag: "OperatorAccount", userId: 2, reason: "deleted" }])
      expect(yield* alive([boss?.idHash ?? "", helper?.idHash ?? ""])).toEqual([true, false])
      expect(yield* auditTypes).toEqual(["user.deleted"])
    }).pipe(Effect.provide(layer([{ username: "boss", role: "Admin" }, { username: "helper" }]))))

  it.scoped("a role change revokes the account's sockets only when the role really changes; sessions stay", () =>
    Effect.gen(function*() {
      const accounts = yield* OperatorAccounts
      const [helper] = yield* sessionsFor([2])
      expect(yield* published(accounts.changeRole("helper", "user", actor))).toEqual([])
      expect(yield* published(accounts.changeRole("helper", "viewer", actor))).toEqual([{ _tag: "OperatorAccount", userId: 2, reason: "role_changed" }])
      expect(yield* alive([helper?.idHash ?? ""])).toEqual([true])
      expect(yield* failureOf(accounts.changeRole("helper", "owner", actor))).toMatchObject({ error: "invalid role" })
    }).pipe(Effect.provide(layer([{ username: "boss", role: "Admin" }, { username: "helper", role: "User" }]))))

  it.scoped("a password reset ends the sessions and moves the auth epoch; a bad hash changes nothing", () =>
    Effect.gen(function*() {
      const accounts = yield* OperatorAccounts
      const users = yield* UsersRepo
      const [helper] = yield* sessionsFor([2])
      expect(yield* failureOf(accounts.resetPassword("helper", "abc", actor))).toMatchObject({ error: "invalid password hash" })
      expect(yield* alive([helper?.idHash ?? ""])).toEqual([true])
      const revoked = yield* published(accounts.resetPassword("helper", DEFAULT_PASSWORD_SHA512.toUpperCase(), actor))
      expect(revoked).toEqual([{ _tag: "OperatorAccount", userId: 2, reason: "password_reset" }])
      expect(yield* alive([helper?.idHash ?? ""])).toEqual([false])
      const after = Option.getOrThrow(yield* users.findById(2))
      expect([after.auth_epoch, after.password_is_default, after.password_hash?.startsWith("scrypt")]).toEqual([1, true, true])
    }).pipe(Effect.provide(layer([{ username: "boss", role: "Admin" }, { username: "helper" }]))))

  it.scoped("an MFA reset ends the sessions; toggling MFA alone does not", () =>
    Effect.gen(function*() {
      const accounts = yield* OperatorAccounts
      const [helper] = yield* sessionsFor([2])
      expect(yield* published(accounts.updateMfa("helper", true, false, actor))).toEqual([])
      expect(yield* alive([helper?.idHash ?? ""])).toEqual([true])
      expect(yield* published(accounts.updateMfa("HELPER", false, true, actor))).toEqual([{ _tag: "OperatorAccount", userId: 2, reason: "mfa_reset" }])
      expect(yield* alive([helper?.idHash ?? ""])).toEqual([false])
      expect(yield* auditTypes).toEqual(["user.mfa_changed", "user.mfa_changed"])
    }).pipe(Effect.provide(layer([{ username: "boss", role: "Admin" }, { username: "helper", mfa_secret: "v1:sealed" }]))))
})

describe("creating accounts", () => {
  it.scoped("role, then presence, then username shape, then hash shape; duplicates in any letter case are 409", () =>
    Effect.gen(function*() {
      const accounts = yield* OperatorAccounts
      const create = (input: { username: string; password_sha512: string; role: string; display_name?: string }) =>
        failureOf(accounts.create(input, actor))
      expect(yield* create({ username: "", password_sha512: "", role: "owner" })).toMatchObject({ error: "invalid role" })
      expect(yield* create({ username: " ", password_sha512: hash, role: "" })).toMatchObject({ error: "username and password are required" })
      expect(yield* create({ username: "x".repeat(129), password_sha512: "abc", role: "User" })).toMatchObject({ error: "username is invalid" })
      expect(yield* create({ username: "new", password_sha512: "abc", role: "User" })).toMatchObject({ error: "password hash must be 128 hex characters" })
      expect(yield* create({ username: "BOSS", password_sha512: hash, role: "User" })).toMatchObject({ _tag: "Conflict", error: "username already exists" })
      const created = yield* accounts.create({ username: " new ", password_sha512: hash, role: "", display_name: "  " }, actor)
      expect(created).toEqual(Option.some(expect.objectContaining({ username: "new", display_name: "new", role: "User", mfa_enabled: 0 })))
      expect(yield* auditTypes).toEqual(["user.created"])
    }).pipe(Effect.provide(layer([{ username: "boss", role: "Admin" }]))))
})
