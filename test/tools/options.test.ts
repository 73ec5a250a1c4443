import { describe, expect, it } from "@effect/vitest"
import { parseRunArgs, parseSeedArgs, UsageError } from "../../src/tools/simulator/options.ts"
import { assertLoopbackUrl, sourceAddressFor } from "../../src/tools/simulator/loopback.ts"

describe("simulate options", () => {
  it("parses a run with pre-seeded tokens into fleet options", () => {
    const o = parseRunArgs(["--url", "https://127.0.0.1:5000", "--agents", "300", "--tokens", "t.json", "--heartbeat", "30", "--screenshot", "5", "--duration", "90", "--json", "out.json"])
    expect(o.fleet).toMatchObject({ url: "https://127.0.0.1:5000", agents: 300, durationMs: 90_000, credentials: { kind: "tokens" } })
    expect(o.fleet.behaviour).toMatchObject({ heartbeatMs: 30_000, screenshotMs: 5_000, heartbeatAck: true, context: "SYSTEM" })
    expect(o.jsonFile).toMatch(/out\.json$/)
  })

  it("needs exactly one credential source, and enrollment needs a code or an operator", () => {
    const base = ["--url", "http://127.0.0.1:5000", "--agents", "1"]
    expect(() => parseRunArgs(base)).toThrow(UsageError)
    expect(() => parseRunArgs([...base, "--tokens", "a", "--anonymous"])).toThrow(UsageError)
    expect(() => parseRunArgs([...base, "--enroll"])).toThrow(/install-code or --operator/)
    expect(() => parseRunArgs([...base, "--enroll", "--install-code", "X", "--auto-approve"])).toThrow(/needs --operator/)
    const e = parseRunArgs([...base, "--enroll", "--operator", "admin:pa:ss", "--auto-approve"])
    expect(e.fleet.credentials).toEqual({ kind: "enroll", operator: { username: "admin", password: "pa:ss" }, autoApprove: true })
  })

  it("refuses non-loopback targets and out-of-range numbers", () => {
    expect(() => parseRunArgs(["--url", "https://10.0.0.5:5000", "--agents", "1", "--anonymous"])).toThrow(/loopback/)
    expect(() => parseRunArgs(["--url", "https://example.com", "--agents", "1", "--anonymous"])).toThrow(/loopback/)
    expect(() => parseRunArgs(["--url", "http://127.0.0.1:1", "--agents", "0", "--anonymous"])).toThrow(UsageError)
    expect(() => parseRunArgs(["--url", "http://127.0.0.1:1", "--agents", "1.5", "--anonymous"])).toThrow(UsageError)
    expect(() => parseRunArgs(["--url", "http://127.0.0.1:1", "--agents", "1", "--anonymous", "--context", "ROOT"])).toThrow(UsageError)
    expect(assertLoopbackUrl("http://[::1]:5000").hostname).toBe("[::1]")
    expect(assertLoopbackUrl("http://127.8.9.10:5000").hostname).toBe("127.8.9.10")
  })

  it("gives IPv4 loopback targets one source address per worker", () => {
    expect(sourceAddressFor(new URL("http://127.0.0.1:5000"), 0)).toBe("127.0.0.2")
    expect(sourceAddressFor(new URL("http://127.0.0.1:5000"), 3)).toBe("127.0.0.5")
    expect(sourceAddressFor(new URL("http://localhost:5000"), 0)).toBeNull()
    expect(sourceAddressFor(new URL("http://[::1]:5000"), 0)).toBeNull()
  })

  it("parses seed options", () => {
    expect(parseSeedArgs(["--root", "/r", "--agents", "10", "--out", "/tmp/t.json", "--token-ttl", "3600", "--prefix", "X"])).toMatchObject({
      root: "/r",
      agents: 10,
      out: "/tmp/t.json",
      tokenTtlSeconds: 3600,
      hostnamePrefix: "X",
      refreshTokens: true
    })
    expect(() => parseSeedArgs(["--root", "/r", "--out", "/t"])).toThrow(/--agents/)
  })
})
