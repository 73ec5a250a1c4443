// Handlers for the assemblies group: read the query or body the way Flask did, call the service.
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import { Assemblies } from "../../services/assemblies/Assemblies.ts"
import { BorealisApi } from "../api/Api.ts"
import type { JsonObject } from "../body.ts"
import { operatorJson } from "../body.ts"

/** `(value or "").strip()` for a body or query field; non-strings read as empty. */
const text = (value: unknown): string => (typeof value === "string" ? value.trim() : "")

/** `request.args.get(name)`: the first value of a query parameter. */
const queryParam = (name: string) =>
  Effect.map(HttpServerRequest.ParsedSearchParams, (params) => {
    const value = params[name]
    return text(Array.isArray(value) ? value[0] : value)
  })

const typeHint = (body: JsonObject): string | undefined => (typeof body["type"] === "string" ? body["type"] : undefined)

export const AssembliesLive = HttpApiBuilder.group(BorealisApi, "assemblies", (handlers) =>
  Effect.gen(function*() {
    const assemblies = yield* Assemblies
    return handlers
      .handle("list", () => Effect.flatMap(queryParam("island"), assemblies.list))
      .handle("load", () =>
        Effect.gen(function*() {
          return yield* assemblies.load(yield* queryParam("island"), yield* queryParam("path"))
        }))
      .handleRaw("create", () =>
        Effect.gen(function*() {
          const body = yield* operatorJson
          const result = yield* assemblies.create({
            island: text(body["island"]),
            kind: text(body["kind"]).toLowerCase(),
            path: text(body["path"]),
            content: body["content"],
            type: typeHint(body)
          })
          return HttpServerResponse.unsafeJson(result)
        }))
      .handleRaw("edit", () =>
        Effect.gen(function*() {
          const body = yield* operatorJson
          const result = yield* assemblies.edit({
            island: text(body["island"]),
            path: text(body["path"]),
            content: body["content"],
            type: typeHint(body)
          })
          return HttpServerResponse.unsafeJson(result)
        }))
      .handleRaw("rename", () =>
        Effect.gen(function*() {
          const body = yield* operatorJson
          const result = yield* assemblies.rename({
            island: text(body["island"]),
            kind: text(body["kind"]).toLowerCase(),
            path: text(body["path"]),
            new_name: text(body["new_name"]),
            type: typeHint(body)
          })
          return HttpServerResponse.unsafeJson(result)
        }))
      .handleRaw("move", () =>
        Effect.gen(function*() {
          const body = yield* operatorJson
          const result = yield* assemblies.move({
            island: text(body["island"]),
            path: text(body["path"]),
            new_path: text(body["new_path"]),
            kind: text(body["kind"]).toLowerCase()
          })
          return HttpServerResponse.unsafeJson(result)
        }))
      .handleRaw("delete", () =>
        Effect.gen(function*() {
          const body = yield* operatorJson
          const result = yield* assemblies.delete({
            island: text(body["island"]),
            path: text(body["path"]),
            kind: text(body["kind"]).toLowerCase()
          })
          return HttpServerResponse.unsafeJson(result)
        }))
  }))
