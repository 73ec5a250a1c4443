// Operators' view of devices: the list with sites and online state, one device's inventory, and the
// description. spec: config-bootstrap-tests.md §6.11 (H-DEV), §5b (D-DEV)
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { Audit } from "../audit/Audit.ts"
import { BadRequest, NotFound } from "../errors.ts"
import type { Actor } from "../actor.ts"
import { transactionally } from "../sqlResult.ts"
import { DeviceDirectoryRepo } from "./DeviceDirectoryRepo.ts"
import { assembleSnapshot, cleanDeviceStr, listedDevice } from "./snapshot.ts"

export class DeviceDirectory extends Effect.Service<DeviceDirectory>()("borealis/DeviceDirectory", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const repo = yield* DeviceDirectoryRepo
    const audit = yield* Audit
    const now = () => Math.floor(Date.now() / 1000)

    const list = Effect.fn("DeviceDirectory.list")(function*() {
      const ts = now()
      return (yield* repo.list).map((d) => listedDevice(d.row, d.site, ts))
    })

    /** `GET /api/devices/<guid>`: the listed form, or 404 `not found`. */
    const byGuid = Effect.fn("DeviceDirectory.byGuid")(function*(guid: string) {
      const found = yield* repo.byGuid(guid)
      if (Option.isNone(found)) return yield* new NotFound({ error: "not found" })
      return listedDevice(found.value.row, found.value.site, now())
    })

    /** `GET /api/device/details/<hostname>`: the snapshot, or `{}` for an unknown host (the original's answer). */
    const details = Effect.fn("DeviceDirectory.details")(function*(hostname: string) {
      const found = yield* repo.byHostname(hostname)
      return Option.match(found, { onNone: () => ({}), onSome: (d) => assembleSnapshot(d.row) })
    })

    const setDescription = Effect.fn("DeviceDirectory.setDescription")(function*(hostnameRaw: string, description: string, actor: Actor) {
      const hostname = cleanDeviceStr(hostnameRaw)
      if (hostname === undefined) return yield* new BadRequest({ error: "invalid hostname" })
      return yield* transactionally(sql, Effect.gen(function*() {
        if ((yield* repo.setDescription(hostname, description)) === 0) return yield* new NotFound({ error: "not found" })
        yield* audit.record({ type: "device.description_changed", actor: actor.username, actor_ip: actor.ip, target: hostname })
      }))
    })

    const brief = Effect.fn("DeviceDirectory.brief")(function*() {
      return yield* repo.brief
    })

    return { list, byGuid, details, setDescription, brief } as const
  })
}) {}
