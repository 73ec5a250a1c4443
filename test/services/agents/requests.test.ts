// The report schemas read bodies the way the original does and never refuse one; the column mapping
// keeps the original's alias order. spec: realtime-jobs.md §2.2; config-bootstrap-tests.md §6.8
import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as JSONSchema from "effect/JSONSchema"
import { heartbeatColumns, summaryColumns } from "../../../src/services/agents/AgentInventory.ts"
import { DetailsReport, DetailsSummary, HeartbeatReport } from "../../../src/services/agents/requests.ts"
import { lenientDecoder } from "../../../src/services/lenientSchema.ts"

const heartbeat = lenientDecoder(HeartbeatReport)
const details = lenientDecoder(DetailsReport)
const summary = lenientDecoder(DetailsSummary)
const right = <A>(e: Either.Either<A, string>): A => Either.getOrThrow(e)

describe("HeartbeatReport", () => {
  it("never refuses a body: anything but an object reads as {} and wrong types are ignored", () => {
    for (const body of [{}, { metrics: [], inventory: "x" }, { hostname: {}, external_ip: [1] }, { metrics: null, inventory: null }]) {
      expect(heartbeatColumns(right(heartbeat(body)), 7)).toEqual({ last_seen: 7 })
    }
  })

  it("top-level text is clean_device_str (false and 0 are rendered); metrics text needs a truthy value", () => {
    expect(heartbeatColumns(right(heartbeat({ hostname: 0, device_type: false, external_ip: " 1.2.3.4 " })), 1)).toEqual({
      last_seen: 1,
      hostname: "0",
      device_type: "false",
      external_ip: "1.2.3.4"
    })
    expect(heartbeatColumns(right(heartbeat({ metrics: { last_user: 0, username: false, user: "carol", operating_system: "" } })), 1)).toEqual({
      last_seen: 1,
      last_user: "carol"
    })
    // last_user wins over username, which wins over user; metrics.hostname only without a top-level one
    expect(heartbeatColumns(right(heartbeat({ metrics: { user: "u", username: "n", last_user: "l", hostname: "m" } })), 1)).toMatchObject({
      last_user: "l",
      hostname: "m"
    })
    expect(heartbeatColumns(right(heartbeat({ hostname: "top", metrics: { hostname: "m" } })), 1)).toMatchObject({ hostname: "top" })
  })

  it("text is capped at 1024 characters; uptime is int(); lists and the cpu object are stored as JSON", () => {
    const columns = heartbeatColumns(right(heartbeat({
      external_ip: "x".repeat(5000),
      metrics: { uptime: "42" },
      inventory: { memory: [], storage: [{ size: 1 }], network: {}, cpu: [1] }
    })), 1)
    expect(columns.external_ip).toHaveLength(1024)
    expect(columns).toMatchObject({ uptime: 42, memory: "[]", storage: '[{"size":1}]' })
    expect(columns.network).toBeUndefined()
    expect(columns.cpu).toBeUndefined()
    expect(heartbeatColumns(right(heartbeat({ metrics: { uptime: "soon" } })), 1).uptime).toBeUndefined()
  })
})

describe("DetailsReport", () => {
  it("details is undefined unless it is an object (the service answers 400 then); its parts read leniently", () => {
    expect(right(details({ hostname: "h" })).details).toBeUndefined()
    expect(right(details({ details: [1] })).details).toBeUndefined()
    const read = right(details({ hostname: "h", agent_hash: 5, details: { summary: "no", memory: {}, software: [{ name: "App" }], cpu: { cores: 2 } } }))
    expect(read.agent_hash).toBe("5")
    expect(read.details?.memory).toBeUndefined()
    expect(read.details?.software).toEqual([{ name: "App" }])
    expect(read.details?.cpu).toEqual({ cores: 2 })
    expect(summaryColumns(read.details?.summary ?? right(summary({})))).toEqual({})
  })

  it("summary aliases: the first one reported wins, in the original's order", () => {
    expect(summaryColumns(right(summary({
      device_class: "c", type: "t",
      domain_name: "d",
      public_ip: "9.9.9.9", private_ip: "10.0.0.1",
      last_boot: "yesterday",
      user: "u", username: "n", logged_in_user: "li", last_user_name: "lun",
      os: "os", agent_operating_system: "aos",
      ansible_ee_ver: "1.2"
    })))).toEqual({
      device_type: "t",
      domain: "d",
      external_ip: "9.9.9.9",
      internal_ip: "10.0.0.1",
      last_reboot: "yesterday",
      last_user: "lun",
      operating_system: "aos",
      ansible_ee_ver: "1.2"
    })
    // a falsy alias is no report: the next one counts
    expect(summaryColumns(right(summary({ device_type: 0, type: "", device_class: "Laptop" })))).toEqual({ device_type: "Laptop" })
  })

  it("uptime is int(uptime_sec ?? uptime_seconds ?? uptime): null falls through, an unreadable value stops", () => {
    const uptime = (s: Record<string, unknown>) => summaryColumns(right(summary(s))).uptime
    expect(uptime({ uptime_sec: 1, uptime_seconds: 2, uptime: 3 })).toBe(1)
    expect(uptime({ uptime_sec: null, uptime_seconds: "2", uptime: 3 })).toBe(2)
    expect(uptime({ uptime: 3.9 })).toBe(3)
    expect(uptime({ uptime_sec: "soon", uptime: 3 })).toBeUndefined()
    expect(uptime({})).toBeUndefined()
  })

  it("the OpenAPI side documents every field, and nothing is required (the service judges)", () => {
    const doc = JSONSchema.make(DetailsReport) as { $defs: Record<string, { required: Array<string>; properties: Record<string, any> }> }
    const report = doc.$defs["DetailsReport"]
    expect(report?.required).toEqual([])
    expect(Object.keys(report?.properties ?? {})).toEqual(["hostname", "agent_hash", "agent_id", "details"])
    const inventory = report?.properties["details"]
    expect(Object.keys(inventory.properties)).toEqual(["summary", "memory", "network", "software", "storage", "cpu"])
    expect(inventory.properties.summary.properties).toHaveProperty("uptime_sec")
  })
})
