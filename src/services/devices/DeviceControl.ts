// Operators revoking, quarantining, restoring and deleting devices. Every change commits with its
// audit record (who, and why), then open sockets of the device are cut:
// - revoke: status `revoked`; every refresh token revoked; access tokens refused from the next request
//   (403 device_revoked, spec auth-enrollment.md §3.4); the agent must be re-enrolled after a restore.
// - quarantine: status `quarantined`; REST stays authenticated (script/request answers `quarantined`,
//   as the original), but no socket is admitted, so nothing is dispatched to it.
// - restore: status `active` again.
// - delete: the row goes; a purge barrier makes refresh answer `device_purged` and stops the access
//   token from re-creating the row; the next enrollment starts above the barrier (L-purge).
import * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { Audit } from "../audit/Audit.ts"
import { BadRequest, NotFound } from "../errors.ts"
import type { Actor } from "../actor.ts"
import { Revocations } from "../revocations/Revocations.ts"
import { changes, transactionally } from "../sqlResult.ts"
import { isoUtc } from "../time.ts"
import { DeviceRecords } from "./DeviceRecords.ts"
import type { DeviceStatus } from "./identity.ts"
import { capText } from "./identity.ts"

const MAX_REASON_CHARS = 500

interface DeviceControlAnswer {
  readonly status: "revoked" | "quarantined" | "active" | "deleted"
  readonly guid: string
  readonly hostname: string
}

/** Every change says why (the operator CLI and `DELETE ?reason=` pass it as typed). */
const reasonOf = (raw: string): Effect.Effect<string, BadRequest> => {
  const reason = raw.trim()
  return reason === "" ? Effect.fail(new BadRequest({ error: "reason is required" })) : Effect.succeed(capText(reason, MAX_REASON_CHARS))
}

export class DeviceControl extends Effect.Service<DeviceControl>()("borealis/DeviceControl", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const devices = yield* DeviceRecords
    const audit = yield* Audit
    const revocations = yield* Revocations

    const find = (guid: string) =>
      Effect.flatMap(devices.byGuid(guid), Option.match({
        onNone: () => Effect.fail(new NotFound({ error: "device not found" })),
        onSome: Effect.succeed
      }))

    /** The change and its audit record commit together; a failing database is a defect (503 at the edge). */
    const atomically = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      transactionally(sql, effect).pipe(Effect.catchIf((e): e is Extract<E, SqlError> => e instanceof SqlError, (e) => Effect.die(e)))

    const setStatus = (storedGuid: string, status: DeviceStatus) =>
      sql`UPDATE devices SET status = ${status} WHERE guid = ${storedGuid}`.pipe(Effect.asVoid)

    const revoke = Effect.fn("DeviceControl.revoke")(function*(guid: string, rawReason: string, actor: Actor) {
      const reason = yield* reasonOf(rawReason)
      const device = yield* find(guid)
      yield* atomically(Effect.gen(function*() {
        yield* setStatus(device.storedGuid, "revoked")
        const revoked = yield* changes(sql`UPDATE refresh_tokens SET revoked_at = ${isoUtc(Date.now())}
          WHERE UPPER(guid) = ${device.guid} AND revoked_at IS NULL`)
        yield* audit.record({
          type: "device.revoked",
          actor: actor.username,
          actor_ip: actor.ip,
          target: device.guid,
          details: { hostname: device.hostname, reason, refresh_tokens_revoked: revoked }
        })
      }))
      yield* revocations.publish({ _tag: "Device", guid: device.guid, reason: "revoked" })
      return { status: "revoked", guid: device.guid, hostname: device.hostname } satisfies DeviceControlAnswer as DeviceControlAnswer
    })

    const quarantine = Effect.fn("DeviceControl.quarantine")(function*(guid: string, rawReason: string, actor: Actor) {
      const reason = yield* reasonOf(rawReason)
      const device = yield* find(guid)
      yield* atomically(Effect.gen(function*() {
        yield* setStatus(device.storedGuid, "quarantined")
        yield* audit.record({
          type: "device.quarantined",
          actor: actor.username,
          actor_ip: actor.ip,
          target: device.guid,
          details: { hostname: device.hostname, reason }
        })
      }))
      yield* revocations.publish({ _tag: "Device", guid: device.guid, reason: "quarantined" })
      return { status: "quarantined", guid: device.guid, hostname: device.hostname } satisfies DeviceControlAnswer as DeviceControlAnswer
    })

    const restore = Effect.fn("DeviceControl.restore")(function*(guid: string, rawReason: string, actor: Actor) {
      const reason = yield* reasonOf(rawReason)
      const device = yield* find(guid)
      yield* atomically(Effect.gen(function*() {
        yield* setStatus(device.storedGuid, "active")
        yield* audit.record({
          type: "device.restored",
          actor: actor.username,
          actor_ip: actor.ip,
          target: device.guid,
          details: { hostname: device.hostname, reason, from: device.status }
        })
      }))
      return { status: "active", guid: device.guid, hostname: device.hostname } satisfies DeviceControlAnswer as DeviceControlAnswer
    })

    const remove = Effect.fn("DeviceControl.delete")(function*(guid: string, rawReason: string, actor: Actor) {
      const reason = yield* reasonOf(rawReason)
      const device = yield* find(guid)
      const required = device.tokenVersion + 1
      yield* atomically(Effect.gen(function*() {
        const now = isoUtc(Date.now())
        yield* sql`INSERT INTO device_purge_barriers (guid, required_token_version, purged_at, purged_by, last_hostname, last_agent_id)
          VALUES (${device.guid}, ${required}, ${now}, ${actor.username}, ${device.hostname}, ${device.agentId})
          ON CONFLICT(guid) DO UPDATE SET required_token_version = MAX(required_token_version, excluded.required_token_version),
            purged_at = excluded.purged_at, purged_by = excluded.purged_by, last_hostname = excluded.last_hostname,
            last_agent_id = excluded.last_agent_id`
        yield* sql`UPDATE refresh_tokens SET revoked_at = ${now} WHERE UPPER(guid) = ${device.guid} AND revoked_at IS NULL`
        yield* sql`DELETE FROM device_keys WHERE UPPER(guid) = ${device.guid}`
        yield* sql`DELETE FROM device_sites WHERE LOWER(device_hostname) = LOWER(${device.hostname})`
        yield* sql`DELETE FROM devices WHERE guid = ${device.storedGuid}`
        yield* audit.record({
          type: "device.deleted",
          actor: actor.username,
          actor_ip: actor.ip,
          target: device.guid,
          details: { hostname: device.hostname, reason, required_token_version: required }
        })
      }))
      yield* revocations.publish({ _tag: "Device", guid: device.guid, reason: "deleted" })
      return { status: "deleted", guid: device.guid, hostname: device.hostname } satisfies DeviceControlAnswer as DeviceControlAnswer
    })

    return { revoke, quarantine, restore, delete: remove } as const
  })
}) {}
