// SQL for the `users` table. Usernames are matched case-insensitively, as the original does.
// spec: config-bootstrap-tests.md §4.3 (users), §6.13
import * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import * as SqlSchema from "@effect/sql/SqlSchema"
import type * as Statement from "@effect/sql/Statement"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import * as Row from "../../layers/sqlRows.ts"
import { changes, run, type RunResult, transactionally } from "../sqlResult.ts"

export interface OperatorAccount {
  readonly id: number
  readonly username: string
  readonly display_name: string
  /** A SHA-512 hex not yet replaced by a salted hash (lowercase); `""` once upgraded. */
  readonly legacy_sha512: string
  /** The salted scrypt hash (see passwords.ts), once set. */
  readonly password_hash: string | null
  /** The stored password is the published default one (`Password`). */
  readonly password_is_default: boolean
  readonly role: string
  readonly last_login: number
  readonly created_at: number
  readonly updated_at: number
  readonly mfa_enabled: boolean
  /** As stored: sealed (`v1:…`), or a plain seed from before sealing. */
  readonly mfa_secret: string | null
  readonly auth_epoch: number
}

const UserRow = Schema.Struct({
  id: Row.Num,
  username: Row.Text,
  display_name: Row.Nullable(Row.Text),
  password_sha512: Row.Nullable(Row.Text),
  role: Row.Nullable(Row.Text),
  last_login: Row.Nullable(Row.Num),
  created_at: Row.Nullable(Row.Num),
  updated_at: Row.Nullable(Row.Num),
  mfa_enabled: Row.Nullable(Row.Bool),
  mfa_secret: Row.Nullable(Row.Text),
  auth_epoch: Row.Nullable(Row.Num),
  password_hash: Row.Nullable(Row.Text),
  password_is_default: Row.Nullable(Row.Bool)
})

const toAccount = (r: typeof UserRow.Type): OperatorAccount => ({
  id: r.id,
  username: r.username,
  display_name: r.display_name || r.username,
  legacy_sha512: (r.password_sha512 ?? "").trim().toLowerCase(),
  password_hash: r.password_hash === null || r.password_hash === "" ? null : r.password_hash,
  password_is_default: r.password_is_default ?? false,
  role: r.role || "User",
  last_login: r.last_login || 0,
  created_at: r.created_at || 0,
  updated_at: r.updated_at || 0,
  mfa_enabled: r.mfa_enabled ?? false,
  mfa_secret: r.mfa_secret === null || r.mfa_secret === "" ? null : r.mfa_secret,
  auth_epoch: r.auth_epoch || 0
})

const COLUMNS =
  "id, username, display_name, password_sha512, role, last_login, created_at, updated_at, mfa_enabled, mfa_secret, auth_epoch, password_hash, password_is_default"

/** Infrastructure failures are defects here (the HTTP edge answers them 503). */
export class UsersRepo extends Effect.Service<UsersRepo>()("borealis/UsersRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const now = () => Math.floor(Date.now() / 1000)

    /** A change and its audit record commit together; a failing database is a defect (503 at the edge). */
    const transaction = <A, E, R>(effect: Effect.Effect<A, E, R>) => transactionally(sql, effect)

    const byUsername = SqlSchema.findOne({
      Request: Schema.String,
      Result: UserRow,
      execute: (username) => sql.unsafe(`SELECT ${COLUMNS} FROM users WHERE LOWER(username) = LOWER(?) ORDER BY id LIMIT 1`, [username])
    })
    const findByUsername = (username: string) => byUsername(username).pipe(Effect.map(Option.map(toAccount)), Effect.orDie)

    // Every authenticated operator request reads its account by id.
    const byId = SqlSchema.findOne({ Request: Schema.Number, Result: UserRow, execute: (id) => sql.unsafe(`SELECT ${COLUMNS} FROM users WHERE id = ?`, [id]) })
    const findById = (id: number) => byId(id).pipe(Effect.map(Option.map(toAccount)), Effect.orDie)

    const all = SqlSchema.findAll({
      Request: Schema.Void,
      Result: UserRow,
      execute: () => sql.unsafe(`SELECT ${COLUMNS} FROM users ORDER BY LOWER(username) ASC`)
    })
    const list = all(undefined).pipe(Effect.map((rows) => rows.map(toAccount)), Effect.orDie)

    const countAll = SqlSchema.single({ Request: Schema.Void, Result: Row.CountRow, execute: () => sql`SELECT count(*) AS n FROM users` })
    const count = countAll(undefined).pipe(Effect.map((r) => r.n), Effect.orDie)

    const countAdminRows = SqlSchema.single({
      Request: Schema.Void,
      Result: Row.CountRow,
      execute: () => sql`SELECT count(*) AS n FROM users WHERE LOWER(role) = 'admin'`
    })
    const countAdmins = countAdminRows(undefined).pipe(Effect.map((r) => r.n), Effect.orDie)

    const insert = (input: {
      readonly username: string
      readonly display_name: string
      readonly password_hash: string
      readonly password_is_default: boolean
      readonly role: string
    }) => {
      const ts = now()
      // Fails (not dies) so a unique-constraint race can be told apart by the caller.
      return run(sql`INSERT INTO users (username, display_name, password_sha512, password_hash, password_is_default, role, last_login,
          created_at, updated_at, mfa_enabled, mfa_secret)
        VALUES (${input.username}, ${input.display_name}, '', ${input.password_hash}, ${input.password_is_default ? 1 : 0}, ${input.role}, 0,
          ${ts}, ${ts}, 0, NULL)`)
    }

    const changed = <A extends object>(statement: Statement.Statement<A>) =>
      changes(statement).pipe(Effect.map((n) => n > 0), Effect.orDie)

    const remove = (id: number) => changed(sql`DELETE FROM users WHERE id = ${id}`)

    /** A new password: every older session and token of the account stops working (the epoch moves). */
    const setPassword = (id: number, hash: string, isDefault: boolean) =>
      changed(sql`UPDATE users SET password_sha512 = '', password_hash = ${hash}, password_is_default = ${isDefault ? 1 : 0},
        updated_at = ${now()}, auth_epoch = COALESCE(auth_epoch, 0) + 1 WHERE id = ${id}`)

    /** The same password, stored as a salted hash (upgrade or rehash): sessions and tokens stay valid. */
    const rehashPassword = (id: number, hash: string, isDefault: boolean) =>
      changed(sql`UPDATE users SET password_sha512 = '', password_hash = ${hash}, password_is_default = ${isDefault ? 1 : 0} WHERE id = ${id}`)

    /** Accounts whose password is still an unsalted SHA-512, or whose TOTP seed is not sealed yet. */
    const upgradeRows = SqlSchema.findAll({
      Request: Schema.Void,
      Result: UserRow,
      execute: () =>
        sql.unsafe(`SELECT ${COLUMNS} FROM users WHERE (password_hash IS NULL OR password_hash = '')
         OR (mfa_secret IS NOT NULL AND mfa_secret != '' AND mfa_secret NOT LIKE 'v1:%')`)
    })
    const needingUpgrade = upgradeRows(undefined).pipe(Effect.map((rows) => rows.map(toAccount)), Effect.orDie)

    const setRole = (id: number, role: string) => changed(sql`UPDATE users SET role = ${role}, updated_at = ${now()} WHERE id = ${id}`)

    /** `reset_secret` clears the stored secret and retires every token and session of the account. */
    const setMfa = (id: number, enabled: boolean, resetSecret: boolean) =>
      changed(
        resetSecret
          ? sql`UPDATE users SET mfa_enabled = ${enabled ? 1 : 0}, mfa_secret = NULL, updated_at = ${now()}, auth_epoch = COALESCE(auth_epoch, 0) + 1 WHERE id = ${id}`
          : sql`UPDATE users SET mfa_enabled = ${enabled ? 1 : 0}, updated_at = ${now()} WHERE id = ${id}`
      )

    /** `sealed` is the TOTP seed as sealed by the key folder's key, never the plain seed. */
    const storeMfaSecret = (id: number, sealed: string) =>
      changed(sql`UPDATE users SET mfa_secret = ${sealed}, updated_at = ${now()} WHERE id = ${id}`)

    const touchLastLogin = (id: number) => {
      const ts = now()
      return changed(sql`UPDATE users SET last_login = ${ts}, updated_at = ${ts} WHERE id = ${id}`)
    }

    return {
      transaction,
      findByUsername,
      findById,
      list,
      count,
      countAdmins,
      insert,
      remove,
      setPassword,
      rehashPassword,
      needingUpgrade,
      setRole,
      setMfa,
      storeMfaSecret,
      touchLastLogin
    } as const
  })
}) {
  /**
   * In memory, with the SQL's rules (usernames matched case-insensitively, unique as written; a new
   * password or an MFA reset moves the auth epoch); transactions are a no-op. `accounts` get ids 1, 2, …
   */
  static readonly Test = (accounts: ReadonlyArray<Partial<OperatorAccount> & { readonly username: string }> = []): Layer.Layer<UsersRepo> =>
    Layer.effect(
      UsersRepo,
      Effect.gen(function*() {
        const now = () => Math.floor(Date.now() / 1000)
        const blank = (id: number, username: string): OperatorAccount => ({
          id,
          username,
          display_name: username,
          legacy_sha512: "",
          password_hash: null,
          password_is_default: false,
          role: "User",
          last_login: 0,
          created_at: 0,
          updated_at: 0,
          mfa_enabled: false,
          mfa_secret: null,
          auth_epoch: 0
        })
        const state = yield* Ref.make<ReadonlyArray<OperatorAccount>>(accounts.map((a, i) => ({ ...blank(i + 1, a.username), ...a })))
        const byName = (all: ReadonlyArray<OperatorAccount>, username: string) =>
          [...all].sort((a, b) => a.id - b.id).find((a) => a.username.toLowerCase() === username.toLowerCase())
        /** Applies `change` to account `id`; whether it existed. */
        const update = (id: number, change: (a: OperatorAccount) => Partial<OperatorAccount>) =>
          Ref.modify(state, (all) => [all.some((a) => a.id === id), all.map((a) => (a.id === id ? { ...a, ...change(a) } : a))])
        const needsUpgrade = (a: OperatorAccount) => a.password_hash === null || (a.mfa_secret !== null && !a.mfa_secret.startsWith("v1:"))
        return UsersRepo.make({
          transaction: (effect) => effect,
          findByUsername: (username) => Effect.map(Ref.get(state), (all) => Option.fromNullable(byName(all, username))),
          findById: (id) => Effect.map(Ref.get(state), (all) => Option.fromNullable(all.find((a) => a.id === id))),
          list: Effect.map(Ref.get(state), (all) => [...all].sort((a, b) => a.username.toLowerCase().localeCompare(b.username.toLowerCase()))),
          count: Effect.map(Ref.get(state), (all) => all.length),
          countAdmins: Effect.map(Ref.get(state), (all) => all.filter((a) => a.role.toLowerCase() === "admin").length),
          insert: (input) =>
            Effect.flatMap(Ref.get(state), (all): Effect.Effect<RunResult, SqlError> => {
              if (all.some((a) => a.username === input.username)) {
                return Effect.fail(new SqlError({ cause: new Error("UNIQUE constraint failed: users.username"), message: "insert failed" }))
              }
              const id = Math.max(0, ...all.map((a) => a.id)) + 1
              const ts = now()
              const account: OperatorAccount = {
                ...blank(id, input.username),
                display_name: input.display_name,
                password_hash: input.password_hash,
                password_is_default: input.password_is_default,
                role: input.role,
                created_at: ts,
                updated_at: ts
              }
              return Effect.as(Ref.set(state, [...all, account]), { changes: 1, lastInsertRowid: id })
            }),
          remove: (id) => Ref.modify(state, (all) => [all.some((a) => a.id === id), all.filter((a) => a.id !== id)]),
          setPassword: (id, hash, isDefault) =>
            update(id, (a) => ({ legacy_sha512: "", password_hash: hash, password_is_default: isDefault, updated_at: now(), auth_epoch: a.auth_epoch + 1 })),
          rehashPassword: (id, hash, isDefault) => update(id, () => ({ legacy_sha512: "", password_hash: hash, password_is_default: isDefault })),
          needingUpgrade: Effect.map(Ref.get(state), (all) => all.filter(needsUpgrade)),
          setRole: (id, role) => update(id, () => ({ role, updated_at: now() })),
          setMfa: (id, enabled, resetSecret) =>
            update(id, (a) =>
              resetSecret
                ? { mfa_enabled: enabled, mfa_secret: null, updated_at: now(), auth_epoch: a.auth_epoch + 1 }
                : { mfa_enabled: enabled, updated_at: now() }),
          storeMfaSecret: (id, sealed) => update(id, () => ({ mfa_secret: sealed, updated_at: now() })),
          touchLastLogin: (id) => update(id, () => ({ last_login: now(), updated_at: now() }))
        })
      })
    )
}
