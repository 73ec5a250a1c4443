// Every HTTP route the Engine serves, declared once; the OpenAPI document is generated from this.
import * as HttpApi from "@effect/platform/HttpApi"
import * as OpenApi from "@effect/platform/OpenApi"
import { AgentApi } from "./agent/Api.ts"
import { AgentsApi } from "./agents/Api.ts"
import { AdminApi } from "./admin/Api.ts"
import { AssembliesApi } from "./assemblies/Api.ts"
import { AuditApi } from "./audit/Api.ts"
import { AuthApi } from "./auth/Api.ts"
import { DevicesApi } from "./devices/Api.ts"
import { HealthApi } from "./health/Api.ts"
import { AnsibleApi, ScheduledJobsApi, ScriptsApi } from "./jobs/Api.ts"
import { OpsApi } from "./ops/Api.ts"
import { ServerApi } from "./server/Api.ts"
import { SitesApi } from "./sites/Api.ts"
import { UsersApi } from "./users/Api.ts"

export class BorealisApi extends HttpApi.make("borealis")
  .add(HealthApi)
  .add(OpsApi)
  .add(AuthApi)
  .add(UsersApi)
  .add(SitesApi)
  .add(DevicesApi)
  .add(AdminApi)
  .add(ServerApi)
  .add(AuditApi)
  .add(AssembliesApi)
  .add(AgentApi)
  .add(AgentsApi)
  .add(ScheduledJobsApi)
  .add(ScriptsApi)
  .add(AnsibleApi)
  .annotate(OpenApi.Title, "Borealis Engine")
  .annotate(OpenApi.Version, "0.1.0")
  .annotate(OpenApi.Description, "Wire-compatible Borealis Engine (RMM server). Served at GET /api/openapi.json.")
{}
