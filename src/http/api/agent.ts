// Agent-facing routes: enrollment, token refresh, device-authenticated reports, and the JWKS document.
// spec: auth-enrollment.md §1, §3; realtime-jobs.md §2.2
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiMiddleware from "@effect/platform/HttpApiMiddleware"
import * as OpenApi from "@effect/platform/OpenApi"
import * as Schema from "effect/Schema"
import { DetailsReport, HeartbeatReport } from "../../services/agents/requests.ts"
import { DeviceAuthContext } from "../../services/deviceAuth/DeviceAuth.ts"
import { EnrollPoll, EnrollRequest } from "../../services/enrollment/requests.ts"
import { Wire } from "../../services/errors.ts"
import { RefreshRequest } from "../../services/tokens/requests.ts"
import { access } from "./security.ts"

/** Device authentication (Bearer access token, §3.4 variant B) for the agent report routes. */
export class DeviceAuthentication extends HttpApiMiddleware.Tag<DeviceAuthentication>()("borealis/DeviceAuthentication", {
  provides: DeviceAuthContext,
  failure: Schema.Union(Wire.Unauthorized, Wire.Forbidden, Wire.NotFound, Wire.RateLimited, Wire.BadRequest)
}) {}

const EnrollPending = Schema.Struct({
  status: Schema.Literal("pending"),
  approval_reference: Schema.String,
  server_nonce: Schema.String,
  poll_after_ms: Schema.Number,
  server_certificate: Schema.String.annotations({ description: "the PEM chain the TLS listener presents, or \"\" in plain-HTTP mode" }),
  signing_key: Schema.String
})
const PollAnswer = Schema.Union(
  Schema.Struct({ status: Schema.Literal("pending"), poll_after_ms: Schema.Number }),
  Schema.Struct({ status: Schema.Literal("denied"), reason: Schema.Literal("operator_denied") }),
  Schema.Struct({ status: Schema.Literal("expired") }),
  Schema.Struct({ status: Schema.Literal("approved"), detail: Schema.Literal("finalized") }),
  Schema.Struct({
    status: Schema.Literal("approved"),
    guid: Schema.String,
    access_token: Schema.String,
    expires_in: Schema.Number,
    refresh_token: Schema.String,
    token_type: Schema.Literal("Bearer"),
    server_certificate: Schema.String,
    signing_key: Schema.String
  })
)
const RefreshAnswer = Schema.Struct({
  access_token: Schema.String,
  expires_in: Schema.Number,
  token_type: Schema.Literal("Bearer"),
  refresh_token: Schema.optional(Schema.String).annotations({ description: "only when rotate was requested" })
})
const StatusOk = Schema.Struct({ status: Schema.Literal("ok") })

export class AgentApi extends HttpApiGroup.make("agent")
  .add(
    HttpApiEndpoint.post("enrollRequest", "/api/agent/enroll/request")
      .setPayload(EnrollRequest)
      .addSuccess(EnrollPending)
      .addError(Wire.BadRequest)
      .addError(Wire.RateLimited)
      .addError(Wire.PayloadTooLarge)
      .addError(Wire.ServiceUnavailable)
      .annotate(OpenApi.Override, access("public"))
      .annotate(OpenApi.Description, "Start an enrollment with an install code. No authentication; rate limited per IP (40/min) and key (12/min).")
  )
  .add(
    HttpApiEndpoint.post("enrollPoll", "/api/agent/enroll/poll")
      .setPayload(EnrollPoll)
      .addSuccess(PollAnswer)
      .addError(Wire.BadRequest)
      .addError(Wire.Conflict)
      .addError(Wire.PayloadTooLarge)
      .addError(Wire.ServiceUnavailable)
      .annotate(OpenApi.Override, access("public"))
      .annotate(OpenApi.Description, "Poll with an Ed25519 proof over server_nonce || approval_reference || client_nonce. An unknown reference answers 404 {\"status\":\"unknown\"}.")
  )
  .add(
    HttpApiEndpoint.post("tokenRefresh", "/api/agent/token/refresh")
      .setPayload(RefreshRequest)
      .addSuccess(RefreshAnswer)
      .addError(Wire.BadRequest)
      .addError(Wire.Unauthorized)
      .addError(Wire.Forbidden)
      .addError(Wire.NotFound)
      .addError(Wire.PayloadTooLarge)
      .addError(Wire.ServiceUnavailable)
      .annotate(OpenApi.Override, access("public"))
      .annotate(OpenApi.Description, "A new 15-minute access token. Optional DPoP header; a DPoP-bound refresh token needs a proof of the same key.")
  )
  .add(
    HttpApiEndpoint.post("heartbeat", "/api/agent/heartbeat")
      .setPayload(HeartbeatReport)
      .addSuccess(Schema.Struct({ status: Schema.Literal("ok"), poll_after_ms: Schema.Number }))
      .addError(Wire.NotFound)
      .addError(Wire.Conflict)
      .addError(Wire.PayloadTooLarge)
      .middleware(DeviceAuthentication)
      .annotate(OpenApi.Override, access("device"))
  )
  .add(
    HttpApiEndpoint.post("details", "/api/agent/details")
      .setPayload(DetailsReport)
      .addSuccess(StatusOk)
      .addError(Wire.BadRequest)
      .addError(Wire.Forbidden)
      .addError(Wire.NotFound)
      .addError(Wire.PayloadTooLarge)
      .middleware(DeviceAuthentication)
      .annotate(OpenApi.Override, access("device"))
  )
  .add(
    HttpApiEndpoint.post("scriptRequest", "/api/agent/script/request")
      .addSuccess(Schema.Struct({
        status: Schema.Literal("idle", "quarantined"),
        poll_after_ms: Schema.Number,
        sig_alg: Schema.Literal("ed25519"),
        signing_key: Schema.optional(Schema.String)
      }))
      .middleware(DeviceAuthentication)
      .annotate(OpenApi.Override, access("device"))
  )
  .add(
    HttpApiEndpoint.get("jwks", "/.well-known/jwks.json")
      .addSuccess(Schema.Struct({ keys: Schema.Array(Schema.Record({ key: Schema.String, value: Schema.Unknown })) }))
      .annotate(OpenApi.Override, access("public"))
      .annotate(OpenApi.Description, "The Ed25519 public key that signs agent access tokens (kid = first 16 hex of SHA-256 over its SPKI).")
  )
  .annotate(OpenApi.Title, "agent")
{}
