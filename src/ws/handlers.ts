// Which events each side may emit, and the role each operator event needs: the tables the Socket.IO
// layer (Realtime.ts) dispatches through. Handlers live by concern in agentEvents.ts and jobEvents.ts.
import * as Effect from "effect/Effect"
import { type Role, roleAtLeast } from "../services/operators/credentials.ts"
import {
  agentHeartbeat,
  collectorStatus,
  connectAgent,
  listAgentWindows,
  macroStatus,
  relayToOperators,
  requestConfig,
  screenshot,
  screenshotTask
} from "./agentEvents.ts"
import { ackOf, type EventHandler } from "./events.ts"
import { ansibleCancel, ansibleRun, jobReport, jobStatusRequest } from "./jobEvents.ts"
/** What an agent socket (token-era or pre-token) may emit: each only for the sender's own agent ids. */
export const agentHandlers: Record<string, EventHandler> = {
  connect_agent: connectAgent,
  agent_heartbeat: agentHeartbeat,
  collector_status: collectorStatus,
  request_config: requestConfig,
  agent_screenshot_task: screenshotTask,
  screenshot,
  macro_status: macroStatus,
  agent_window_list: relayToOperators("agent_window_list"),
  quick_job_result: jobReport("result"),
  quick_job_progress: jobReport("progress")
}

/** The role each operator event needs (relaying a playbook runs code on devices: Admin only). */
export const OPERATOR_EVENT_ROLES = {
  job_status_request: "Viewer",
  list_agent_windows: "User",
  ansible_playbook_cancel: "User",
  ansible_playbook_run: "Admin"
} as const satisfies Record<string, Role>

/** An operator event refused for the sender's role: dropped with a warning (and `{error}` to an ack). */
const forRole = (event: keyof typeof OPERATOR_EVENT_ROLES, handler: EventHandler): EventHandler => (ctx, args) => {
  const role = OPERATOR_EVENT_ROLES[event]
  if (ctx.identity._tag === "Operator" && roleAtLeast(ctx.identity.role, role)) return handler(ctx, args)
  ackOf(args)?.({ error: "forbidden" })
  return Effect.logWarning("ws-event-forbidden").pipe(
    Effect.annotateLogs({ event, sid: ctx.socket.id, required: role, as: ctx.identity._tag === "Operator" ? ctx.identity.username : ctx.identity._tag })
  )
}

/** What an operator's browser may emit, each behind its role. */
export const operatorHandlers: Record<string, EventHandler> = {
  list_agent_windows: forRole("list_agent_windows", listAgentWindows),
  ansible_playbook_run: forRole("ansible_playbook_run", ansibleRun),
  ansible_playbook_cancel: forRole("ansible_playbook_cancel", ansibleCancel),
  job_status_request: forRole("job_status_request", jobStatusRequest)
}
