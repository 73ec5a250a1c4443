// Every HTTP route the Engine serves, declared once; the OpenAPI document is generated from this.
import * as HttpApi from "@effect/platform/HttpApi"
import * as OpenApi from "@effect/platform/OpenApi"
import { AgentApi } from "./agent.ts"
import { AgentsApi } from "./agents.ts"
import { AdminApi } from "./admin.ts"
import { AssembliesApi } from "./assemblies.ts"
import { AuditApi } from "./audit.ts"
import { AuthApi } from "./auth.ts"
import { DevicesApi } from "./devices.ts"
import { HealthApi } from "./health.ts"
import { AnsibleApi, ScheduledJobsApi, ScriptsApi } from "./jobs.ts"
import { OpsApi } from "./ops.ts"
import { ServerApi } from "./server.ts"
import { SitesApi } from "./sites.ts"
import { UsersApi } from "./users.ts"

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
