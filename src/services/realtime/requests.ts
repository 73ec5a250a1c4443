// What agents (and operators' browsers) send over the socket, as one schema per event: the Socket.IO
// edge decodes with them (src/ws/events.ts `eventPayload`) and the registry takes what they decode to.
// A payload that fails is dropped with the failing field's code as the reason ("agent_id missing"…);
// fields are judged in declaration order. The readings are the JavaScript ones the socket handlers
// always applied (not Python's): `String(x)`, `Boolean(x)`, `Number(x)`. spec: realtime-jobs.md §2.1–§2.2
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { capText } from "../devices/identity.ts"
import { checked, lenientStruct, piece, read, type Reader } from "../lenientSchema.ts"

/** Text an agent reports (hostname, OS, user) is capped before it is kept or written anywhere. */
export const MAX_REPORTED_CHARS = 1024

const ok = Either.right
const no = Either.left

/** A JSON string with something besides whitespace in it, as sent (untrimmed). */
const nonBlank = (code: string): Reader<string> => checked(read.string(code), (s) => (s.trim() === "" ? code : undefined))

/** `String(x)` (absent and null read as ""), capped, then trimmed: what the registry keeps. */
const reportedText: Reader<string> = (value) =>
  ok(capText(typeof value === "string" ? value : value === undefined || value === null ? "" : String(value), MAX_REPORTED_CHARS).trim())

/** A service mode as sent: a string (normalised by the registry), anything else as "". */
const modeText: Reader<string> = (value) => ok(typeof value === "string" ? value : "")

/** `Number(x)` when that is a positive finite number (truncated), else `undefined` (the server's clock). */
const claimedSeconds: Reader<number | undefined> = (value) => {
  const n = Number(value)
  return ok(Number.isFinite(n) && n > 0 ? Math.trunc(n) : undefined)
}

/** JavaScript truthiness (`Boolean(x)`). */
const jsTruthy: Reader<boolean> = (value) => ok(Boolean(value))

/** `String(x ?? "")`, for log lines. */
const logText: Reader<string> = (value) => ok(String(value ?? ""))

const AgentId = piece(Schema.String.annotations({ description: "the sending agent's id (its own ids only)" }), nonBlank("agent_id missing"))
const Reported = (description: string) => piece(Schema.String.annotations({ description }), reportedText)
const ServiceMode = piece(Schema.String.annotations({ description: "system | currentuser (and the original's aliases)" }), modeText)

/** `connect_agent` (a bare string is the id: the handler reads it as `{agent_id}`). */
export const ConnectAgentPayload = lenientStruct({
  agent_id: AgentId,
  hostname: Reported("the agent's machine name (kept only while the record has none)"),
  service_mode: ServiceMode
}, "ConnectAgentPayload")
export type ConnectAgentPayload = typeof ConnectAgentPayload.Type

/** `agent_heartbeat`. */
export const AgentHeartbeatPayload = lenientStruct({
  agent_id: AgentId,
  hostname: Reported("the agent's machine name (a device socket's own hostname wins)"),
  service_mode: ServiceMode,
  last_seen: piece(Schema.UndefinedOr(Schema.Number).annotations({ description: "epoch seconds; absent or not positive = now" }), claimedSeconds),
  agent_operating_system: Reported("the operating system's name")
}, "AgentHeartbeatPayload")
export type AgentHeartbeatPayload = typeof AgentHeartbeatPayload.Type

/** `collector_status`. */
export const CollectorStatusPayload = lenientStruct({
  agent_id: AgentId,
  hostname: Reported("the agent's machine name"),
  service_mode: ServiceMode,
  active: piece(Schema.Boolean, jsTruthy),
  last_user: Reported("the interactive user logged on (DOMAIN\\user)")
}, "CollectorStatusPayload")
export type CollectorStatusPayload = typeof CollectorStatusPayload.Type

/** `request_config`, and the agent → operator relays that carry nothing else the server reads (`agent_window_list`). */
export const AgentIdPayload = lenientStruct({ agent_id: AgentId }, "AgentIdPayload")
export type AgentIdPayload = typeof AgentIdPayload.Type

/** `macro_status` (relayed unchanged; node and outcome are logged). */
export const MacroStatusPayload = lenientStruct({
  agent_id: AgentId,
  node_id: piece(Schema.String, logText),
  success: piece(Schema.String, logText)
}, "MacroStatusPayload")
export type MacroStatusPayload = typeof MacroStatusPayload.Type

/** `agent_screenshot_task`: a frame of one node (or geometry only, without an image). */
export const ScreenshotTaskPayload = lenientStruct({
  node_id: piece(
    Schema.String.annotations({ description: "the node the frame belongs to (a string or a number)" }),
    (value) => (typeof value === "number" ? ok(String(value)) : typeof value === "string" && value.trim() !== "" ? ok(value) : no("node_id missing"))
  ),
  agent_id: AgentId,
  image_base64: piece(Schema.UndefinedOr(Schema.String), (value) => ok(typeof value === "string" && value !== "" ? value : undefined))
}, "ScreenshotTaskPayload")
export type ScreenshotTaskPayload = typeof ScreenshotTaskPayload.Type

/** `screenshot`: the agent's whole screen. */
export const ScreenshotPayload = lenientStruct({
  image_base64: piece(Schema.String, nonBlank("image_base64 missing")),
  agent_id: AgentId
}, "ScreenshotPayload")
export type ScreenshotPayload = typeof ScreenshotPayload.Type

/** `list_agent_windows` (operators): to one agent, or to every agent without an id. */
export const ListAgentWindowsPayload = lenientStruct({
  agent_id: piece(Schema.UndefinedOr(Schema.String), (value) => ok(typeof value === "string" && value.trim() !== "" ? value : undefined))
}, "ListAgentWindowsPayload")
export type ListAgentWindowsPayload = typeof ListAgentWindowsPayload.Type
