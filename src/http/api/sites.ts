// Sites and site assignment. The original left these routes open; here a logged-in operator is
// required. spec: config-bootstrap-tests.md §6.11 (H-SITES)
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as OpenApi from "@effect/platform/OpenApi"
import * as Schema from "effect/Schema"
import { Wire } from "../../services/errors.ts"
import { AssignSiteRequest, CreateSiteRequest, DeleteSitesRequest, RenameSiteRequest } from "../../services/sites/requests.ts"
import { FirstParam } from "./query.ts"
import { access, RequireAdmin, RequireOperator } from "./security.ts"

export const SiteSummary = Schema.Struct({
  id: Schema.Number,
  name: Schema.String,
  description: Schema.String,
  created_at: Schema.Number,
  device_count: Schema.Number
})

export const SiteMapping = Schema.Struct({ site_id: Schema.Number, site_name: Schema.String })

/** Flask's `request.args.get`: a repeated parameter counts by its first value. */

export class SitesApi extends HttpApiGroup.make("sites")
  .add(
    HttpApiEndpoint.get("list", "/api/sites")
      .addSuccess(Schema.Struct({ sites: Schema.Array(SiteSummary) }))
      .middleware(RequireOperator)
      .annotate(OpenApi.Override, access("Viewer"))
  )
  .add(
    HttpApiEndpoint.post("create", "/api/sites")
      .setPayload(CreateSiteRequest)
      .addSuccess(SiteSummary, { status: 201 })
      .addError(Wire.BadRequest)
      .addError(Wire.Conflict)
      .middleware(RequireAdmin)
      .annotate(OpenApi.Override, access("Admin"))
  )
  .add(
    HttpApiEndpoint.post("remove", "/api/sites/delete")
      .setPayload(DeleteSitesRequest)
      .addSuccess(Schema.Struct({ status: Schema.Literal("ok"), deleted: Schema.Number }))
      .addError(Wire.BadRequest)
      .middleware(RequireAdmin)
      .annotate(OpenApi.Override, access("Admin"))
  )
  .add(
    HttpApiEndpoint.get("deviceMap", "/api/sites/device_map")
      .setUrlParams(Schema.Struct({ hostnames: FirstParam.annotations({ description: "Comma-separated hostnames; all when absent" }) }))
      .addSuccess(Schema.Struct({ mapping: Schema.Record({ key: Schema.String, value: SiteMapping }) }))
      .middleware(RequireOperator)
      .annotate(OpenApi.Override, access("Viewer"))
  )
  .add(
    HttpApiEndpoint.post("assign", "/api/sites/assign")
      .setPayload(AssignSiteRequest)
      .addSuccess(Schema.Struct({ status: Schema.Literal("ok") }))
      .addError(Wire.BadRequest)
      .addError(Wire.NotFound)
      .middleware(RequireAdmin)
      .annotate(OpenApi.Override, access("Admin"))
  )
  .add(
    HttpApiEndpoint.post("rename", "/api/sites/rename")
      .setPayload(RenameSiteRequest)
      .addSuccess(SiteSummary)
      .addError(Wire.BadRequest)
      .addError(Wire.Conflict)
      .addError(Wire.NotFound)
      .middleware(RequireAdmin)
      .annotate(OpenApi.Override, access("Admin"))
  )
  .addError(Wire.PayloadTooLarge)
  .annotate(OpenApi.Description, "Sites. Any operator reads them; changing them needs an Admin (the original left these open).")
{}
