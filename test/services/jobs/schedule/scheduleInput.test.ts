import { describe, expect, it } from "@effect/vitest"
import { parseExpiration, parseIsoTimestamp, parseStartTs } from "../../../../src/services/jobs/schedule/scheduleInput.ts"

const ts = (iso: string): number => Date.parse(iso) / 1000

describe("parseStartTs", () => {
  it.each([
    // what the UI sends: seconds zeroed, UTC
    ["2024-05-01T09:30:00.000Z", "2024-05-01T09:30:00Z"],
    ["2024-05-01T09:30:00Z", "2024-05-01T09:30:00Z"],
    ["2024-05-01T09:30:00z", "2024-05-01T09:30:00Z"],
    ["2024-05-01T09:30Z", "2024-05-01T09:30:00Z"],
    ["2024-05-01 09:30:15", "2024-05-01T09:30:15Z"],
    ["2024-05-01T09:30:15.999999+00:00", "2024-05-01T09:30:15Z"],
    ["2024-05-01T11:30:00+02:00", "2024-05-01T09:30:00Z"],
    ["2024-05-01T11:30:00+0200", "2024-05-01T09:30:00Z"],
    ["2024-05-01T04:00:00-05:30", "2024-05-01T09:30:00Z"],
    ["2024-05-01T11:30+02", "2024-05-01T09:30:00Z"],
    ["2024-05-01", "2024-05-01T00:00:00Z"],
    ["2024-05-01T09", "2024-05-01T09:00:00Z"],
    ["  2024-05-01T09:30:00Z  ", "2024-05-01T09:30:00Z"],
    ["2024-02-29T00:00:00Z", "2024-02-29T00:00:00Z"]
  ])("%j (naive → UTC zone) → %s", (input, expected) => {
    expect(parseStartTs(input, "UTC")).toBe(ts(expected))
  })

  it.each([
    ["2024-01-15T09:00:00", "America/New_York", "2024-01-15T14:00:00Z"],
    ["2024-07-15T09:00:00", "America/New_York", "2024-07-15T13:00:00Z"],
    ["2024-07-15T09:00:42", "Europe/Berlin", "2024-07-15T07:00:42Z"],
    // a naive time inside a DST gap: the first valid minute after it
    ["2024-03-10T02:30:00", "America/New_York", "2024-03-10T07:00:00Z"],
    // an explicit offset wins over the zone
    ["2024-07-15T09:00:00+00:00", "America/New_York", "2024-07-15T09:00:00Z"]
  ])("naive %j in %s → %s", (input, zone, expected) => {
    expect(parseStartTs(input, zone)).toBe(ts(expected))
  })

  it.each([
    [1_714_555_800, 1_714_555_800],
    [1_714_555_800.9, 1_714_555_800],
    [0, 0],
    [-1.5, -1]
  ])("number %d → %d", (input, expected) => {
    expect(parseStartTs(input, "UTC")).toBe(expected)
  })

  it.each([
    null,
    undefined,
    "",
    "   ",
    "tomorrow",
    "1714555800",
    "2024-13-01T00:00:00Z",
    "2024-02-30T00:00:00Z",
    "2023-02-29T00:00:00Z",
    "2024-05-01T24:00:00Z",
    "2024-05-01T09:60:00Z",
    "2024-05-01T09:30:00+25:00",
    "2024-05-01T09:30:00 UTC",
    Number.NaN,
    Number.POSITIVE_INFINITY,
    true,
    {},
    ["2024-05-01"]
  ])("%j → null", (input) => {
    expect(parseStartTs(input, "UTC")).toBeNull()
  })

  it("parseIsoTimestamp is the string half, years below 100 included", () => {
    expect(parseIsoTimestamp("1970-01-01T00:00:00Z", "UTC")).toBe(0)
    const year50 = new Date(0)
    year50.setUTCFullYear(50, 5, 1)
    expect(parseIsoTimestamp("0050-06-01T00:00:00Z", "UTC")).toBe(year50.getTime() / 1000)
  })
})

describe("parseExpiration", () => {
  it.each([
    ["30m", 1800],
    ["1h", 3600],
    ["2h", 7200],
    ["6h", 21_600],
    ["12h", 43_200],
    ["1d", 86_400],
    ["2d", 172_800],
    ["3d", 259_200],
    ["30", 1800],
    ["5", 300],
    [" 1H ", 3600],
    ["+2m", 120]
  ])("%j → %d seconds", (input, expected) => {
    expect(parseExpiration(input)).toBe(expected)
  })

  it.each([null, undefined, "", "no_expire", " no_expire ", "never", "5x", "m", "1.5h", "0m", "-5m", "0", 30, {}])(
    "%j → no expiry",
    (input) => {
      expect(parseExpiration(input)).toBeNull()
    }
  )
})
