// Operator account management with the original's guards (last user, last admin, self-deletion,
// hash and role validation) and its error strings. Every change and its audit record commit together.
// spec: config-bootstrap-tests.md §6.13 (test_http_users, test_operator_account_service)
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import { Audit } from "../audit/Audit.ts"
import { BadRequest, Conflict, NotFound } from "../errors.ts"
import type { Actor } from "../actor.ts"
import { Revocations } from "../revocations/Revocations.ts"
import { DEFAULT_PASSWORD_SHA512, isAdminRole, normalisePasswordHash, normaliseRole, usernameProblem } from "./credentials.ts"
import { hashPassword } from "./passwords.ts"
import { SessionsRepo } from "./SessionsRepo.ts"
import { type OperatorAccount, UsersRepo } from "./UsersRepo.ts"

/** An account as `GET /api/users` lists it (no hash, no secret). */
interface AccountView {
  readonly username: string
  readonly display_name: string
  readonly role: string
  readonly last_login: number
  readonly created_at: number
  readonly updated_at: number
  readonly mfa_enabled: 0 | 1
}

const accountView = (a: OperatorAccount): AccountView => ({
  username: a.username,
  display_name: a.display_name || a.username,
  role: a.role || "User",
  last_login: a.last_login,
  created_at: a.created_at,
  updated_at: a.updated_at,
  mfa_enabled: a.mfa_enabled ? 1 : 0
})

const notFound = new NotFound({ error: "user not found" })

const isUniqueViolation = (error: unknown): boolean => /UNIQUE constraint failed/i.test(String((error as { cause?: unknown }).cause ?? error))

export class OperatorAccounts extends Effect.Service<OperatorAccounts>()("borealis/OperatorAccounts", {
  effect: Effect.gen(function*() {
    const users = yield* UsersRepo
    const sessions = yield* SessionsRepo
    const audit = yield* Audit
    const revocations = yield* Revocations

    const transaction = users.transaction

    const list = Effect.fn("OperatorAccounts.list")(function*() {
      return (yield* users.list).map(accountView)
    })

    const find = Effect.fn("OperatorAccounts.find")(function*(username: string) {
      return yield* users.findByUsername(username.trim())
    })

    const create = Effect.fn("OperatorAccounts.create")(function*(
      input: { readonly username: string; readonly password_sha512: string; readonly role: string; readonly display_name?: string | undefined },
      actor: Actor
    ) {
      const role = normaliseRole(input.role)
      if (Either.isLeft(role)) return yield* new BadRequest({ error: role.left })
      const username = input.username.trim()
      const rawHash = input.password_sha512.trim()
      if (username === "" || rawHash === "") return yield* new BadRequest({ error: "username and password are required" })
      const problem = usernameProblem(username)
      if (problem !== undefined) return yield* new BadRequest({ error: problem })
      const hash = normalisePasswordHash(rawHash)
      if (Option.isNone(hash)) return yield* new BadRequest({ error: "password hash must be 128 hex characters" })
      const displayName = (input.display_name ?? "").trim().slice(0, 256) || username
      const stored = yield* hashPassword(hash.value)
      return yield* transaction(Effect.gen(function*() {
        // The column is unique as written; the original's lookups are case-insensitive, so is this check.
        if (Option.isSome(yield* users.findByUsername(username))) return yield* new Conflict({ error: "username already exists" })
        yield* users.insert({
          username,
          display_name: displayName,
          password_hash: stored,
          password_is_default: hash.value === DEFAULT_PASSWORD_SHA512,
          role: role.right
        }).pipe(
          Effect.catchAll((e) => (isUniqueViolation(e) ? new Conflict({ error: "username already exists" }) : Effect.die(e)))
        )
        yield* audit.record({ type: "user.created", actor: actor.username, actor_ip: actor.ip, target: username, details: { role: role.right } })
        const created = yield* users.findByUsername(username)
        return Option.map(created, accountView)
      }))
    })

    const remove = Effect.fn("OperatorAccounts.remove")(function*(usernameRaw: string, actor: Actor) {
      const username = usernameRaw.trim()
      if (username === "") return yield* new NotFound({ error: "invalid username" })
      if (actor.username.trim().toLowerCase() === username.toLowerCase()) {
        return yield* new BadRequest({ error: "cannot delete yourself" })
      }
      return yield* transaction(Effect.gen(function*() {
        if ((yield* users.count) <= 1) return yield* new BadRequest({ error: "cannot delete the last user" })
        const target = yield* users.findByUsername(username)
        if (Option.isNone(target)) return yield* notFound
        if (isAdminRole(target.value.role) && (yield* users.countAdmins) <= 1) {
          return yield* new BadRequest({ error: "cannot delete the last admin" })
        }
        if (!(yield* users.remove(target.value.id))) return yield* notFound
        yield* sessions.removeForUser(target.value.id)
        yield* audit.record({ type: "user.deleted", actor: actor.username, actor_ip: actor.ip, target: target.value.username })
        return target.value.id
      })).pipe(Effect.tap((userId) => revocations.publish({ _tag: "OperatorAccount", userId, reason: "deleted" })), Effect.asVoid)
    })

    const resetPassword = Effect.fn("OperatorAccounts.resetPassword")(function*(usernameRaw: string, rawHash: string, actor: Actor) {
      const hash = normalisePasswordHash(rawHash)
      if (Option.isNone(hash)) return yield* new BadRequest({ error: "invalid password hash" })
      const stored = yield* hashPassword(hash.value)
      return yield* transaction(Effect.gen(function*() {
        const target = yield* users.findByUsername(usernameRaw.trim())
        if (Option.isNone(target) || !(yield* users.setPassword(target.value.id, stored, hash.value === DEFAULT_PASSWORD_SHA512))) {
          return yield* notFound
        }
        // Sessions and tokens from before the reset stop working (the password bumps the auth epoch).
        yield* sessions.removeForUser(target.value.id)
        yield* audit.record({ type: "user.password_reset", actor: actor.username, actor_ip: actor.ip, target: target.value.username })
        return target.value.id
      })).pipe(Effect.tap((userId) => revocations.publish({ _tag: "OperatorAccount", userId, reason: "password_reset" })), Effect.asVoid)
    })

    const changeRole = Effect.fn("OperatorAccounts.changeRole")(function*(usernameRaw: string, rawRole: string, actor: Actor) {
      const role = normaliseRole(rawRole)
      if (Either.isLeft(role)) return yield* new BadRequest({ error: role.left })
      return yield* transaction(Effect.gen(function*() {
        const target = yield* users.findByUsername(usernameRaw.trim())
        if (Option.isNone(target)) return yield* notFound
        const from = target.value.role
        if (isAdminRole(from) && !isAdminRole(role.right) && (yield* users.countAdmins) <= 1) {
          return yield* new BadRequest({ error: "cannot demote the last admin" })
        }
        if (!(yield* users.setRole(target.value.id, role.right))) return yield* notFound
        yield* audit.record({
          type: "user.role_changed",
          actor: actor.username,
          actor_ip: actor.ip,
          target: target.value.username,
          details: { from, to: role.right }
        })
        return { view: accountView({ ...target.value, role: role.right }), userId: target.value.id, changed: from !== role.right }
      })).pipe(
        // Open sockets carry the role they were opened with: they reconnect with the new one.
        Effect.tap((r) => (r.changed ? revocations.publish({ _tag: "OperatorAccount", userId: r.userId, reason: "role_changed" }) : Effect.void)),
        Effect.map((r) => r.view)
      )
    })

    const updateMfa = Effect.fn("OperatorAccounts.updateMfa")(function*(usernameRaw: string, enabled: boolean, resetSecret: boolean, actor: Actor) {
      const username = usernameRaw.trim()
      if (username === "") return yield* new NotFound({ error: "invalid username" })
      return yield* transaction(Effect.gen(function*() {
        const target = yield* users.findByUsername(username)
        if (Option.isNone(target) || !(yield* users.setMfa(target.value.id, enabled, resetSecret))) return yield* notFound
        if (resetSecret) yield* sessions.removeForUser(target.value.id)
        yield* audit.record({
          type: "user.mfa_changed",
          actor: actor.username,
          actor_ip: actor.ip,
          target: target.value.username,
          details: { enabled, reset_secret: resetSecret }
        })
        return target.value.id
      })).pipe(
        Effect.tap((userId) => (resetSecret ? revocations.publish({ _tag: "OperatorAccount", userId, reason: "mfa_reset" }) : Effect.void)),
        Effect.asVoid
      )
    })

    return { list, find, create, remove, resetPassword, changeRole, updateMfa } as const
  })
}) {}
