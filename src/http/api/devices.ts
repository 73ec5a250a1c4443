// Device inventory and activity history for operators. The original left these routes open; here a
// logged-in operator is required. spec: config-bootstrap-tests.md §6.11 (H-DEV), §5b (D-DEV)
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as OpenApi from "@effect/platform/OpenApi"
import * as Schema from "effect/Schema"
import { DescriptionRequest, ReasonRequest } from "../../services/devices/requests.ts"
import { Wire } from "../../services/errors.ts"
import { FirstParam } from "./query.ts"
import { access, RequireAdmin, RequireOperator, RequireUser } from "./security.ts"

/** The D-DEV snapshot (plus site fields and Online/Offline `status` in lists); described, not re-validated. */
const Device = Schema.Record({ key: Schema.String, value: Schema.Unknown }).annotations({ identifier: "DeviceSnapshot" })

const ActivitySummary = Schema.Struct({
  id: Schema.Number,
  script_name: Schema.NullOr(Schema.String),
  script_path: Schema.NullOr(Schema.String),
  script_type: Schema.NullOr(Schema.String),
  ran_at: Schema.NullOr(Schema.Number),
  status: Schema.NullOr(Schema.String),
  has_stdout: Schema.Boolean,
  has_stderr: Schema.Boolean
})

const ActivityEntry = Schema.Struct({
  id: Schema.Number,
  hostname: Schema.NullOr(Schema.String),
  script_name: Schema.NullOr(Schema.String),
  script_path: Schema.NullOr(Schema.String),
  script_type: Schema.NullOr(Schema.String),
  ran_at: Schema.NullOr(Schema.Number),
  status: Schema.NullOr(Schema.String),
  stdout: Schema.String,
  stderr: Schema.String
})

const StatusOk = Schema.Struct({ status: Schema.Literal("ok") })

const guidPath = Schema.Struct({ guid: Schema.String })
const ControlAnswer = Schema.Struct({
  status: Schema.Literal("revoked", "quarantined", "active", "deleted"),
  guid: Schema.String,
  hostname: Schema.String
})
const control = <const Name extends string, const Path extends `/${string}`>(name: Name, path: Path, description: string) =>
  HttpApiEndpoint.post(name, path)
    .setPath(guidPath)
    .setPayload(ReasonRequest)
    .addSuccess(ControlAnswer)
    .addError(Wire.BadRequest)
    .addError(Wire.NotFound)
    .addError(Wire.PayloadTooLarge)
    .middleware(RequireAdmin)
    .annotate(OpenApi.Override, access("Admin"))
    .annotate(OpenApi.Description, description)
const hostname = Schema.Struct({ hostname: Schema.String })

export class DevicesApi extends HttpApiGroup.make("devices")
  .add(
    HttpApiEndpoint.get("list", "/api/devices")
      .addSuccess(Schema.Struct({ devices: Schema.Array(Device) }))
      .middleware(RequireOperator)
      .annotate(OpenApi.Override, access("Viewer"))
  )
  .add(
    HttpApiEndpoint.get("byGuid", "/api/devices/:guid")
      .setPath(Schema.Struct({ guid: Schema.String }))
      .addSuccess(Device)
      .addError(Wire.NotFound)
      .middleware(RequireOperator)
      .annotate(OpenApi.Override, access("Viewer"))
  )
  .add(
    HttpApiEndpoint.get("details", "/api/device/details/:hostname")
      .setPath(hostname)
      .addSuccess(Device.annotations({ description: "The snapshot, or {} for an unknown hostname" }))
      .middleware(RequireOperator)
      .annotate(OpenApi.Override, access("Viewer"))
  )
  .add(
    HttpApiEndpoint.post("description", "/api/device/description/:hostname")
      .setPath(hostname)
      .setPayload(DescriptionRequest)
      .addSuccess(StatusOk)
      .addError(Wire.BadRequest)
      .addError(Wire.NotFound)
      .addError(Wire.PayloadTooLarge)
      .middleware(RequireUser)
      .annotate(OpenApi.Override, access("User"))
  )
  .add(
    HttpApiEndpoint.get("activity", "/api/device/activity/:hostname")
      .setPath(hostname)
      .addSuccess(Schema.Struct({ history: Schema.Array(ActivitySummary) }))
      .middleware(RequireOperator)
      .annotate(OpenApi.Override, access("Viewer"))
  )
  .add(
    HttpApiEndpoint.del("clearActivity", "/api/device/activity/:hostname")
      .setPath(hostname)
      .addSuccess(StatusOk)
      .middleware(RequireAdmin)
      .annotate(OpenApi.Override, access("Admin"))
  )
  .add(control(
    "revoke",
    "/api/devices/:guid/revoke",
    "Revoke a device: its refresh tokens are revoked, its access tokens refused from the next request (403 device_revoked), its sockets cut. Audited with who and why."
  ))
  .add(control(
    "quarantine",
    "/api/devices/:guid/quarantine",
    "Quarantine a device: its sockets are cut and refused (so nothing is dispatched to it); its REST calls still authenticate and script/request answers `quarantined`."
  ))
  .add(control("restore", "/api/devices/:guid/restore", "Make a revoked or quarantined device active again (a revoked one must re-enroll: its refresh tokens stay revoked)."))
  .add(
    HttpApiEndpoint.del("remove", "/api/devices/:guid")
      .setPath(guidPath)
      // Optional to the router so that a missing reason answers the service's own 400 {"error":"reason is required"}.
      .setUrlParams(Schema.Struct({ reason: FirstParam.annotations({ description: "Why (required)" }) }))
      .addSuccess(ControlAnswer)
      .addError(Wire.BadRequest)
      .addError(Wire.NotFound)
      .middleware(RequireAdmin)
      .annotate(OpenApi.Override, access("Admin"))
      .annotate(
        OpenApi.Description,
        "Delete a device: its row and keys go, a purge barrier makes its refresh answer `device_purged`, its sockets are cut. `?reason=` is required."
      )
  )
  .add(
    HttpApiEndpoint.get("activityEntry", "/api/device/activity/job/:id")
      .setPath(Schema.Struct({ id: Schema.String }))
      .addSuccess(ActivityEntry)
      .addError(Wire.NotFound)
      .middleware(RequireOperator)
      .annotate(OpenApi.Override, access("Viewer"))
  )
  .annotate(
    OpenApi.Description,
    "Device inventory and activity. Any operator reads; a User edits descriptions; an Admin clears history (the original left these open)."
  )
{}
