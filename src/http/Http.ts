// The implemented API: every group's handlers plus API-level middleware.
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as Layer from "effect/Layer"
import { BorealisApi } from "./api/Api.ts"
import { AgentLive, DeviceAuthenticationLive } from "./agent/Http.ts"
import { AgentsLive } from "./agents/Http.ts"
import { AdminLive } from "./admin/Http.ts"
import { AssembliesLive } from "./assemblies/Http.ts"
import { AuditLive } from "./audit/Http.ts"
import { AuthLive } from "./auth/Http.ts"
import { AuthMiddlewareLive } from "./auth/Middleware.ts"
import { DevicesLive } from "./devices/Http.ts"
import { HealthLive } from "./health/Http.ts"
import { AnsibleLive, ScheduledJobsLive, ScriptsLive } from "./jobs/Http.ts"
import { OpsLive } from "./ops/Http.ts"
import { ApiErrorsLive } from "./middleware.ts"
import { ServerLive } from "./server/Http.ts"
import { SitesLive } from "./sites/Http.ts"
import { UsersLive } from "./users/Http.ts"

export const ApiLive = HttpApiBuilder.api(BorealisApi).pipe(
  Layer.provide([HealthLive, OpsLive, AuthLive, UsersLive, SitesLive, DevicesLive, AdminLive, ServerLive, AuditLive, AssembliesLive, AgentLive, AgentsLive, ScheduledJobsLive, ScriptsLive, AnsibleLive]),
  Layer.provide(DeviceAuthenticationLive),
  Layer.provide(AuthMiddlewareLive),
  Layer.provide(ApiErrorsLive)
)

/** OpenAPI document of {@link BorealisApi}, served at GET /api/openapi.json. */
export const OpenApiLive = HttpApiBuilder.middlewareOpenApi({ path: "/api/openapi.json" })

/** What the listener needs to build the app: the API, its router and middleware registries. */
export const HttpAppLive = Layer.mergeAll(OpenApiLive, ApiErrorsLive).pipe(
  Layer.provideMerge(ApiLive),
  Layer.provideMerge(HttpApiBuilder.Router.Live),
  Layer.provideMerge(HttpApiBuilder.Middleware.layer)
)
