// GET /health → {"status":"ok"} (spec: config-bootstrap-tests.md §3.5, auth-enrollment.md §1.5)
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as OpenApi from "@effect/platform/OpenApi"
import * as Schema from "effect/Schema"
import { access } from "./security.ts"

const HealthStatus = Schema.Struct({ status: Schema.Literal("ok") })

export class HealthApi extends HttpApiGroup.make("health")
  .add(HttpApiEndpoint.get("health", "/health").addSuccess(HealthStatus))
  .annotateEndpoints(OpenApi.Override, access("public"))
  .annotate(OpenApi.Description, "Liveness: answers while the process serves HTTP.")
{}
