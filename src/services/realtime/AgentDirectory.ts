// GET /api/agents: agent-type device rows merged with the live registry, keyed by agent_id, script
// helpers hidden; provisioning and removal of registry records. spec: realtime-jobs.md §2.2, §3.2, §3.6
import * as SqlClient from "@effect/sql/SqlClient"
import * as SqlSchema from "@effect/sql/SqlSchema"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Row from "../../layers/sqlRows.ts"
import { NotFound } from "../errors.ts"
import { hiddenFromAgentList, ONLINE_WINDOW_SECONDS } from "./agentRules.ts"
import { AgentRegistry } from "./AgentRegistry.ts"
import type { ProvisionRequest } from "./directoryRequests.ts"
import { RealtimeOutbox } from "./RealtimeOutbox.ts"

interface AgentListEntry {
  readonly agent_id: string
  readonly hostname: string
  readonly agent_operating_system: string
  readonly last_seen: number
  readonly status: string
  readonly service_mode: string
  readonly collector_active: boolean
  readonly is_script_agent: boolean
  readonly agent_hash: string
  readonly agent_guid: string
}

const DeviceRow = Schema.Struct({
  guid: Row.Nullable(Row.Text),
  hostname: Row.Nullable(Row.Text),
  agent_id: Row.Nullable(Row.Text),
  operating_system: Row.Nullable(Row.Text),
  // Read leniently, as the original does (`int(last_seen or 0)`).
  last_seen: Row.Nullable(Row.Scalar),
  agent_hash: Row.Nullable(Row.Text)
})

export class AgentDirectory extends Effect.Service<AgentDirectory>()("borealis/AgentDirectory", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const registry = yield* AgentRegistry
    const outbox = yield* RealtimeOutbox

    const agentDevices = SqlSchema.findAll({
      Request: Schema.Void,
      Result: DeviceRow,
      execute: () => sql`SELECT guid, hostname, agent_id, operating_system, last_seen, agent_hash FROM devices
        WHERE (connection_type IS NULL OR TRIM(connection_type) = '') AND agent_id IS NOT NULL AND TRIM(agent_id) != ''`
    })

    const list = Effect.gen(function*() {
      const snapshot = yield* registry.snapshot
      const now = Math.floor((yield* Clock.currentTimeMillis) / 1000)
      const rows = yield* agentDevices(undefined).pipe(Effect.orDie)
      const agents: Record<string, AgentListEntry> = {}
      for (const row of rows) {
        const agentId = (row.agent_id ?? "").trim()
        const live = snapshot.agents.get(agentId)
        const mode = live?.service_mode ?? "currentuser"
        const script = live?.is_script_agent ?? false
        if (hiddenFromAgentList(agentId, mode, script)) continue
        const lastSeen = Math.trunc(live?.last_seen || Number(row.last_seen ?? 0) || 0)
        const online = snapshot.onlineHostnames.has((row.hostname ?? "").toLowerCase())
        agents[agentId] = {
          agent_id: agentId,
          hostname: row.hostname || live?.hostname || "unknown",
          agent_operating_system: row.operating_system || live?.agent_operating_system || "-",
          last_seen: lastSeen,
          status: live?.status || (online || now - lastSeen <= ONLINE_WINDOW_SECONDS ? "Online" : "Offline"),
          service_mode: mode,
          collector_active: live?.collector_active ?? online,
          is_script_agent: script,
          agent_hash: row.agent_hash ?? "",
          agent_guid: row.guid ?? ""
        }
      }
      for (const [agentId, live] of snapshot.agents) {
        if (agents[agentId] !== undefined || hiddenFromAgentList(agentId, live.service_mode, live.is_script_agent)) continue
        agents[agentId] = {
          agent_id: agentId,
          hostname: live.hostname || "unknown",
          agent_operating_system: live.agent_operating_system || "-",
          last_seen: Math.trunc(live.last_seen || 0),
          status: live.status || "orphaned",
          service_mode: live.service_mode,
          collector_active: live.collector_active,
          is_script_agent: live.is_script_agent,
          agent_hash: "",
          agent_guid: live.agent_guid
        }
      }
      return agents
    }).pipe(Effect.withSpan("AgentDirectory.list"))

    /** POST /api/agent/provision {agent_id, roles[]}: store the config and push it to that agent only. */
    const provision = Effect.fn("AgentDirectory.provision")(function*({ agent_id: agentId, roles }: ProvisionRequest) {
      yield* registry.setConfig(agentId, { roles })
      yield* outbox.toAgent(agentId, "agent_config", { roles, agent_id: agentId })
      yield* Effect.logInfo("agent-provisioned").pipe(Effect.annotateLogs({ agent_id: agentId, roles: roles.length }))
      return { status: "provisioned" as const, roles }
    })

    /** DELETE /api/agent/<agent_id>: the registry record and config; the device row stays. */
    const remove = Effect.fn("AgentDirectory.remove")(function*(agentId: string) {
      if (!(yield* registry.deleteAgent(agentId))) return yield* new NotFound({ error: "agent not found" })
      return { status: "removed" as const }
    })

    return { list, provision, remove, onlineHostnames: Effect.map(registry.snapshot, (s) => s.onlineHostnames) } as const
  })
}) {}
