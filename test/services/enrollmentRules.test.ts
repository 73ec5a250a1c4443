// Pure rules of the agent side: base64, GUIDs, bearer parsing, rate windows, heartbeat columns.
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Schema from "effect/Schema"
import * as TestClock from "effect/TestClock"
import * as crypto from "node:crypto"
import { heartbeatColumns, mergePreserve, summaryColumns } from "../../src/services/agents/AgentInventory.ts"
import { cleanStr, DetailsSummary, HeartbeatReport } from "../../src/services/agents/requests.ts"
import { bearerToken } from "../../src/services/deviceAuth/DeviceAuth.ts"
import {
  deviceStatusAllowsAccess,
  deviceStatusOf,
  normalizeFingerprint,
  normalizeGuid,
  sanitizeServiceContext
} from "../../src/services/devices/identity.ts"
import {
  decodeStrictBase64,
  ed25519PublicKey,
  fingerprintOfSpki,
  maskCode,
  newServerNonce,
  normalizeBase64,
  proofMessage
} from "../../src/services/enrollment/encoding.ts"
import { hashRefreshToken, newRefreshToken } from "../../src/services/tokens/refreshToken.ts"
import { makeSlidingWindow } from "../../src/services/ratelimit/SlidingWindow.ts"
import { lenientDecoder } from "../../src/services/lenientSchema.ts"
import { parseIsoUtc } from "../../src/services/time.ts"

/** A body as the HTTP edge decodes it (these schemas never refuse one). */
const decoded = <A, I>(schema: Schema.Schema<A, I>) => {
  const decode = lenientDecoder(schema)
  return (body: unknown): A => Either.getOrThrow(decode(body))
}
const heartbeat = decoded(HeartbeatReport)
const summary = decoded(DetailsSummary)

describe("GUID normalisation (spec §8, D-AUTH)", () => {
  const canonical = "DE305D54-75B4-431B-ADB2-EB6B9E546014"
  it.each([
    ["{de305d54-75b4-431b-adb2-eb6b9e546014}", canonical],
    ["de305d54-75b4-431b-adb2-eb6b9e546014", canonical],
    ["  DE305D54-75B4-431B-ADB2-EB6B9E546014  ", canonical],
    ["de305d5475b4431badb2eb6b9e546014", canonical],
    ["urn:uuid:de305d54-75b4-431b-adb2-eb6b9e546014", canonical],
    ["{{de305d54-75b4-431b-adb2-eb6b9e546014}}", canonical],
    ["<<de305d54-75b4-431b-adb2-eb6b9e546014>>", canonical],
    // the retry keeps hex digits, so the "d" of "guid" survives and the retry fails: input uppercased
    ["guid: de305d54-75b4-431b-adb2-eb6b9e546014!", "GUID: DE305D54-75B4-431B-ADB2-EB6B9E546014!"],
    ["de30-5d5475b4431badb2eb6b9e546014", canonical],
    ["not-a-guid", "NOT-A-GUID"],
    ["device-7", "DEVICE-7"],
    ["", ""],
    ["   ", ""]
  ])("%j → %j", (input, expected) => {
    expect(normalizeGuid(input)).toBe(expected)
  })

  it("non-strings normalise to empty", () => {
    expect(normalizeGuid(42)).toBe("")
    expect(normalizeGuid(null)).toBe("")
  })

  it("fingerprints, service context, statuses", () => {
    expect(normalizeFingerprint("  AA:BB:CC  ")).toBe("aa:bb:cc")
    expect(normalizeFingerprint("   ")).toBe("")
    expect(sanitizeServiceContext("system")).toBe("SYSTEM")
    expect(sanitizeServiceContext("sys tem!")).toBe("SYSTEM")
    expect(sanitizeServiceContext("@@@")).toBeUndefined()
    expect(sanitizeServiceContext("current_user-2")).toBe("CURRENT_USER-2")
    expect(deviceStatusOf("QUARANTINED")).toBe("quarantined")
    expect(deviceStatusOf("weird")).toBe("active")
    expect(deviceStatusOf(null)).toBe("active")
    expect(deviceStatusAllowsAccess("quarantined")).toBe(true)
    expect(deviceStatusAllowsAccess("revoked")).toBe(false)
    expect(deviceStatusAllowsAccess("decommissioned")).toBe(false)
  })
})

describe("base64 and keys (spec §1.1, §2.2)", () => {
  it("strict decoding refuses what Python's validate=True refuses", () => {
    expect(decodeStrictBase64("aGVsbG8=")?.toString()).toBe("hello")
    expect(decodeStrictBase64("")?.length).toBe(0)
    for (const bad of ["aGVsbG8", "aGVs bG8=", "aGVsbG8=\n", "a-_b", "aGVsbG8==", "@@@@", "aGVsbG8===", "a=Vs"]) {
      expect([bad, decodeStrictBase64(bad)]).toEqual([bad, undefined])
    }
  })

  it("the agent key may carry whitespace and the URL-safe alphabet", () => {
    const { publicKey } = crypto.generateKeyPairSync("ed25519")
    const der = publicKey.export({ format: "der", type: "spki" })
    const b64 = der.toString("base64")
    expect(b64.startsWith("MCowBQYDK2VwAyEA")).toBe(true)
    const messy = `${b64.slice(0, 10)}\n ${b64.slice(10)}`.replaceAll("+", "-").replaceAll("/", "_")
    expect(decodeStrictBase64(normalizeBase64(messy))?.equals(der)).toBe(true)
    expect(fingerprintOfSpki(der)).toBe(crypto.createHash("sha256").update(der).digest("hex"))
    expect(ed25519PublicKey(der)).toBeDefined()
  })

  it("only Ed25519 SPKI is an agent key", () => {
    const rsa = crypto.generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey.export({ format: "der", type: "spki" })
    const p256 = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({ format: "der", type: "spki" })
    expect(ed25519PublicKey(rsa)).toBeUndefined()
    expect(ed25519PublicKey(p256)).toBeUndefined()
    expect(ed25519PublicKey(Buffer.from("0123456789abcdef"))).toBeUndefined()
  })

  it("proof message, nonces, refresh tokens, code masks", () => {
    const m = proofMessage(Buffer.alloc(32, 1), "ref", Buffer.alloc(32, 2))
    expect(m.length).toBe(67)
    expect(m.subarray(32, 35).toString()).toBe("ref")
    expect(Buffer.from(newServerNonce(), "base64")).toHaveLength(32)
    const token = newRefreshToken()
    expect(token).toMatch(/^[A-Za-z0-9_-]{64}$/)
    expect(hashRefreshToken(token)).toMatch(/^[0-9a-f]{64}$/)
    expect(maskCode("ABCD-1234-EF56")).toBe("ABC***F56")
    expect(maskCode("abc")).toBe("***")
    expect(maskCode("")).toBe("<missing>")
  })

  it("ISO timestamps from the original and from this server parse as UTC", () => {
    expect(parseIsoUtc("2024-01-01T00:00:00+00:00")).toBe(Date.UTC(2024, 0, 1))
    expect(parseIsoUtc("2024-01-01T00:00:00.123456+00:00")).toBe(Date.UTC(2024, 0, 1, 0, 0, 0, 123))
    expect(parseIsoUtc("2024-01-01T00:00:00")).toBe(Date.UTC(2024, 0, 1))
    expect(parseIsoUtc("2024-01-01T00:00:00.000Z")).toBe(Date.UTC(2024, 0, 1))
    expect(parseIsoUtc("2024-01-01T02:00:00+02:00")).toBe(Date.UTC(2024, 0, 1))
    expect(parseIsoUtc("garbage")).toBeUndefined()
    expect(parseIsoUtc(null)).toBeUndefined()
  })
})

describe("Bearer parsing (spec §3.4 step 1)", () => {
  it.each([
    ["Bearer abc123", "abc123"],
    ["Bearer  abc", "abc"],
    ["bearer abc", undefined],
    ["Bearer ", undefined],
    ["Bearer", undefined],
    ["Token abc", undefined],
    [undefined, undefined]
  ])("%j → %j", (header, expected) => {
    expect(bearerToken(header)).toBe(expected)
  })
})

describe("sliding-window limiter (spec §6.1)", () => {
  it.effect("allows `limit` per window, denies with the time until the oldest attempt leaves", () =>
    Effect.gen(function*() {
      const limiter = makeSlidingWindow("test", 3, 60)
      for (let i = 0; i < 3; i++) {
        expect((yield* limiter.check("k")).allowed).toBe(true)
        yield* TestClock.adjust("1 second")
      }
      const denied = yield* limiter.check("k")
      expect(denied.allowed).toBe(false)
      expect(denied.retryAfter).toBeCloseTo(57, 5)
      // denied attempts are not recorded; other keys are independent
      expect((yield* limiter.check("other")).allowed).toBe(true)
      yield* TestClock.adjust("57 seconds")
      expect((yield* limiter.check("k")).allowed).toBe(true)
      expect((yield* limiter.check("k")).allowed).toBe(false)
    }))

  it.effect("idle keys are swept so memory stays bounded", () =>
    Effect.gen(function*() {
      const limiter = makeSlidingWindow("test", 1, 1)
      for (let i = 0; i < 2000; i++) yield* limiter.check(`ip:${i}`)
      yield* TestClock.adjust("2 seconds")
      for (let i = 0; i < 1024; i++) yield* limiter.check("same")
      expect(limiter.size()).toBeLessThan(100)
    }))
})

describe("heartbeat and details mapping (E-HB record_heartbeat, _extract_device_columns)", () => {
  it("metrics, addresses and inventory become columns; absent values are left alone", () => {
    const columns = heartbeatColumns(heartbeat({
      hostname: "host-1",
      inventory: { memory: [{ total: "16GB" }], cpu: { cores: 8 }, software: "not a list" },
      metrics: { operating_system: "Windows", last_user: "Admin", uptime: "120" },
      external_ip: "1.2.3.4"
    }), 1000)
    expect(columns).toEqual({
      last_seen: 1000,
      hostname: "host-1",
      last_user: "Admin",
      operating_system: "Windows",
      uptime: 120,
      external_ip: "1.2.3.4",
      memory: '[{"total":"16GB"}]',
      cpu: '{"cores":8}'
    })
    expect(heartbeatColumns(heartbeat({ metrics: { username: "BUNNY-LAB\\alice.smith" } }), 5)).toEqual({ last_seen: 5, last_user: "BUNNY-LAB\\alice.smith" })
    expect(heartbeatColumns(heartbeat({ metrics: { uptime: 120 } }), 5)).toEqual({ last_seen: 5, uptime: 120 })
    expect(heartbeatColumns(heartbeat({ metrics: "nope", inventory: 3 }), 5)).toEqual({ last_seen: 5 })
  })

  it("summary aliases, deep merge that never erases", () => {
    expect(summaryColumns(summary({ os: "Linux", last_user_name: "bob", uptime_sec: 9, type: "Laptop" }))).toEqual({
      operating_system: "Linux",
      last_user: "bob",
      uptime: 9,
      device_type: "Laptop"
    })
    expect(mergePreserve({ a: 1, list: [1], nested: { x: 1, y: 2 } }, { a: "", list: [], nested: { y: 3 }, b: 2 })).toEqual({
      a: 1,
      list: [1],
      nested: { x: 1, y: 3 },
      b: 2
    })
    expect(cleanStr("  x ")).toBe("x")
    expect(cleanStr(7)).toBe("7")
    expect(cleanStr("  ")).toBeUndefined()
    expect(cleanStr({})).toBeUndefined()
  })
})
