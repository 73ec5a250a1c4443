import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import { AssignSiteRequest, CreateSiteRequest, DeleteSitesRequest, RenameSiteRequest } from "../../services/sites/requests.ts"
import { Sites } from "../../services/sites/Sites.ts"
import { currentActor } from "../actor.ts"
import { BorealisApi } from "../api/Api.ts"
import { operatorPayload } from "../body.ts"

const createBody = operatorPayload(CreateSiteRequest)
const removeBody = operatorPayload(DeleteSitesRequest)
const assignBody = operatorPayload(AssignSiteRequest)
const renameBody = operatorPayload(RenameSiteRequest)

export const SitesLive = HttpApiBuilder.group(BorealisApi, "sites", (handlers) =>
  Effect.gen(function*() {
    const sites = yield* Sites
    return handlers
      .handle("list", () => Effect.map(sites.list(), (list) => ({ sites: list })))
      .handleRaw("create", () =>
        Effect.gen(function*() {
          const site = yield* sites.create(yield* createBody, yield* currentActor)
          return HttpServerResponse.unsafeJson(site, { status: 201 })
        }))
      .handleRaw("remove", () =>
        Effect.gen(function*() {
          const { ids } = yield* removeBody
          const deleted = yield* sites.remove(ids, yield* currentActor)
          return { status: "ok" as const, deleted }
        }))
      .handle("deviceMap", ({ urlParams }) => {
        const first = (urlParams.hostnames ?? "").trim()
        const parts = first.split(",").map((p) => p.trim()).filter((p) => p !== "")
        // `filter_set or None`: no usable hostname means every mapping.
        const filter = parts.length === 0 ? undefined : parts
        return Effect.map(sites.deviceMap(filter), (mapping) => ({ mapping }))
      })
      .handleRaw("assign", () =>
        Effect.gen(function*() {
          yield* sites.assign(yield* assignBody, yield* currentActor)
          return { status: "ok" as const }
        }))
      .handleRaw("rename", () => Effect.flatMap(renameBody, (body) => Effect.flatMap(currentActor, (actor) => sites.rename(body, actor))))
  }))
