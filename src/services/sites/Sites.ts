// Sites and device assignment, with the original's validation and error strings.
// spec: config-bootstrap-tests.md §6.11 (H-SITES, SITE-REPO)
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { Audit } from "../audit/Audit.ts"
import { BadRequest, Conflict, NotFound } from "../errors.ts"
import type { Actor } from "../actor.ts"
import { transactionally } from "../sqlResult.ts"
import type { AssignSiteRequest, CreateSiteRequest, RenameSiteRequest } from "./requests.ts"
import { SitesRepo } from "./SitesRepo.ts"

const duplicate = new Conflict({ error: "name already exists" })
const siteNotFound = new NotFound({ error: "site not found" })

export class Sites extends Effect.Service<Sites>()("borealis/Sites", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const repo = yield* SitesRepo
    const audit = yield* Audit

    const list = Effect.fn("Sites.list")(function*() {
      return yield* repo.list
    })

    const create = Effect.fn("Sites.create")(function*({ name, description }: CreateSiteRequest, actor: Actor) {
      return yield* transactionally(sql, Effect.gen(function*() {
        const id = yield* repo.insert(name, description)
        if (Option.isNone(id)) return yield* duplicate
        yield* audit.record({ type: "site.created", actor: actor.username, actor_ip: actor.ip, target: String(id.value), details: { name } })
        const site = yield* repo.get(id.value)
        return Option.getOrElse(site, () => ({ id: id.value, name, description, created_at: 0, device_count: 0 }))
      }))
    })

    const remove = Effect.fn("Sites.remove")(function*(ids: ReadonlyArray<number>, actor: Actor) {
      if (ids.length === 0) return 0
      return yield* transactionally(sql, Effect.gen(function*() {
        const deleted = yield* repo.remove(ids)
        yield* audit.record({ type: "site.deleted", actor: actor.username, actor_ip: actor.ip, target: ids.join(","), details: { ids, deleted } })
        return deleted
      }))
    })

    const rename = Effect.fn("Sites.rename")(function*({ id, new_name: name }: RenameSiteRequest, actor: Actor) {
      return yield* transactionally(sql, Effect.gen(function*() {
        const before = yield* repo.get(id)
        const renamed = yield* repo.rename(id, name)
        if (Option.isNone(renamed)) return yield* duplicate
        if (!renamed.value || Option.isNone(before)) return yield* siteNotFound
        yield* audit.record({
          type: "site.renamed",
          actor: actor.username,
          actor_ip: actor.ip,
          target: String(id),
          details: { from: before.value.name, to: name }
        })
        return yield* Effect.flatMap(repo.get(id), Option.match({ onNone: () => siteNotFound, onSome: Effect.succeed }))
      }))
    })

    const deviceMap = Effect.fn("Sites.deviceMap")(function*(hostnames: ReadonlyArray<string> | undefined) {
      const filter = hostnames?.map((h) => h.trim()).filter((h) => h !== "")
      if (filter !== undefined && filter.length === 0) return {}
      return yield* repo.mapping(filter)
    })

    const assign = Effect.fn("Sites.assign")(function*({ site_id: siteId, hostnames }: AssignSiteRequest, actor: Actor) {
      if (hostnames.length === 0) return yield* new BadRequest({ error: "hostnames must be a list of strings" })
      return yield* transactionally(sql, Effect.gen(function*() {
        if (!(yield* repo.exists(siteId))) return yield* siteNotFound
        yield* repo.assign(siteId, hostnames)
        yield* audit.record({
          type: "site.devices_assigned",
          actor: actor.username,
          actor_ip: actor.ip,
          target: String(siteId),
          details: { hostnames }
        })
      }))
    })

    return { list, create, remove, rename, deviceMap, assign } as const
  })
}) {}
