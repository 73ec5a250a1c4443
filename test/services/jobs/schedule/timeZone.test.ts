import { describe, expect, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import {
  canonicalTimeZone,
  daysFromCivil,
  daysInMonth,
  fromLocal,
  type LocalDateTime,
  offsetSeconds,
  toLocal
} from "../../../../src/services/jobs/schedule/timeZone.ts"

const ts = (iso: string): number => Date.parse(iso) / 1000
const local = (year: number, month: number, day: number, hour: number, minute: number): LocalDateTime => ({
  year,
  month,
  day,
  hour,
  minute
})

describe("canonicalTimeZone", () => {
  it.each([
    ["UTC", "UTC"],
    ["Etc/UTC", "UTC"],
    ["utc", "UTC"],
    ["America/New_York", "America/New_York"],
    ["america/new_york", "America/New_York"],
    ["  Europe/Berlin  ", "Europe/Berlin"],
    ["US/Eastern", "America/New_York"],
    ["Australia/Sydney", "Australia/Sydney"]
  ])("%j → %j", (input, expected) => {
    expect(canonicalTimeZone(input)).toBe(expected)
  })

  it.each(["", "   ", "Mars/Olympus", "Not a zone", "+02:00", "-0500", "America/New_York/Extra", "../etc/passwd"])(
    "%j is not a zone",
    (input) => {
      expect(canonicalTimeZone(input)).toBeUndefined()
    }
  )
})

describe("civil calendar", () => {
  it.each([
    [1970, 1, 1, 0],
    [1970, 1, 2, 1],
    [2000, 3, 1, 11_017],
    [2024, 2, 29, 19_782],
    [1969, 12, 31, -1]
  ])("daysFromCivil(%i-%i-%i) = %i", (y, m, d, expected) => {
    expect(daysFromCivil(y, m, d)).toBe(expected)
  })

  it.each([
    [2024, 2, 29],
    [2023, 2, 28],
    [2000, 2, 29],
    [1900, 2, 28],
    [2100, 2, 28],
    [2024, 1, 31],
    [2024, 4, 30],
    [2024, 12, 31]
  ])("daysInMonth(%i, %i) = %i", (y, m, expected) => {
    expect(daysInMonth(y, m)).toBe(expected)
  })
})

describe("offsetSeconds", () => {
  it.each([
    ["UTC", "2024-06-01T00:00:00Z", 0],
    ["America/New_York", "2024-01-15T12:00:00Z", -5 * 3600],
    ["America/New_York", "2024-07-15T12:00:00Z", -4 * 3600],
    ["America/New_York", "2024-03-10T06:59:00Z", -5 * 3600],
    ["America/New_York", "2024-03-10T07:00:00Z", -4 * 3600],
    ["Europe/Berlin", "2024-03-31T00:59:00Z", 3600],
    ["Europe/Berlin", "2024-03-31T01:00:00Z", 7200],
    ["Australia/Sydney", "2024-04-06T15:59:00Z", 11 * 3600],
    ["Australia/Sydney", "2024-04-06T16:00:00Z", 10 * 3600],
    ["Australia/Lord_Howe", "2024-10-05T15:30:00Z", 11 * 3600],
    ["Australia/Lord_Howe", "2024-10-05T15:29:00Z", 10.5 * 3600],
    ["Asia/Kolkata", "2024-01-01T00:00:00Z", 5.5 * 3600]
  ])("%s at %s is %i", (zone, iso, expected) => {
    expect(offsetSeconds(zone, ts(iso))).toBe(expected)
    // answered again from the cache
    expect(offsetSeconds(zone, ts(iso))).toBe(expected)
  })
})

describe("offsetSeconds agrees with the zone rules at any instant", () => {
  const zones = [
    "America/New_York",
    "Europe/Berlin",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "America/Santiago",
    "Pacific/Apia",
    "Asia/Tehran",
    "Africa/Casablanca",
    "America/St_Johns",
    "Pacific/Chatham"
  ]
  const direct = (zone: string, t: number) =>
    Math.round(DateTime.zonedOffset(DateTime.unsafeMakeZoned(t * 1000, { timeZone: zone })) / 1000)

  it("on 3,000 pseudo-random seconds between 1900 and 2040", () => {
    let seed = 42
    const next = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31
    const from = ts("1900-01-01T00:00:00Z")
    const to = ts("2040-01-01T00:00:00Z")
    for (let i = 0; i < 3_000; i++) {
      const zone = zones[i % zones.length] ?? "UTC"
      const t = Math.floor(from + next() * (to - from))
      expect([zone, t, offsetSeconds(zone, t)]).toEqual([zone, t, direct(zone, t)])
    }
  })

  it("on both sides of every transition of 2024", () => {
    for (const zone of zones) {
      for (let t = ts("2024-01-01T00:00:00Z"); t < ts("2025-01-01T00:00:00Z"); t += 3600) {
        const here = offsetSeconds(zone, t)
        if (here !== offsetSeconds(zone, t + 3600)) {
          for (let s = t; s <= t + 3600; s += 60) expect([zone, s, offsetSeconds(zone, s)]).toEqual([zone, s, direct(zone, s)])
        }
      }
    }
  })
})

describe("toLocal", () => {
  it.each([
    ["UTC", "2024-02-29T23:59:30Z", local(2024, 2, 29, 23, 59)],
    ["America/New_York", "2024-11-03T05:30:00Z", local(2024, 11, 3, 1, 30)],
    ["America/New_York", "2024-11-03T06:30:00Z", local(2024, 11, 3, 1, 30)],
    ["Europe/Berlin", "2024-12-31T23:30:00Z", local(2025, 1, 1, 0, 30)],
    ["Australia/Sydney", "2024-06-30T14:00:00Z", local(2024, 7, 1, 0, 0)]
  ])("%s at %s", (zone, iso, expected) => {
    expect(toLocal(zone, ts(iso))).toEqual(expected)
  })
})

describe("fromLocal: wall clock → instant", () => {
  it.each([
    // ordinary times
    ["UTC", local(2024, 5, 1, 9, 0), "2024-05-01T09:00:00Z"],
    ["America/New_York", local(2024, 1, 15, 9, 0), "2024-01-15T14:00:00Z"],
    ["America/New_York", local(2024, 7, 15, 9, 0), "2024-07-15T13:00:00Z"],
    ["Asia/Kolkata", local(2024, 1, 1, 9, 0), "2024-01-01T03:30:00Z"],
    // spring-forward gaps: the first valid minute after the missing time
    ["America/New_York", local(2024, 3, 10, 2, 0), "2024-03-10T07:00:00Z"],
    ["America/New_York", local(2024, 3, 10, 2, 30), "2024-03-10T07:00:00Z"],
    ["America/New_York", local(2024, 3, 10, 2, 59), "2024-03-10T07:00:00Z"],
    ["America/New_York", local(2024, 3, 10, 3, 0), "2024-03-10T07:00:00Z"],
    ["America/New_York", local(2024, 3, 10, 1, 59), "2024-03-10T06:59:00Z"],
    ["Europe/Berlin", local(2024, 3, 31, 2, 30), "2024-03-31T01:00:00Z"],
    ["Australia/Sydney", local(2024, 10, 6, 2, 30), "2024-10-05T16:00:00Z"],
    ["Australia/Lord_Howe", local(2024, 10, 6, 2, 15), "2024-10-05T15:30:00Z"],
    ["America/Santiago", local(2024, 9, 8, 0, 30), "2024-09-08T04:00:00Z"],
    // a whole skipped day (Samoa crossed the date line): the first minute that exists after it
    ["Pacific/Apia", local(2011, 12, 30, 10, 0), "2011-12-30T10:00:00Z"],
    // fall-back overlaps: the earlier of the two instants
    ["America/New_York", local(2024, 11, 3, 1, 30), "2024-11-03T05:30:00Z"],
    ["America/New_York", local(2024, 11, 3, 1, 0), "2024-11-03T05:00:00Z"],
    ["America/New_York", local(2024, 11, 3, 2, 0), "2024-11-03T07:00:00Z"],
    ["Europe/Berlin", local(2024, 10, 27, 2, 30), "2024-10-27T00:30:00Z"],
    ["Australia/Sydney", local(2024, 4, 7, 2, 30), "2024-04-06T15:30:00Z"]
  ])("%s %j → %s", (zone, wall, iso) => {
    expect(fromLocal(zone, wall)).toBe(ts(iso))
  })

  it("round-trips every minute of a DST day that exists exactly once", () => {
    const zone = "Europe/Berlin"
    for (let t = ts("2024-03-30T22:00:00Z"); t < ts("2024-03-31T22:00:00Z"); t += 60) {
      expect(fromLocal(zone, toLocal(zone, t))).toBe(t)
    }
  })
})
