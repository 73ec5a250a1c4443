import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import { Sites } from "../../services/sites/Sites.ts"
import { pyTruthy } from "../../services/pyValues.ts"
import { BadRequest } from "../../services/errors.ts"
import { currentActor } from "../actor.ts"
import { BorealisApi } from "../api/Api.ts"
import { operatorJson } from "../body.ts"

/** `payload.get(key) or []`, then it must be a list. */
const listField = (value: unknown, error: string) =>
  !pyTruthy(value) ? Effect.succeed<ReadonlyArray<unknown>>([]) : Array.isArray(value) ? Effect.succeed<ReadonlyArray<unknown>>(value) : Effect.fail(new BadRequest({ error }))

export const SitesLive = HttpApiBuilder.group(BorealisApi, "sites", (handlers) =>
  Effect.gen(function*() {
    const sites = yield* Sites
    return handlers
      .handle("list", () => Effect.map(sites.list(), (list) => ({ sites: list })))
      .handleRaw("create", () =>
        Effect.gen(function*() {
          const payload = yield* operatorJson
          const site = yield* sites.create(payload["name"], payload["description"], yield* currentActor)
          return HttpServerResponse.unsafeJson(site, { status: 201 })
        }))
      .handleRaw("remove", () =>
        Effect.gen(function*() {
          const payload = yield* operatorJson
          const ids = yield* listField(payload["ids"], "ids must be a list")
          const deleted = yield* sites.remove(ids, yield* currentActor)
          return { status: "ok" as const, deleted }
        }))
      .handle("deviceMap", ({ urlParams }) => {
        const raw = urlParams.hostnames
        const first = (typeof raw === "string" ? raw : raw?.[0] ?? "").trim()
        const parts = first.split(",").map((p) => p.trim()).filter((p) => p !== "")
        // `filter_set or None`: no usable hostname means every mapping.
        const filter = parts.length === 0 ? undefined : parts
        return Effect.map(sites.deviceMap(filter), (mapping) => ({ mapping }))
      })
      .handleRaw("assign", () =>
        Effect.gen(function*() {
          const payload = yield* operatorJson
          const hostnames = yield* listField(payload["hostnames"], "hostnames must be a list of strings")
          yield* sites.assign(payload["site_id"], hostnames, yield* currentActor)
          return { status: "ok" as const }
        }))
      .handleRaw("rename", () =>
        Effect.gen(function*() {
          const payload = yield* operatorJson
          return yield* sites.rename(payload["id"], payload["new_name"], yield* currentActor)
        }))
  }))
