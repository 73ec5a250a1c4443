// GET /api/server/time. spec: config-bootstrap-tests.md §6.13 (test_server_time_endpoint)
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as OpenApi from "@effect/platform/OpenApi"
import * as Schema from "effect/Schema"
import { access, RequireOperator } from "./security.ts"

const ServerTime = Schema.Struct({
  epoch: Schema.Number,
  iso: Schema.String,
  utc_iso: Schema.String,
  timezone: Schema.String,
  offset_seconds: Schema.Number,
  display: Schema.String
})

export class ServerApi extends HttpApiGroup.make("server")
  .add(HttpApiEndpoint.get("time", "/api/server/time").addSuccess(ServerTime))
  .middleware(RequireOperator)
  .annotateEndpoints(OpenApi.Override, access("Viewer"))
{}
