// Operator login, logout, identity and MFA. spec: config-bootstrap-tests.md §6.9 (H-AUTH), §1.3 (OPAUTH)
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as OpenApi from "@effect/platform/OpenApi"
import * as Schema from "effect/Schema"
import { Wire } from "../../services/errors.ts"
import { LoginRequest, MfaVerifyRequest } from "../../services/operators/requests.ts"
import { access, RequireOperator } from "./security.ts"

const LoginOk = Schema.Struct({
  status: Schema.Literal("ok"),
  username: Schema.String,
  role: Schema.String,
  token: Schema.String
})

const MfaRequired = Schema.Struct({
  status: Schema.Literal("mfa_required"),
  stage: Schema.Literal("setup", "verify"),
  pending_token: Schema.String,
  username: Schema.String,
  role: Schema.String,
  secret: Schema.optional(Schema.String),
  otpauth_url: Schema.optional(Schema.String),
  qr_image: Schema.optional(Schema.String)
})

const Me = Schema.Struct({
  username: Schema.String,
  display_name: Schema.String,
  role: Schema.String,
  password_change_required: Schema.optional(Schema.Literal(true))
})

export const StatusOk = Schema.Struct({ status: Schema.Literal("ok") })

export class AuthApi extends HttpApiGroup.make("auth")
  .add(
    HttpApiEndpoint.post("login", "/api/auth/login")
      .setPayload(LoginRequest)
      .addSuccess(Schema.Union(LoginOk, MfaRequired))
      .addError(Wire.BadRequest)
      .addError(Wire.Unauthorized)
      .addError(Wire.PayloadTooLarge)
      .addError(Wire.RateLimited)
      .annotate(OpenApi.Override, access("public"))
      .annotate(OpenApi.Description, "Sets the HttpOnly `session` cookie and the `borealis_auth` token cookie, or starts an MFA challenge.")
  )
  .add(
    HttpApiEndpoint.post("mfaVerify", "/api/auth/mfa/verify")
      .setPayload(MfaVerifyRequest)
      .addSuccess(LoginOk)
      .addError(Wire.BadRequest)
      .addError(Wire.Unauthorized)
      .addError(Wire.Forbidden)
      .addError(Wire.PayloadTooLarge)
      .addError(Wire.RateLimited)
      .annotate(OpenApi.Override, access("public"))
  )
  .add(HttpApiEndpoint.post("logout", "/api/auth/logout").addSuccess(StatusOk).annotate(OpenApi.Override, access("public")))
  .add(HttpApiEndpoint.get("me", "/api/auth/me").addSuccess(Me).middleware(RequireOperator).annotate(OpenApi.Override, access("Viewer")))
  .annotate(OpenApi.Description, "Operator sessions: session cookie, then `borealis_auth` cookie, then `Authorization: Bearer`.")
{}
