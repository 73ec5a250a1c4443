// Operator sessions. A session cookie holds 32 random bytes; only their SHA-256 is stored, so a copy
// of the database does not hand out live sessions. Operator tokens are bound to a session (they name
// its hash), so ending the session ends its token too.
import * as SqlClient from "@effect/sql/SqlClient"
import * as SqlSchema from "@effect/sql/SqlSchema"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import { createHash, randomBytes } from "node:crypto"
import * as Row from "../../layers/sqlRows.ts"
import { changes } from "../sqlResult.ts"

/** A session lives at most this long … */
const SESSION_MAX_AGE_SECONDS = 30 * 24 * 3600
/** … and ends after this long without a request. */
const SESSION_IDLE_SECONDS = 24 * 3600
/** `last_seen_at` is refreshed at most this often (a write per request would be wasteful). */
const TOUCH_EVERY_SECONDS = 300

export interface StoredSession {
  readonly idHash: string
  readonly userId: number
  readonly username: string
  readonly authEpoch: number
  readonly createdAt: number
  readonly expiresAt: number
  readonly lastSeenAt: number
}

const SessionRow = Schema.Struct({
  id_hash: Row.Text,
  user_id: Row.Num,
  username: Row.Text,
  auth_epoch: Row.Num,
  created_at: Row.Num,
  expires_at: Row.Num,
  last_seen_at: Row.Nullable(Row.Num)
})

export const hashSessionId = (value: string): string => createHash("sha256").update(value, "utf8").digest("hex")

const SESSION_ID_SHAPE = /^[A-Za-z0-9_-]{43}$/
const SESSION_HASH_SHAPE = /^[0-9a-f]{64}$/

/** How long a session can still live without another request: what a socket re-checks at. */
export const sessionDeadline = (session: StoredSession): number =>
  Math.min(session.expiresAt, session.lastSeenAt + SESSION_IDLE_SECONDS)

export class SessionsRepo extends Effect.Service<SessionsRepo>()("borealis/SessionsRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const now = () => Math.floor(Date.now() / 1000)
    const deleteDead = (ts: number) =>
      sql`DELETE FROM operator_sessions WHERE expires_at <= ${ts} OR COALESCE(last_seen_at, created_at) <= ${ts - SESSION_IDLE_SECONDS}`

    /** Store a new session; the cookie value exists in clear only in what this returns. */
    const create = (input: {
      readonly userId: number
      readonly username: string
      readonly authEpoch: number
      readonly ip: string | undefined
      readonly userAgent: string | undefined
    }) =>
      Effect.gen(function*() {
        const value = randomBytes(32).toString("base64url")
        const ts = now()
        yield* deleteDead(ts)
        const idHash = hashSessionId(value)
        const expiresAt = ts + SESSION_MAX_AGE_SECONDS
        yield* sql`INSERT INTO operator_sessions (id_hash, user_id, username, auth_epoch, created_at, expires_at, last_seen_at, ip, user_agent)
          VALUES (${idHash}, ${input.userId}, ${input.username}, ${input.authEpoch}, ${ts}, ${expiresAt},
                  ${ts}, ${input.ip ?? null}, ${input.userAgent?.slice(0, 256) ?? null})`
        return { value, idHash, expiresAt }
      }).pipe(Effect.orDie)

    // Every authenticated operator request reads its session.
    const sessionRow = SqlSchema.findOne({
      Request: Schema.String,
      Result: SessionRow,
      execute: (idHash) => sql`SELECT id_hash, user_id, username, auth_epoch, created_at, expires_at, last_seen_at
          FROM operator_sessions WHERE id_hash = ${idHash}`
    })

    /** The live session with this hash (expired and idle ones are not); a use refreshes its idle clock. */
    const findByHash = (idHash: string) =>
      Effect.gen(function*() {
        if (!SESSION_HASH_SHAPE.test(idHash)) return Option.none<StoredSession>()
        const ts = now()
        const found = yield* sessionRow(idHash)
        if (Option.isNone(found)) return Option.none<StoredSession>()
        const row = found.value
        const lastSeen = row.last_seen_at ?? row.created_at
        if (row.expires_at <= ts || lastSeen <= ts - SESSION_IDLE_SECONDS) return Option.none<StoredSession>()
        if (ts - lastSeen >= TOUCH_EVERY_SECONDS) {
          yield* sql`UPDATE operator_sessions SET last_seen_at = ${ts} WHERE id_hash = ${row.id_hash}`
        }
        return Option.some<StoredSession>({
          idHash: row.id_hash,
          userId: row.user_id,
          username: row.username,
          authEpoch: row.auth_epoch,
          createdAt: row.created_at,
          expiresAt: row.expires_at,
          lastSeenAt: ts - lastSeen >= TOUCH_EVERY_SECONDS ? ts : lastSeen
        })
      }).pipe(Effect.orDie)

    /** The live session a cookie value names. */
    const find = (value: string) =>
      SESSION_ID_SHAPE.test(value) ? findByHash(hashSessionId(value)) : Effect.succeed(Option.none<StoredSession>())

    const remove = (idHash: string) => changes(sql`DELETE FROM operator_sessions WHERE id_hash = ${idHash}`).pipe(Effect.orDie)

    const removeForUser = (userId: number) =>
      changes(sql`DELETE FROM operator_sessions WHERE user_id = ${userId}`).pipe(Effect.orDie)

    /** Expired and idle sessions (the maintenance fiber calls this; logins too). */
    const prune = Effect.suspend(() => changes(deleteDead(now()))).pipe(Effect.orDie)

    return { create, find, findByHash, remove, removeForUser, prune } as const
  })
}) {
  /** In memory, with the same lifetimes (absolute and idle) and cookie/hash shapes; for tests of the rules that end sessions. */
  static readonly Test: Layer.Layer<SessionsRepo> = Layer.effect(
    SessionsRepo,
    Effect.gen(function*() {
      const state = yield* Ref.make<ReadonlyMap<string, StoredSession>>(new Map())
      const now = () => Math.floor(Date.now() / 1000)
      const live = (s: StoredSession, ts: number) => s.expiresAt > ts && s.lastSeenAt > ts - SESSION_IDLE_SECONDS
      const removeWhere = (dead: (s: StoredSession) => boolean) =>
        Ref.modify(state, (all) => {
          const kept = new Map([...all].filter(([, s]) => !dead(s)))
          return [all.size - kept.size, kept]
        })
      const findByHash = (idHash: string) =>
        Ref.modify(state, (all): [Option.Option<StoredSession>, ReadonlyMap<string, StoredSession>] => {
          const ts = now()
          const stored = SESSION_HASH_SHAPE.test(idHash) ? all.get(idHash) : undefined
          if (stored === undefined || !live(stored, ts)) return [Option.none(), all]
          if (ts - stored.lastSeenAt < TOUCH_EVERY_SECONDS) return [Option.some(stored), all]
          const touched = { ...stored, lastSeenAt: ts }
          return [Option.some(touched), new Map(all).set(idHash, touched)]
        })
      return SessionsRepo.make({
        create: (input) =>
          Effect.gen(function*() {
            const value = randomBytes(32).toString("base64url")
            const ts = now()
            yield* removeWhere((s) => !live(s, ts))
            const session: StoredSession = {
              idHash: hashSessionId(value),
              userId: input.userId,
              username: input.username,
              authEpoch: input.authEpoch,
              createdAt: ts,
              expiresAt: ts + SESSION_MAX_AGE_SECONDS,
              lastSeenAt: ts
            }
            yield* Ref.update(state, (all) => new Map(all).set(session.idHash, session))
            return { value, idHash: session.idHash, expiresAt: session.expiresAt }
          }),
        find: (value) => (SESSION_ID_SHAPE.test(value) ? findByHash(hashSessionId(value)) : Effect.succeed(Option.none())),
        findByHash,
        remove: (idHash) => removeWhere((s) => s.idHash === idHash),
        removeForUser: (userId) => removeWhere((s) => s.userId === userId),
        prune: Effect.suspend(() => {
          const ts = now()
          return removeWhere((s) => !live(s, ts))
        })
      })
    })
  )
}
