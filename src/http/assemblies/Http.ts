// Handlers for the assemblies group: query parameters read the way Flask did, bodies decoded at the edge with
// the schemas the API declares (assemblies/requests.ts), then the service.
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import { Assemblies } from "../../services/assemblies/Assemblies.ts"
import { AssemblyCreate, AssemblyDelete, AssemblyEdit, AssemblyMove, AssemblyRename } from "../../services/assemblies/requests.ts"
import { BorealisApi } from "../api/Api.ts"
import { operatorPayload } from "../body.ts"

/** `request.args.get(name, "").strip()`: a query parameter's (first) value, or empty. */
const arg = (value: string | undefined): string => (value ?? "").trim()

const createBody = operatorPayload(AssemblyCreate)
const editBody = operatorPayload(AssemblyEdit)
const renameBody = operatorPayload(AssemblyRename)
const moveBody = operatorPayload(AssemblyMove)
const deleteBody = operatorPayload(AssemblyDelete)

export const AssembliesLive = HttpApiBuilder.group(BorealisApi, "assemblies", (handlers) =>
  Effect.gen(function*() {
    const assemblies = yield* Assemblies
    const answer = <A>(result: A) => HttpServerResponse.unsafeJson(result)
    return handlers
      .handle("list", ({ urlParams }) => assemblies.list(arg(urlParams.island)))
      .handle("load", ({ urlParams }) => assemblies.load(arg(urlParams.island), arg(urlParams.path)))
      .handleRaw("create", () => createBody.pipe(Effect.flatMap(assemblies.create), Effect.map(answer)))
      .handleRaw("edit", () => editBody.pipe(Effect.flatMap(assemblies.edit), Effect.map(answer)))
      .handleRaw("rename", () => renameBody.pipe(Effect.flatMap(assemblies.rename), Effect.map(answer)))
      .handleRaw("move", () => moveBody.pipe(Effect.flatMap(assemblies.move), Effect.map(answer)))
      .handleRaw("delete", () => deleteBody.pipe(Effect.flatMap(assemblies.delete), Effect.map(answer)))
  }))
