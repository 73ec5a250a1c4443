// The socket payload schemas and the edge decoders that use them, without a socket: every drop reason,
// the field that wins when several fail, the readings the registry relies on, and the agent-id check.
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as HashMap from "effect/HashMap"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import type * as Schema from "effect/Schema"
import type { Socket } from "socket.io"
import { lenientDecoder } from "../../src/services/lenientSchema.ts"
import type { SocketIdentity } from "../../src/services/realtime/AgentRegistry.ts"
import {
  AgentHeartbeatPayload,
  AgentIdPayload,
  CollectorStatusPayload,
  ConnectAgentPayload,
  ListAgentWindowsPayload,
  MacroStatusPayload,
  MAX_REPORTED_CHARS,
  ScreenshotPayload,
  ScreenshotTaskPayload
} from "../../src/services/realtime/requests.ts"
import { type EventContext, eventPayload, ownAgentPayload } from "../../src/ws/events.ts"

/** The drop reason of a payload, or its decoded value. */
const decode = <A, I>(schema: Schema.Schema<A, I>) => lenientDecoder(schema)
const value = <A, I>(schema: Schema.Schema<A, I>, payload: unknown): A => Either.getOrThrow(decode(schema)(payload))
const reason = <A, I>(schema: Schema.Schema<A, I>, payload: unknown): string | undefined => Either.getLeft(decode(schema)(payload)).pipe(Option.getOrUndefined)

describe("socket payload schemas (spec realtime-jobs.md §2.1–§2.2)", () => {
  it("agent_id: a string with something besides whitespace, kept as sent", () => {
    const check = <A extends { readonly agent_id: string }, I>(schema: Schema.Schema<A, I>) => {
      for (const bad of [{}, { agent_id: "" }, { agent_id: "  " }, { agent_id: 7 }, { agent_id: null }, { agent_id: ["a"] }]) {
        expect(reason(schema, bad)).toBe("agent_id missing")
      }
      expect(value(schema, { agent_id: " a " }).agent_id).toBe(" a ")
    }
    check(ConnectAgentPayload)
    check(AgentHeartbeatPayload)
    check(CollectorStatusPayload)
    check(AgentIdPayload)
    check(MacroStatusPayload)
  })

  it("screenshots: node_id before agent_id, image_base64 before agent_id", () => {
    expect(reason(ScreenshotTaskPayload, {})).toBe("node_id missing")
    expect(reason(ScreenshotTaskPayload, { node_id: " ", agent_id: "a" })).toBe("node_id missing")
    expect(reason(ScreenshotTaskPayload, { node_id: true, agent_id: "a" })).toBe("node_id missing")
    expect(reason(ScreenshotTaskPayload, { node_id: "n" })).toBe("agent_id missing")
    expect(value(ScreenshotTaskPayload, { node_id: 0, agent_id: "a" })).toEqual({ node_id: "0", agent_id: "a", image_base64: undefined })
    // geometry only (no image, or an empty one) still decodes; a blank image is still an image
    expect(value(ScreenshotTaskPayload, { node_id: "n", agent_id: "a", image_base64: "" }).image_base64).toBeUndefined()
    expect(value(ScreenshotTaskPayload, { node_id: "n", agent_id: "a", image_base64: " " }).image_base64).toBe(" ")
    expect(reason(ScreenshotPayload, { agent_id: "a" })).toBe("image_base64 missing")
    expect(reason(ScreenshotPayload, { agent_id: "a", image_base64: "  " })).toBe("image_base64 missing")
    expect(reason(ScreenshotPayload, {})).toBe("image_base64 missing")
    expect(reason(ScreenshotPayload, { image_base64: "iVBOR" })).toBe("agent_id missing")
    expect(value(ScreenshotPayload, { image_base64: "iVBOR", agent_id: "a" })).toEqual({ image_base64: "iVBOR", agent_id: "a" })
  })

  it("reported text is String(x), capped, then trimmed; modes only as strings", () => {
    const long = "h".repeat(MAX_REPORTED_CHARS + 10)
    expect(value(ConnectAgentPayload, { agent_id: "a", hostname: 42, service_mode: 1 })).toEqual({ agent_id: "a", hostname: "42", service_mode: "" })
    expect(value(ConnectAgentPayload, { agent_id: "a", hostname: null }).hostname).toBe("")
    expect(value(ConnectAgentPayload, { agent_id: "a", hostname: `  ${long}` }).hostname).toBe("h".repeat(MAX_REPORTED_CHARS - 2))
    expect(value(AgentHeartbeatPayload, { agent_id: "a", agent_operating_system: " Windows 11 " }).agent_operating_system).toBe("Windows 11")
    expect(value(CollectorStatusPayload, { agent_id: "a", last_user: { u: 1 } }).last_user).toBe("[object Object]")
    expect(value(CollectorStatusPayload, { agent_id: "a", service_mode: " SYSTEM " }).service_mode).toBe(" SYSTEM ")
  })

  it("last_seen: a positive finite Number(x), truncated; otherwise the server's clock (undefined)", () => {
    const seen = (v: unknown) => value(AgentHeartbeatPayload, { agent_id: "a", last_seen: v }).last_seen
    expect(seen(1700000000.9)).toBe(1700000000)
    expect(seen("1700000000")).toBe(1700000000)
    expect(seen(0.5)).toBe(0)
    expect(seen(true)).toBe(1)
    for (const v of [undefined, null, 0, -5, "soon", "", {}, []]) expect(seen(v)).toBeUndefined()
  })

  it("collector active is JavaScript truthiness; macro fields are logged as String(x ?? \"\")", () => {
    const active = (v: unknown) => value(CollectorStatusPayload, { agent_id: "a", active: v }).active
    for (const v of [true, 1, "0", "false", {}, []]) expect(active(v)).toBe(true)
    for (const v of [undefined, null, false, 0, ""]) expect(active(v)).toBe(false)
    expect(value(MacroStatusPayload, { agent_id: "a", node_id: 3, success: false })).toEqual({ agent_id: "a", node_id: "3", success: "false" })
    expect(value(MacroStatusPayload, { agent_id: "a", node_id: null })).toEqual({ agent_id: "a", node_id: "", success: "" })
  })

  it("list_agent_windows never drops: an id when one was named, else every agent", () => {
    expect(value(ListAgentWindowsPayload, { agent_id: "x" }).agent_id).toBe("x")
    for (const v of [undefined, "", " ", 5]) expect(value(ListAgentWindowsPayload, { agent_id: v }).agent_id).toBeUndefined()
  })
})

/** A socket context without a socket, and the lines the decoders log. */
const contextOf = (identity: SocketIdentity): EventContext => ({ socket: { id: "sid-1" } as Socket, identity })

const withLines = <A>(effect: Effect.Effect<A>) =>
  Effect.gen(function*() {
    const lines: Array<{ message: unknown; level: string; annotations: Record<string, unknown> }> = []
    const logger = Logger.make((o) => void lines.push({ message: o.message, level: o.logLevel.label, annotations: Object.fromEntries(HashMap.toEntries(o.annotations)) }))
    const result = yield* effect.pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)), Logger.withMinimumLogLevel(LogLevel.Debug))
    return { result, lines }
  })

describe("the socket edge decoders", () => {
  const device = { _tag: "Agent", guid: "DE305D54-75B4-431B-ADB2-EB6B9E546014", hostname: "ws-01", serviceMode: Option.none() } as const
  const heartbeat = ownAgentPayload(AgentHeartbeatPayload)

  it.effect("a payload that does not decode is dropped with its reason (a non-object payload reads as {})", () =>
    Effect.gen(function*() {
      for (const args of [[], ["just text"], [null], [[1, 2]], [{ agent_id: "" }]]) {
        const { result, lines } = yield* withLines(heartbeat(contextOf(device), "agent_heartbeat", args))
        expect(Option.isNone(result)).toBe(true)
        expect(lines).toEqual([{ message: ["ws-payload-dropped"], level: "DEBUG", annotations: { event: "agent_heartbeat", reason: "agent_id missing", sid: "sid-1" } }])
      }
      const task = yield* withLines(ownAgentPayload(ScreenshotTaskPayload)(contextOf(device), "agent_screenshot_task", [{ agent_id: "WS-01-script" }]))
      expect(task.lines[0]?.annotations["reason"]).toBe("node_id missing")
    }))

  it.effect("a device socket speaks only for its own agent ids; a pre-token agent for any", () =>
    Effect.gen(function*() {
      const own = yield* withLines(heartbeat(contextOf(device), "agent_heartbeat", [{ agent_id: "WS-01_DE305D54-75B4-431B-ADB2-EB6B9E546014_SYSTEM", hostname: "x" }]))
      expect(Option.map(own.result, (p) => p.hostname)).toEqual(Option.some("x"))
      expect(own.lines).toEqual([])
      const forged = yield* withLines(heartbeat(contextOf(device), "agent_heartbeat", [{ agent_id: "victim-agent-0a1b2c3d" }]))
      expect(Option.isNone(forged.result)).toBe(true)
      expect(forged.lines).toEqual([{ message: ["ws-agent-id-refused"], level: "WARN", annotations: { event: "agent_heartbeat", agent_id: "victim-agent-0a1b2c3d", sid: "sid-1" } }])
      const legacy = yield* withLines(heartbeat(contextOf({ _tag: "LegacyAgent" }), "agent_heartbeat", [{ agent_id: "victim-agent-0a1b2c3d" }]))
      expect(Option.isSome(legacy.result)).toBe(true)
      const operator = yield* withLines(heartbeat(contextOf({ _tag: "Operator", username: "admin", role: "Admin" }), "agent_heartbeat", [{ agent_id: "a" }]))
      expect(Option.isNone(operator.result)).toBe(true)
    }))

  it.effect("operator payloads decode without an agent-id check", () =>
    Effect.gen(function*() {
      const { result, lines } = yield* withLines(eventPayload(ListAgentWindowsPayload)(contextOf({ _tag: "Operator", username: "u", role: "User" }), "list_agent_windows", ["x"]))
      expect(result).toEqual(Option.some({ agent_id: undefined }))
      expect(lines).toEqual([])
    }))
})
