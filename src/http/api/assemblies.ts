// The script library routes, exactly as the original answered them (first-generation Engine
// `interfaces/http/assemblies.py`, the legacy server's same routes). Operator-only.
// Bodies are read like Flask's `get_json(silent=True)`: a JSON object, else `{}`; the payload
// schemas (assemblies/requests.ts) document them here and decode them at the edge.
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as OpenApi from "@effect/platform/OpenApi"
import * as Schema from "effect/Schema"
import { AssemblyCreate, AssemblyDelete, AssemblyEdit, AssemblyMove, AssemblyRename } from "../../services/assemblies/requests.ts"
import { Wire } from "../../services/errors.ts"
import { FirstParam } from "./query.ts"
import { access, RequireAdmin, RequireUser } from "./security.ts"

const timestamps = {
  last_edited: Schema.String.annotations({ description: "server-local YYYY-MM-DDTHH:MM:SS" }),
  last_edited_epoch: Schema.Number
}

const ScriptItem = Schema.Struct({
  file_name: Schema.String,
  rel_path: Schema.String,
  type: Schema.String,
  name: Schema.String,
  category: Schema.String,
  description: Schema.String,
  ...timestamps
})

const WorkflowItem = Schema.Struct({
  file_name: Schema.String,
  rel_path: Schema.String,
  type: Schema.Literal("workflow"),
  tab_name: Schema.String,
  ...timestamps
})

const AssemblyListing = Schema.Struct({
  root: Schema.String.annotations({
    description: "The island's folder relative to the Assemblies root (Scripts | Workflows | Ansible_Playbooks); the original sent the server's absolute path"
  }),
  items: Schema.Array(Schema.Union(WorkflowItem, ScriptItem)),
  folders: Schema.Array(Schema.String)
})

const MutationResult = Schema.Struct({
  status: Schema.Literal("ok"),
  rel_path: Schema.optional(Schema.String)
})

const mutation = <const Name extends string, const Path extends `/${string}`>(name: Name, path: Path) =>
  HttpApiEndpoint.post(name, path)
    .addSuccess(MutationResult)
    .addError(Wire.BadRequest)
    .addError(Wire.NotFound)
    .addError(Wire.Conflict)
    .addError(Wire.PayloadTooLarge)
    .middleware(RequireAdmin)
    .annotate(OpenApi.Override, access("Admin"))

export class AssembliesApi extends HttpApiGroup.make("assemblies")
  .add(
    HttpApiEndpoint.get("list", "/api/assembly/list")
      .setUrlParams(Schema.Struct({ island: FirstParam.annotations({ description: "scripts | workflows | ansible (aliases accepted)" }) }))
      .addSuccess(AssemblyListing)
      .addError(Wire.BadRequest)
      .middleware(RequireUser)
      .annotate(OpenApi.Override, access("User"))
      .annotate(OpenApi.Description, "`?island=`: every file and folder of the island, newest first.")
  )
  .add(
    HttpApiEndpoint.get("load", "/api/assembly/load")
      .setUrlParams(Schema.Struct({ island: FirstParam, path: FirstParam.annotations({ description: "the file's path inside the island" }) }))
      .addSuccess(Schema.Unknown)
      .addError(Wire.BadRequest)
      .addError(Wire.NotFound)
      .middleware(RequireUser)
      .annotate(OpenApi.Override, access("User"))
      .annotate(
        OpenApi.Description,
        "`?island=&path=`: a workflow's JSON as stored; otherwise `{file_name, rel_path, type, assembly, content}` (script decoded)."
      )
  )
  .add(mutation("create", "/api/assembly/create").setPayload(AssemblyCreate).annotate(OpenApi.Description, "A folder, or a file (`.json` added when the name has no extension)."))
  .add(mutation("edit", "/api/assembly/edit").setPayload(AssemblyEdit).annotate(OpenApi.Description, "Replace a file's document; a non-JSON script becomes a `.json` document."))
  .add(mutation("rename", "/api/assembly/rename").setPayload(AssemblyRename))
  .add(mutation("move", "/api/assembly/move").setPayload(AssemblyMove).annotate(OpenApi.Description, "Into an existing folder keeps the name."))
  .add(mutation("delete", "/api/assembly/delete").setPayload(AssemblyDelete))
  .annotate(
    OpenApi.Description,
    "The script library under `<project root>/Assemblies`: Workflows, Scripts, Ansible_Playbooks. A User reads it (to run its scripts); only an Admin authors, edits, moves or deletes."
  )
{}
