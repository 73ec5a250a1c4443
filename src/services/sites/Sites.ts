// Sites and device assignment, with the original's validation and error strings.
// spec: config-bootstrap-tests.md §6.11 (H-SITES, SITE-REPO)
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { Audit } from "../audit/Audit.ts"
import { BadRequest, Conflict, NotFound } from "../errors.ts"
import type { Actor } from "../actor.ts"
import { pyIntOption, pyStrOrEmpty } from "../pyValues.ts"
import { transactionally } from "../sqlResult.ts"
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

    const create = Effect.fn("Sites.create")(function*(nameRaw: unknown, descriptionRaw: unknown, actor: Actor) {
      const name = pyStrOrEmpty(nameRaw).trim()
      const description = pyStrOrEmpty(descriptionRaw).trim()
      if (name === "") return yield* new BadRequest({ error: "name is required" })
      return yield* transactionally(sql, Effect.gen(function*() {
        const id = yield* repo.insert(name, description)
        if (Option.isNone(id)) return yield* duplicate
        yield* audit.record({ type: "site.created", actor: actor.username, actor_ip: actor.ip, target: String(id.value), details: { name } })
        const site = yield* repo.get(id.value)
        return Option.getOrElse(site, () => ({ id: id.value, name, description, created_at: 0, device_count: 0 }))
      }))
    })

    /** Ids that are not integers are skipped, as the original does. */
    const remove = Effect.fn("Sites.remove")(function*(idsRaw: ReadonlyArray<unknown>, actor: Actor) {
      const ids = [...new Set(idsRaw.flatMap((v) => Option.toArray(pyIntOption(v))))]
      if (ids.length === 0) return 0
      return yield* transactionally(sql, Effect.gen(function*() {
        const deleted = yield* repo.remove(ids)
        yield* audit.record({ type: "site.deleted", actor: actor.username, actor_ip: actor.ip, target: ids.join(","), details: { ids, deleted } })
        return deleted
      }))
    })

    const rename = Effect.fn("Sites.rename")(function*(idRaw: unknown, newNameRaw: unknown, actor: Actor) {
      const name = pyStrOrEmpty(newNameRaw).trim()
      if (name === "") return yield* new BadRequest({ error: "new_name is required" })
      const id = pyIntOption(idRaw)
      // The original crashed here (500); an unusable id is the caller's error.
      if (Option.isNone(id)) return yield* new BadRequest({ error: "invalid id" })
      return yield* transactionally(sql, Effect.gen(function*() {
        const before = yield* repo.get(id.value)
        const renamed = yield* repo.rename(id.value, name)
        if (Option.isNone(renamed)) return yield* duplicate
        if (!renamed.value || Option.isNone(before)) return yield* siteNotFound
        yield* audit.record({
          type: "site.renamed",
          actor: actor.username,
          actor_ip: actor.ip,
          target: String(id.value),
          details: { from: before.value.name, to: name }
        })
        return yield* Effect.flatMap(repo.get(id.value), Option.match({ onNone: () => siteNotFound, onSome: Effect.succeed }))
      }))
    })

    const deviceMap = Effect.fn("Sites.deviceMap")(function*(hostnames: ReadonlyArray<string> | undefined) {
      const filter = hostnames?.map((h) => h.trim()).filter((h) => h !== "")
      if (filter !== undefined && filter.length === 0) return {}
      return yield* repo.mapping(filter)
    })

    const assign = Effect.fn("Sites.assign")(function*(siteIdRaw: unknown, hostnamesRaw: ReadonlyArray<unknown>, actor: Actor) {
      const siteId = pyIntOption(siteIdRaw)
      if (Option.isNone(siteId)) return yield* new BadRequest({ error: "invalid site_id" })
      const hostnames = [
        ...new Set(hostnamesRaw.flatMap((h) => (typeof h === "string" && h.trim() !== "" ? [h.trim()] : [])))
      ]
      if (hostnames.length === 0) return yield* new BadRequest({ error: "hostnames must be a list of strings" })
      return yield* transactionally(sql, Effect.gen(function*() {
        if (!(yield* repo.exists(siteId.value))) return yield* siteNotFound
        yield* repo.assign(siteId.value, hostnames)
        yield* audit.record({
          type: "site.devices_assigned",
          actor: actor.username,
          actor_ip: actor.ip,
          target: String(siteId.value),
          details: { hostnames }
        })
      }))
    })

    return { list, create, remove, rename, deviceMap, assign } as const
  })
}) {}
