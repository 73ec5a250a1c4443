// The live agent view: GET /api/agents (§3.6), provisioning, removal, cached screenshots. Operator-only
// here (the original left them open; the web UI always has a session).
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as OpenApi from "@effect/platform/OpenApi"
import * as Schema from "effect/Schema"
import { Wire } from "../../services/errors.ts"
import { ProvisionRequest } from "../../services/realtime/directoryRequests.ts"
import { access, RequireAdmin, RequireOperator } from "./security.ts"

const AgentEntry = Schema.Struct({
  agent_id: Schema.String,
  hostname: Schema.String,
  agent_operating_system: Schema.String,
  last_seen: Schema.Number,
  status: Schema.String,
  service_mode: Schema.String,
  collector_active: Schema.Boolean,
  is_script_agent: Schema.Boolean,
  agent_hash: Schema.String,
  agent_guid: Schema.String
})

export class AgentsApi extends HttpApiGroup.make("agents")
  .add(
    HttpApiEndpoint.get("list", "/api/agents")
      .addSuccess(Schema.Record({ key: Schema.String, value: AgentEntry }))
      .middleware(RequireOperator)
      .annotate(OpenApi.Override, access("Viewer"))
      .annotate(OpenApi.Description, "Agents keyed by agent_id: agent-type devices merged with live sockets; `collector_active` is true while the device is online.")
  )
  .add(
    HttpApiEndpoint.post("provision", "/api/agent/provision")
      .setPayload(ProvisionRequest)
      .addSuccess(Schema.Struct({ status: Schema.Literal("provisioned"), roles: Schema.Array(Schema.Unknown) }))
      .addError(Wire.BadRequest)
      .addError(Wire.PayloadTooLarge)
      .middleware(RequireAdmin)
      .annotate(OpenApi.Override, access("Admin"))
      .annotate(OpenApi.Description, "Store an agent's roles and send `agent_config` to that agent's sockets only.")
  )
  .add(
    HttpApiEndpoint.del("remove", "/api/agent/:agent_id")
      .setPath(Schema.Struct({ agent_id: Schema.String }))
      .addSuccess(Schema.Struct({ status: Schema.Literal("removed") }))
      .addError(Wire.NotFound)
      .middleware(RequireAdmin)
      .annotate(OpenApi.Override, access("Admin"))
  )
  .add(
    HttpApiEndpoint.get("screenshot", "/api/agents/:agent_id/screenshot")
      .setPath(Schema.Struct({ agent_id: Schema.String }))
      .setUrlParams(Schema.Struct({ node_id: Schema.optional(Schema.String) }))
      .addSuccess(Schema.Struct({ agent_id: Schema.String, node_id: Schema.NullOr(Schema.String), image_base64: Schema.String, timestamp: Schema.Number }))
      .addError(Wire.NotFound)
      .middleware(RequireOperator)
      .annotate(OpenApi.Override, access("Viewer"))
      .annotate(OpenApi.Description, "The newest cached frame of an agent (or of one of its screenshot nodes). The cache is bounded (BOREALIS_SCREENSHOT_CACHE_ENTRIES / _BYTES, least recently used evicted).")
  )
{}
