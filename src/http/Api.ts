// Every HTTP route the Engine serves, declared once; the OpenAPI document is generated from this.
import * as HttpApi from "@effect/platform/HttpApi"
import * as OpenApi from "@effect/platform/OpenApi"
import { AgentApi } from "./agent/Api.ts"
import { AuthApi } from "./auth/Api.ts"
import { HealthApi } from "./health/Api.ts"

export class BorealisApi extends HttpApi.make("borealis")
  .add(HealthApi)
  .add(AuthApi)
  .add(AgentApi)
  .annotate(OpenApi.Title, "Borealis Engine")
  .annotate(OpenApi.Version, "0.1.0")
  .annotate(OpenApi.Description, "Wire-compatible Borealis Engine (RMM server). Served at GET /api/openapi.json.")
{}
