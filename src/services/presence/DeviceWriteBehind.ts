// Write-behind for the per-heartbeat `devices` updates (last_seen, metrics, inventory): coalesced per
// device in memory and written in one transaction every few seconds and on shutdown, so heartbeats
// under load never write one row each synchronously. spec: realtime-jobs.md §3.3
import * as SqlClient from "@effect/sql/SqlClient"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import { changes } from "../sqlResult.ts"

/** Columns a heartbeat may set (only non-empty values are ever queued). */
export interface DeviceColumns {
  readonly last_seen?: number
  readonly hostname?: string
  readonly last_user?: string
  readonly operating_system?: string
  readonly uptime?: number
  readonly agent_id?: string
  readonly external_ip?: string
  readonly internal_ip?: string
  readonly device_type?: string
  readonly memory?: string
  readonly network?: string
  readonly software?: string
  readonly storage?: string
  readonly cpu?: string
}

/** Which row: by GUID (REST heartbeats), or by hostname falling back to agent id (socket events). */
export type DeviceMatch =
  | { readonly _tag: "Guid"; readonly guid: string }
  | { readonly _tag: "Host"; readonly hostname: string; readonly agentId?: string | undefined }

interface Pending {
  readonly match: DeviceMatch
  set: Record<string, string | number>
}

const FLUSH_INTERVAL = Duration.seconds(2)

const keyOf = (match: DeviceMatch): string =>
  match._tag === "Guid" ? `g:${match.guid}` : `h:${match.hostname.toLowerCase()}|${match.agentId ?? ""}`

export class DeviceWriteBehind extends Effect.Service<DeviceWriteBehind>()("borealis/DeviceWriteBehind", {
  scoped: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    let pending = new Map<string, Pending>()

    const enqueue = (match: DeviceMatch, set: DeviceColumns) =>
      Effect.sync(() => {
        const key = keyOf(match)
        const entry = pending.get(key)
        if (entry === undefined) pending.set(key, { match, set: { ...set } as Record<string, string | number> })
        else Object.assign(entry.set, set)
      })

    /** The newest queued `last_seen` for a GUID, not yet written. */
    const pendingLastSeen = (guid: string): number | undefined => pending.get(`g:${guid}`)?.set["last_seen"] as number | undefined

    const writeOne = (entry: Pending) =>
      Effect.gen(function*() {
        const set = entry.set
        if (Object.keys(set).length === 0) return
        if (entry.match._tag === "Guid") {
          yield* sql`UPDATE devices SET ${sql.update(set)} WHERE guid = ${entry.match.guid} OR UPPER(guid) = ${entry.match.guid}`
          return
        }
        const byHost = yield* changes(sql`UPDATE devices SET ${sql.update(set)} WHERE LOWER(hostname) = LOWER(${entry.match.hostname})`)
        if (byHost === 0 && entry.match.agentId !== undefined && entry.match.agentId !== "") {
          const { hostname: _ignored, ...rest } = set
          if (Object.keys(rest).length > 0) yield* sql`UPDATE devices SET ${sql.update(rest)} WHERE agent_id = ${entry.match.agentId}`
        }
      }).pipe(
        // One bad row (e.g. a hostname another device holds) must not lose everyone else's update.
        Effect.catchAll((error) =>
          Effect.logWarning("device-write-behind-row-failed").pipe(
            Effect.annotateLogs({ match: keyOf(entry.match), reason: String(error.cause ?? error) })
          )
        )
      )

    /** Write everything queued so far in one transaction; entries come back if the database fails. */
    const flush = Effect.gen(function*() {
      if (pending.size === 0) return 0
      const batch = pending
      pending = new Map()
      yield* sql.withTransaction(Effect.forEach(batch.values(), writeOne, { discard: true })).pipe(
        Effect.tapError(() =>
          Effect.sync(() => {
            for (const [key, entry] of batch) {
              const newer = pending.get(key)
              pending.set(key, newer === undefined ? entry : { match: entry.match, set: { ...entry.set, ...newer.set } })
            }
          })
        )
      )
      return batch.size
    }).pipe(Effect.withSpan("DeviceWriteBehind.flush"))

    yield* flush.pipe(
      Effect.catchAll((error) => Effect.logWarning("device-write-behind-flush-failed").pipe(Effect.annotateLogs({ reason: String(error.cause) }))),
      Effect.repeat(Schedule.spaced(FLUSH_INTERVAL)),
      Effect.forkScoped,
      Effect.interruptible
    )
    // On shutdown, after the fiber is interrupted: the last batch reaches the database.
    yield* Effect.addFinalizer(() =>
      flush.pipe(
        Effect.tap((n) => (n > 0 ? Effect.logInfo("device-write-behind-flushed").pipe(Effect.annotateLogs({ rows: n })) : Effect.void)),
        Effect.catchAll((error) => Effect.logError("device-write-behind-final-flush-failed", error)),
        Effect.asVoid
      )
    )

    return {
      enqueue,
      flush: flush.pipe(Effect.orDie),
      pendingLastSeen,
      /** Rows waiting to be written (write-behind queue depth). */
      depth: () => pending.size
    } as const
  })
}) {}
