// Enrollment administration (admin only): install codes and device approvals.
// spec: auth-enrollment.md §1.6; config-bootstrap-tests.md §6.10
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as OpenApi from "@effect/platform/OpenApi"
import * as Schema from "effect/Schema"
import { ApproveRequest, CreateInstallCodeRequest } from "../../services/enrollment/adminRequests.ts"
import { Wire } from "../../services/errors.ts"
import { access, RequireAdmin } from "./security.ts"
import { FirstParam } from "./query.ts"

const InstallCode = Schema.Struct({
  id: Schema.String,
  code: Schema.String,
  expires_at: Schema.NullOr(Schema.String),
  max_uses: Schema.Number,
  use_count: Schema.Number,
  created_by_user_id: Schema.NullOr(Schema.String),
  used_at: Schema.NullOr(Schema.String),
  used_by_guid: Schema.NullOr(Schema.String),
  last_used_at: Schema.NullOr(Schema.String),
  status: Schema.Literal("active", "expired", "used")
})

export const HostnameConflict = Schema.Struct({
  guid: Schema.NullOr(Schema.String),
  ssl_key_fingerprint: Schema.NullOr(Schema.String),
  site_id: Schema.NullOr(Schema.Number),
  site_name: Schema.String,
  fingerprint_match: Schema.Boolean,
  requires_prompt: Schema.Boolean
})

const DeviceApproval = Schema.Struct({
  id: Schema.String,
  approval_reference: Schema.String,
  status: Schema.String,
  hostname_claimed: Schema.String,
  ssl_key_fingerprint_claimed: Schema.String,
  created_at: Schema.NullOr(Schema.String),
  updated_at: Schema.NullOr(Schema.String),
  enrollment_code_id: Schema.NullOr(Schema.String),
  guid: Schema.NullOr(Schema.String),
  approved_by_user_id: Schema.NullOr(Schema.String),
  approved_by_username: Schema.NullOr(Schema.String),
  client_nonce: Schema.String,
  server_nonce: Schema.String,
  conflict_requires_prompt: Schema.Boolean,
  fingerprint_match: Schema.Boolean,
  hostname_conflict: Schema.optional(HostnameConflict),
  alternate_hostname: Schema.optional(Schema.String)
})

const statusParam = Schema.Struct({ status: FirstParam })
const idPath = Schema.Struct({ id: Schema.String })

export class AdminApi extends HttpApiGroup.make("admin")
  .add(
    HttpApiEndpoint.get("listCodes", "/api/admin/enrollment-codes")
      .setUrlParams(statusParam)
      .addSuccess(Schema.Struct({ codes: Schema.Array(InstallCode) }))
  )
  .add(
    HttpApiEndpoint.post("createCode", "/api/admin/enrollment-codes")
      .setPayload(CreateInstallCodeRequest)
      .addSuccess(InstallCode, { status: 201 })
      .addError(Wire.BadRequest)
      .addError(Wire.PayloadTooLarge)
  )
  .add(
    HttpApiEndpoint.del("deleteCode", "/api/admin/enrollment-codes/:id")
      .setPath(idPath)
      .addSuccess(Schema.Struct({ status: Schema.Literal("deleted") }))
      .addError(Wire.NotFound)
  )
  .add(
    HttpApiEndpoint.get("listApprovals", "/api/admin/device-approvals")
      .setUrlParams(statusParam)
      .addSuccess(Schema.Struct({ approvals: Schema.Array(DeviceApproval) }))
  )
  .add(
    HttpApiEndpoint.post("approve", "/api/admin/device-approvals/:id/approve")
      .setPath(idPath)
      .setPayload(ApproveRequest)
      .addSuccess(Schema.Struct({ status: Schema.Literal("approved"), conflict_resolution: Schema.optional(Schema.String) }))
      .addError(Wire.BadRequest)
      .addError(Wire.NotFound)
      .addError(Wire.Conflict)
      .addError(Wire.PayloadTooLarge)
  )
  .add(
    HttpApiEndpoint.post("deny", "/api/admin/device-approvals/:id/deny")
      .setPath(idPath)
      .addSuccess(Schema.Struct({ status: Schema.Literal("denied") }))
      .addError(Wire.NotFound)
      .addError(Wire.Conflict)
  )
  .middleware(RequireAdmin)
  .annotateEndpoints(OpenApi.Override, access("Admin"))
  .annotate(OpenApi.Description, "Install codes and device approvals. Admin role required (401 not_authenticated / 403 forbidden).")
{}
