// Operations endpoints: readiness and Prometheus metrics. (`GET /health` stays the original's
// liveness answer, in the health group.)
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as OpenApi from "@effect/platform/OpenApi"
import * as Schema from "effect/Schema"
import { access, RequireOperator } from "./security.ts"

const Report = Schema.Struct({
  status: Schema.Literal("ready", "unavailable", "draining"),
  checks: Schema.Record({ key: Schema.String, value: Schema.Literal("ok", "unavailable", "not_running") })
})

export class OpsApi extends HttpApiGroup.make("ops")
  .add(
    HttpApiEndpoint.get("ready", "/health/ready")
      .addSuccess(Report)
      .addError(Report.annotations({ identifier: "NotReady" }), { status: 503 })
      .annotate(OpenApi.Override, access("public"))
      .annotate(OpenApi.Description, "Readiness: 200 when the database, the agent registry and the scheduler answer; 503 while any is down or while the server drains for shutdown.")
  )
  .add(
    HttpApiEndpoint.get("metrics", "/metrics")
      .addSuccess(Schema.String)
      .middleware(RequireOperator)
      .annotate(OpenApi.Override, access("Viewer"))
      .annotate(OpenApi.Description, "Prometheus text format. Needs an operator (session cookie or `Authorization: Bearer <borealis_auth token>`); BOREALIS_METRICS_LISTEN also serves it unauthenticated on a separate address.")
  )
{}
