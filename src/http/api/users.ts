// Operator accounts (admin only). spec: config-bootstrap-tests.md §6.13 (test_http_users)
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as OpenApi from "@effect/platform/OpenApi"
import * as Schema from "effect/Schema"
import { Wire } from "../../services/errors.ts"
import { ChangeRoleRequest, CreateUserRequest, ResetPasswordRequest, UpdateMfaRequest } from "../../services/operators/requests.ts"
import { access, RequireAdmin } from "./security.ts"

const UserView = Schema.Struct({
  username: Schema.String,
  display_name: Schema.String,
  role: Schema.String,
  last_login: Schema.Number,
  created_at: Schema.Number,
  updated_at: Schema.Number,
  mfa_enabled: Schema.Literal(0, 1)
})

const StatusOk = Schema.Struct({ status: Schema.Literal("ok") })
const username = Schema.Struct({ username: Schema.String })

export class UsersApi extends HttpApiGroup.make("users")
  .add(HttpApiEndpoint.get("list", "/api/users").addSuccess(Schema.Struct({ users: Schema.Array(UserView) })))
  .add(
    HttpApiEndpoint.post("create", "/api/users")
      .setPayload(CreateUserRequest)
      .addSuccess(StatusOk)
      .addError(Wire.BadRequest)
      .addError(Wire.Conflict)
  )
  .add(
    HttpApiEndpoint.del("remove", "/api/users/:username")
      .setPath(username)
      .addSuccess(StatusOk)
      .addError(Wire.BadRequest)
      .addError(Wire.NotFound)
  )
  .add(
    HttpApiEndpoint.post("resetPassword", "/api/users/:username/reset_password")
      .setPath(username)
      .setPayload(ResetPasswordRequest)
      .addSuccess(StatusOk)
      .addError(Wire.BadRequest)
      .addError(Wire.NotFound)
  )
  .add(
    HttpApiEndpoint.post("changeRole", "/api/users/:username/role")
      .setPath(username)
      .setPayload(ChangeRoleRequest)
      .addSuccess(StatusOk)
      .addError(Wire.BadRequest)
      .addError(Wire.NotFound)
  )
  .add(
    HttpApiEndpoint.post("updateMfa", "/api/users/:username/mfa")
      .setPath(username)
      .setPayload(UpdateMfaRequest)
      .addSuccess(StatusOk)
      .addError(Wire.BadRequest)
      .addError(Wire.NotFound)
  )
  .addError(Wire.PayloadTooLarge)
  .middleware(RequireAdmin)
  .annotateEndpoints(OpenApi.Override, access("Admin"))
  .annotate(OpenApi.Description, "Operator accounts. Admin role required (401 not_authenticated / 403 forbidden).")
{}
