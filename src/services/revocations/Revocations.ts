// Credentials that stopped being valid, so whoever holds a live connection made with them (the
// Socket.IO layer) can cut it: a socket is authenticated once, at its handshake, and without these a
// deleted operator or a revoked device would keep its open socket.
//
// Each revocation is a row of `credential_revocations`. The process that holds connections runs `feed`
// (the Socket.IO layer does): it reads the rows it has not seen yet — at once for its own, within a
// couple of seconds for another process's (the operator CLI today; the other nodes of a scale-out
// later) — and announces each once on the bus.
import * as SqlClient from "@effect/sql/SqlClient"
import * as SqlSchema from "@effect/sql/SqlSchema"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as PubSub from "effect/PubSub"
import * as Queue from "effect/Queue"
import * as Schema from "effect/Schema"
import * as Row from "../../layers/sqlRows.ts"
import type * as Scope from "effect/Scope"

type OperatorRevocationReason = "deleted" | "role_changed" | "password_reset" | "mfa_reset"
type DeviceRevocationReason = "revoked" | "quarantined" | "deleted" | "rekeyed" | "renamed"

export type Revocation =
  /** Every session and token of an operator account. */
  | { readonly _tag: "OperatorAccount"; readonly userId: number; readonly reason: OperatorRevocationReason }
  /** One operator session (and the tokens bound to it): logout. */
  | { readonly _tag: "OperatorSession"; readonly sessionHash: string; readonly reason: "logout" }
  /** Every connection of a device. */
  | { readonly _tag: "Device"; readonly guid: string; readonly reason: DeviceRevocationReason }

/** How often another process's revocations are looked for. */
const REVOCATION_POLL = Duration.seconds(2)

const RevocationRow = Schema.Struct({ id: Row.Num, kind: Row.Text, subject: Row.Text, reason: Row.Text })
const LatestRow = Schema.Struct({ m: Row.Nullable(Row.Num) })

const subjectOf = (r: Revocation): string =>
  r._tag === "OperatorAccount" ? String(r.userId) : r._tag === "OperatorSession" ? r.sessionHash : r.guid

const fromRow = (row: typeof RevocationRow.Type): Revocation | undefined => {
  switch (row.kind) {
    case "OperatorAccount":
      return { _tag: "OperatorAccount", userId: Number(row.subject), reason: row.reason as OperatorRevocationReason }
    case "OperatorSession":
      return { _tag: "OperatorSession", sessionHash: row.subject, reason: "logout" }
    case "Device":
      return { _tag: "Device", guid: row.subject, reason: row.reason as DeviceRevocationReason }
    default:
      return undefined
  }
}

export class Revocations extends Effect.Service<Revocations>()("borealis/Revocations", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const hub = yield* PubSub.unbounded<Revocation>()
    const wake = yield* Queue.sliding<void>(1)
    const latest = SqlSchema.single({
      Request: Schema.Void,
      Result: LatestRow,
      execute: () => sql`SELECT max(id) AS m FROM credential_revocations`
    })
    const rowsAfter = SqlSchema.findAll({
      Request: Schema.Number,
      Result: RevocationRow,
      execute: (after) => sql`SELECT id, kind, subject, reason FROM credential_revocations WHERE id > ${after} ORDER BY id LIMIT 1000`
    })
    // Only what happens from now on: older revocations concern connections that no longer exist.
    let cursor = yield* latest(undefined).pipe(
      Effect.map((row) => row.m ?? 0),
      Effect.catchAll(() => Effect.succeed(0))
    )

    let failing = false
    const drain = Effect.gen(function*() {
      const rows = yield* rowsAfter(cursor)
      failing = false
      for (const row of rows) {
        cursor = Math.max(cursor, row.id)
        const revocation = fromRow(row)
        if (revocation !== undefined) yield* PubSub.publish(hub, revocation)
      }
    }).pipe(Effect.catchAll((error) =>
      // Said once when reading starts failing (e.g. migrations skipped on an old database), not every poll.
      failing ? Effect.void : Effect.zipRight(
        Effect.sync(() => {
          failing = true
        }),
        Effect.logWarning("credential-revocations-read-failed").pipe(
          Effect.annotateLogs({ reason: String(error._tag === "SqlError" ? error.cause : error) })
        )
      )))

    return {
      /** Call after the change is committed; every process holding such a connection cuts it. */
      publish: (revocation: Revocation) =>
        Effect.gen(function*() {
          yield* sql`INSERT INTO credential_revocations (kind, subject, reason, at)
            VALUES (${revocation._tag}, ${subjectOf(revocation)}, ${revocation.reason}, ${Math.floor(Date.now() / 1000)})`.pipe(Effect.orDie)
          yield* Effect.logInfo("credentials-revoked").pipe(Effect.annotateLogs({ kind: revocation._tag, reason: revocation.reason }))
          yield* Queue.offer(wake, undefined)
        }),
      subscribe: PubSub.subscribe(hub) as Effect.Effect<Queue.Dequeue<Revocation>, never, Scope.Scope>,
      /** Read new revocations as they are made (and every REVOCATION_POLL), announcing each once. */
      feed: Queue.take(wake).pipe(Effect.timeout(REVOCATION_POLL), Effect.ignore, Effect.zipRight(drain), Effect.forever),
      /** Rows older than `beforeSeconds` (the maintenance fiber prunes them). */
      prune: (beforeSeconds: number) =>
        sql`DELETE FROM credential_revocations WHERE at < ${beforeSeconds}`.pipe(Effect.asVoid, Effect.orDie)
    } as const
  })
}) {
  /** In memory: what is published is announced at once to subscribers; nothing is stored or read back. */
  static readonly Test: Layer.Layer<Revocations> = Layer.effect(
    Revocations,
    Effect.map(PubSub.unbounded<Revocation>(), (hub) =>
      Revocations.make({
        publish: (revocation) => Effect.asVoid(PubSub.publish(hub, revocation)),
        subscribe: PubSub.subscribe(hub),
        feed: Effect.never,
        prune: () => Effect.void
      }))
  )
}
