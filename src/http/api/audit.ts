// GET /api/audit (admin): the audit trail, newest first, paginated and filtered. Added by this rebuild.
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as OpenApi from "@effect/platform/OpenApi"
import * as Schema from "effect/Schema"
import { AuditRecord } from "../../services/audit/events.ts"
import { Wire } from "../../services/errors.ts"
import { access, RequireAdmin } from "./security.ts"
import { FirstParam } from "./query.ts"

export class AuditApi extends HttpApiGroup.make("audit")
  .add(
    HttpApiEndpoint.get("list", "/api/audit")
      .setUrlParams(Schema.Struct({
        type: FirstParam.annotations({ description: "Exact type, or a prefix ending in `.` or `*` (e.g. `auth.*`)" }),
        actor: FirstParam,
        target: FirstParam,
        since: FirstParam.annotations({ description: "Epoch seconds or ISO-8601, inclusive" }),
        until: FirstParam.annotations({ description: "Epoch seconds or ISO-8601, inclusive" }),
        limit: FirstParam.annotations({ description: "1..1000, default 100" }),
        offset: FirstParam.annotations({ description: "Default 0" })
      }))
      .addSuccess(Schema.Struct({
        events: Schema.Array(AuditRecord),
        total: Schema.Number,
        limit: Schema.Number,
        offset: Schema.Number
      }))
      .addError(Wire.BadRequest)
  )
  .middleware(RequireAdmin)
  .annotateEndpoints(OpenApi.Override, access("Admin"))
  .annotate(OpenApi.Description, "Append-only audit trail of operator and security events. Admin role required.")
{}
