// spec: config-bootstrap-tests.md §6.13 (test_operator_account_service.py, nine tests), service level.
import { describe, expect, it } from "@effect/vitest"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import { sha512Hex } from "../../../src/services/operators/credentials.ts"
import { OperatorAccounts } from "../../../src/services/operators/OperatorAccounts.ts"
import { verifyPassword } from "../../../src/services/operators/passwords.ts"
import { operatorServices } from "../../support/operatorServices.ts"

const cli = { username: "cli:test" }
const hash = sha512Hex("pw")

const failure = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.exit(effect), (exit) => (Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined))

describe("OperatorAccounts", () => {
  it.effect("list returns admin/Admin", () =>
    Effect.gen(function*() {
      const accounts = yield* OperatorAccounts
      expect((yield* accounts.list()).map((a) => [a.username, a.role])).toEqual([["admin", "Admin"]])
    }).pipe(Effect.provide(operatorServices())))

  it.effect("a duplicate is UsernameAlreadyExists (409)", () =>
    Effect.gen(function*() {
      const accounts = yield* OperatorAccounts
      yield* accounts.create({ username: "bob", password_sha512: hash, role: "User" }, cli)
      expect(yield* failure(accounts.create({ username: "bob", password_sha512: hash, role: "User" }, cli))).toMatchObject({
        _tag: "Conflict", error: "username already exists"
      })
    }).pipe(Effect.provide(operatorServices())))

  it.effect("hash 'abc' is InvalidPasswordHash (400)", () =>
    Effect.gen(function*() {
      const accounts = yield* OperatorAccounts
      expect(yield* failure(accounts.create({ username: "bob", password_sha512: "abc", role: "User" }, cli))).toMatchObject({
        _tag: "BadRequest", error: "password hash must be 128 hex characters"
      })
    }).pipe(Effect.provide(operatorServices())))

  it.effect("deleting the sole user is LastUser", () =>
    Effect.gen(function*() {
      const accounts = yield* OperatorAccounts
      expect(yield* failure(accounts.remove("admin", cli))).toMatchObject({ error: "cannot delete the last user" })
    }).pipe(Effect.provide(operatorServices())))

  it.effect("deleting yourself is CannotModifySelf", () =>
    Effect.gen(function*() {
      const accounts = yield* OperatorAccounts
      yield* accounts.create({ username: "other", password_sha512: hash, role: "User" }, cli)
      expect(yield* failure(accounts.remove("admin", { username: "admin" }))).toMatchObject({ error: "cannot delete yourself" })
    }).pipe(Effect.provide(operatorServices())))

  it.effect("deleting the only admin while a User exists is LastAdmin", () =>
    Effect.gen(function*() {
      const accounts = yield* OperatorAccounts
      yield* accounts.create({ username: "plain", password_sha512: hash, role: "User" }, cli)
      expect(yield* failure(accounts.remove("admin", cli))).toMatchObject({ _tag: "BadRequest", error: "cannot delete the last admin" })
      const sql = yield* SqlClient.SqlClient
      expect(yield* sql`SELECT username FROM users ORDER BY username`).toEqual([{ username: "admin" }, { username: "plain" }])
    }).pipe(Effect.provide(operatorServices())))

  it.effect("demoting backup works; demoting the last admin is LastAdmin; role 'invalid' is InvalidRole", () =>
    Effect.gen(function*() {
      const accounts = yield* OperatorAccounts
      yield* accounts.create({ username: "backup", password_sha512: hash, role: "Admin" }, cli)
      expect((yield* accounts.changeRole("backup", "User", cli)).role).toBe("User")
      expect(yield* failure(accounts.changeRole("admin", "User", cli))).toMatchObject({ error: "cannot demote the last admin" })
      expect(yield* failure(accounts.changeRole("backup", "invalid", cli))).toMatchObject({ error: "invalid role" })
    }).pipe(Effect.provide(operatorServices())))

  it.effect("reset with 'abc' is InvalidPasswordHash, a valid hash succeeds", () =>
    Effect.gen(function*() {
      const accounts = yield* OperatorAccounts
      expect(yield* failure(accounts.resetPassword("admin", "abc", cli))).toMatchObject({ error: "invalid password hash" })
      yield* accounts.resetPassword("admin", sha512Hex("new"), cli)
      const sql = yield* SqlClient.SqlClient
      const rows = yield* sql<{ password_sha512: string; password_hash: string; auth_epoch: number }>`
        SELECT password_sha512, password_hash, auth_epoch FROM users WHERE username = 'admin'`
      // Issue 19: stored as a salted scrypt of what the client sends, never the SHA-512 a login accepts.
      expect(rows[0]?.password_sha512).toBe("")
      expect(rows[0]?.auth_epoch).toBe(1)
      expect(rows[0]?.password_hash).toMatch(/^scrypt\$15\$8\$1\$/)
      expect(rows[0]?.password_hash).not.toContain(sha512Hex("new"))
      expect(yield* verifyPassword(rows[0]?.password_hash, sha512Hex("new"))).toBe(true)
      expect(yield* verifyPassword(rows[0]?.password_hash, sha512Hex("old"))).toBe(false)
    }).pipe(Effect.provide(operatorServices())))

  it.effect("MFA update for a missing user is AccountNotFound; nothing is half-written on failure", () =>
    Effect.gen(function*() {
      const accounts = yield* OperatorAccounts
      expect(yield* failure(accounts.updateMfa("missing", true, false, cli))).toMatchObject({ _tag: "NotFound", error: "user not found" })
      const sql = yield* SqlClient.SqlClient
      // Refused changes leave no audit rows behind (the action and its record share a transaction).
      yield* failure(accounts.changeRole("admin", "User", cli))
      expect(yield* sql`SELECT type FROM audit_events`).toEqual([])
    }).pipe(Effect.provide(operatorServices())))
})
