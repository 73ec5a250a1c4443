import { describe, expect, it } from "@effect/vitest"
import {
  compileSchedule,
  type CompiledSchedule,
  FIRING_WINDOW_SECONDS,
  firstSlotAtOrAfter,
  floorMinute,
  isOccurrenceComplete,
  isScheduleType,
  isTerminalRunStatus,
  type JobSchedule,
  latestSlotAtOrBefore,
  nextRunTs,
  occurrenceToWorkOn,
  SCHEDULE_TYPES,
  scheduleProblem,
  slotsBetween,
  withinFiringWindow
} from "../../../../src/services/jobs/schedule/nextRun.ts"

const ts = (iso: string): number => Date.parse(iso) / 1000
const iso = (seconds: number | null): string | null => (seconds === null ? null : new Date(seconds * 1000).toISOString().replace(".000Z", "Z"))
const UTC = { defaultTimeZone: "UTC" }

const recurring = (schedule: JobSchedule): Extract<CompiledSchedule, { _tag: "Recurring" }> => {
  const compiled = compileSchedule(schedule, UTC)
  if (compiled._tag !== "Ok" || compiled.schedule._tag !== "Recurring") throw new Error(`not recurring: ${JSON.stringify(schedule)}`)
  return compiled.schedule
}

describe("schedule types", () => {
  it("knows exactly the UI's eleven types", () => {
    expect(SCHEDULE_TYPES).toEqual([
      "immediately",
      "once",
      "every_5_minutes",
      "every_10_minutes",
      "every_15_minutes",
      "every_30_minutes",
      "every_hour",
      "daily",
      "weekly",
      "monthly",
      "yearly"
    ])
    expect(isScheduleType("daily")).toBe(true)
    expect(isScheduleType("hourly")).toBe(false)
  })
})

describe("floorMinute / withinFiringWindow", () => {
  it.each([
    [0, 0],
    [59, 0],
    [60, 60],
    [119.9, 60],
    [1_700_000_039, 1_699_999_980],
    [-1, -60]
  ])("floorMinute(%d) = %d", (input, expected) => {
    expect(floorMinute(input)).toBe(expected)
  })

  it.each([
    ["2024-01-01T10:00:00Z", "2024-01-01T10:00:00Z", true],
    ["2024-01-01T10:00:00Z", "2024-01-01T10:00:59Z", true],
    ["2024-01-01T10:00:00Z", "2024-01-01T10:05:00Z", true],
    ["2024-01-01T10:00:00Z", "2024-01-01T10:05:59Z", true],
    ["2024-01-01T10:00:00Z", "2024-01-01T10:06:00Z", false],
    ["2024-01-01T10:00:00Z", "2024-01-01T09:59:59Z", false],
    ["2024-01-01T10:00:30Z", "2024-01-01T10:00:00Z", true]
  ])("occurrence %s at now %s → %s", (occ, now, expected) => {
    expect(withinFiringWindow(ts(occ), ts(now))).toBe(expected)
  })

  it("the window is five minutes", () => {
    expect(FIRING_WINDOW_SECONDS).toBe(300)
    expect(withinFiringWindow(ts("2024-01-01T10:00:00Z"), ts("2024-01-01T10:02:00Z"), 60)).toBe(false)
  })
})

describe("run statuses", () => {
  it.each([
    ["Success", true],
    ["Failed", true],
    ["Expired", true],
    ["Timed Out", true],
    ["Skipped", true],
    ["Cancelled", true],
    ["failed", true],
    [" SUCCESS ", true],
    ["Running", false],
    ["Pending", false],
    ["Scheduled", false],
    ["", false],
    [null, false],
    [undefined, false]
  ])("isTerminalRunStatus(%j) = %s", (status, expected) => {
    expect(isTerminalRunStatus(status)).toBe(expected)
  })

  const run = (target_hostname: string | null, status: string | null) => ({ target_hostname, status })
  it.each([
    ["all succeeded", ["a", "b"], [run("a", "Success"), run("b", "Success")], true],
    ["a failed target is done (no stall)", ["a", "b"], [run("a", "Failed"), run("b", "Success")], true],
    ["expired and timed out are done", ["a", "b"], [run("a", "Expired"), run("b", "Timed Out")], true],
    ["one still running", ["a", "b"], [run("a", "Success"), run("b", "Running")], false],
    ["one without a row (offline, waiting)", ["a", "b"], [run("a", "Success")], false],
    ["hostnames compare case-insensitively", ["HOST-A"], [run("host-a", "Success")], true],
    ["rows without hostname do not count", ["a"], [run(null, "Success")], false],
    ["an older Running row beside a terminal one", ["a"], [run("a", "Running"), run("a", "Success")], true],
    ["no targets: nothing outstanding", [], [], true]
  ])("%s", (_name, targets, runs, expected) => {
    expect(isOccurrenceComplete(targets, runs)).toBe(expected)
  })
})

describe("schedule validation", () => {
  it.each([
    [{ type: "daily", startTs: 0 }, undefined],
    [{ type: "DAILY", startTs: 0 }, undefined],
    [{ type: "immediately", startTs: null }, undefined],
    [{ type: "once", startTs: null }, "missing_start"],
    [{ type: "weekly", startTs: undefined }, "missing_start"],
    [{ type: "monthly", startTs: Number.NaN }, "missing_start"],
    [{ type: "fortnightly", startTs: 0 }, "unknown_schedule_type"],
    [{ type: "", startTs: 0 }, "unknown_schedule_type"],
    [{ type: "daily", startTs: 0, timeZone: "Mars/Olympus" }, "invalid_timezone"],
    [{ type: "every_5_minutes", startTs: 0, timeZone: "+02:00" }, "invalid_timezone"],
    [{ type: "daily", startTs: 0, timeZone: "" }, undefined],
    [{ type: "daily", startTs: 0, timeZone: null }, undefined],
    [{ type: "daily", startTs: 0, timeZone: "europe/berlin" }, undefined]
  ] as ReadonlyArray<[JobSchedule, string | undefined]>)("%j → %s", (schedule, expected) => {
    expect(scheduleProblem(schedule, UTC)).toBe(expected)
  })

  it("an invalid default zone is reported too", () => {
    expect(scheduleProblem({ type: "daily", startTs: 0 }, { defaultTimeZone: "Nowhere/Land" })).toBe("invalid_timezone")
  })
})

describe("nextRunTs (legacy compute_next_run, UTC)", () => {
  type Row = readonly [string, JobSchedule, string | null, string, string | null]
  const S = (type: string, start: string | null): JobSchedule => ({ type, startTs: start === null ? null : ts(start) })
  const rows: ReadonlyArray<Row> = [
    // immediately: now (minute) until it has run once
    ["immediately, never ran", S("immediately", null), null, "2024-05-01T10:00:42Z", "2024-05-01T10:00:00Z"],
    ["immediately, ran", S("immediately", null), "2024-05-01T10:00:00Z", "2024-05-01T10:01:00Z", null],
    // once: the start (even in the past) until it has run
    ["once, future start", S("once", "2024-05-02T08:30:15Z"), null, "2024-05-01T10:00:00Z", "2024-05-02T08:30:00Z"],
    ["once, past start", S("once", "2024-04-01T08:30:00Z"), null, "2024-05-01T10:00:00Z", "2024-04-01T08:30:00Z"],
    ["once, ran", S("once", "2024-05-02T08:30:00Z"), "2024-05-02T08:30:00Z", "2024-05-02T08:31:00Z", null],
    ["once, no start", S("once", null), null, "2024-05-01T10:00:00Z", null],
    // every 5 minutes, start floored to 10:02
    ["5m before start", S("every_5_minutes", "2024-05-01T10:02:30Z"), null, "2024-05-01T09:00:00Z", "2024-05-01T10:02:00Z"],
    ["5m at start", S("every_5_minutes", "2024-05-01T10:02:30Z"), null, "2024-05-01T10:02:59Z", "2024-05-01T10:02:00Z"],
    ["5m just after start", S("every_5_minutes", "2024-05-01T10:02:00Z"), null, "2024-05-01T10:03:00Z", "2024-05-01T10:07:00Z"],
    ["5m an hour later", S("every_5_minutes", "2024-05-01T10:02:00Z"), null, "2024-05-01T11:00:00Z", "2024-05-01T11:02:00Z"],
    ["5m after last", S("every_5_minutes", "2024-05-01T10:02:00Z"), "2024-05-01T10:07:00Z", "2024-05-01T10:08:00Z", "2024-05-01T10:12:00Z"],
    ["5m at last", S("every_5_minutes", "2024-05-01T10:02:00Z"), "2024-05-01T10:07:00Z", "2024-05-01T10:07:00Z", "2024-05-01T10:12:00Z"],
    ["5m missed slots skipped", S("every_5_minutes", "2024-05-01T10:02:00Z"), "2024-05-01T10:07:00Z", "2024-05-01T12:00:30Z", "2024-05-01T12:02:00Z"],
    ["10m", S("every_10_minutes", "2024-05-01T10:00:00Z"), null, "2024-05-01T10:31:00Z", "2024-05-01T10:40:00Z"],
    ["15m", S("every_15_minutes", "2024-05-01T10:00:00Z"), "2024-05-01T10:15:00Z", "2024-05-01T10:16:00Z", "2024-05-01T10:30:00Z"],
    ["30m", S("every_30_minutes", "2024-05-01T23:45:00Z"), null, "2024-05-02T00:00:00Z", "2024-05-02T00:15:00Z"],
    ["hourly, seconds into a slot minute (now is floored)", S("every_hour", "2024-05-01T10:20:00Z"), null, "2024-05-01T13:20:01Z", "2024-05-01T13:20:00Z"],
    ["hourly, a minute past the slot", S("every_hour", "2024-05-01T10:20:00Z"), null, "2024-05-01T13:21:00Z", "2024-05-01T14:20:00Z"],
    ["hourly on the slot", S("every_hour", "2024-05-01T10:20:00Z"), null, "2024-05-01T13:20:00Z", "2024-05-01T13:20:00Z"],
    // daily / weekly
    ["daily before start", S("daily", "2024-01-15T09:00:00Z"), null, "2024-01-15T08:00:00Z", "2024-01-15T09:00:00Z"],
    ["daily on start", S("daily", "2024-01-15T09:00:00Z"), null, "2024-01-15T09:00:30Z", "2024-01-15T09:00:00Z"],
    ["daily after start", S("daily", "2024-01-15T09:00:00Z"), null, "2024-01-15T09:01:00Z", "2024-01-16T09:00:00Z"],
    ["daily after last", S("daily", "2024-01-15T09:00:00Z"), "2024-01-16T09:00:00Z", "2024-01-16T09:05:00Z", "2024-01-17T09:00:00Z"],
    ["daily across a month end", S("daily", "2024-01-31T23:30:00Z"), "2024-01-31T23:30:00Z", "2024-01-31T23:31:00Z", "2024-02-01T23:30:00Z"],
    ["daily across Feb 29", S("daily", "2024-02-28T12:00:00Z"), "2024-02-28T12:00:00Z", "2024-02-28T12:01:00Z", "2024-02-29T12:00:00Z"],
    ["weekly", S("weekly", "2024-01-01T12:00:00Z"), null, "2024-01-20T00:00:00Z", "2024-01-22T12:00:00Z"],
    ["weekly after last", S("weekly", "2024-01-01T12:00:00Z"), "2024-01-08T12:00:00Z", "2024-01-08T12:00:00Z", "2024-01-15T12:00:00Z"],
    // monthly: month ends clamp, anchored on the start's day (no drift)
    ["monthly before start", S("monthly", "2024-01-31T10:00:00Z"), null, "2023-12-01T00:00:00Z", "2024-01-31T10:00:00Z"],
    ["monthly Jan 31 → Feb 29 (leap)", S("monthly", "2024-01-31T10:00:00Z"), null, "2024-02-01T00:00:00Z", "2024-02-29T10:00:00Z"],
    ["monthly Feb 29 → Mar 31", S("monthly", "2024-01-31T10:00:00Z"), "2024-02-29T10:00:00Z", "2024-02-29T10:01:00Z", "2024-03-31T10:00:00Z"],
    ["monthly → Apr 30", S("monthly", "2024-01-31T10:00:00Z"), null, "2024-04-01T00:00:00Z", "2024-04-30T10:00:00Z"],
    ["monthly Jan 31 → Feb 28 (common year)", S("monthly", "2023-01-31T10:00:00Z"), null, "2023-02-01T00:00:00Z", "2023-02-28T10:00:00Z"],
    ["monthly across the year end", S("monthly", "2024-12-15T08:00:00Z"), "2024-12-15T08:00:00Z", "2024-12-20T00:00:00Z", "2025-01-15T08:00:00Z"],
    ["monthly on the 30th in February", S("monthly", "2024-01-30T08:00:00Z"), null, "2025-02-10T00:00:00Z", "2025-02-28T08:00:00Z"],
    ["monthly on the 15th", S("monthly", "2024-01-15T08:00:00Z"), null, "2024-07-15T08:00:00Z", "2024-07-15T08:00:00Z"],
    // yearly: Feb 29 → Feb 28 in common years, Feb 29 again in leap years
    ["yearly Feb 29 → 2025-02-28", S("yearly", "2024-02-29T06:00:00Z"), null, "2024-03-01T00:00:00Z", "2025-02-28T06:00:00Z"],
    ["yearly → 2026-02-28", S("yearly", "2024-02-29T06:00:00Z"), "2025-02-28T06:00:00Z", "2025-02-28T06:01:00Z", "2026-02-28T06:00:00Z"],
    ["yearly back on Feb 29 in 2028", S("yearly", "2024-02-29T06:00:00Z"), null, "2027-03-01T00:00:00Z", "2028-02-29T06:00:00Z"],
    ["yearly, century rule (2100 is common)", S("yearly", "2096-02-29T06:00:00Z"), null, "2097-01-01T00:00:00Z", "2097-02-28T06:00:00Z"],
    ["yearly Dec 31", S("yearly", "2023-12-31T23:59:00Z"), null, "2024-01-01T00:00:00Z", "2024-12-31T23:59:00Z"],
    // cannot fire
    ["unknown type", S("fortnightly", "2024-01-01T00:00:00Z"), null, "2024-01-01T00:00:00Z", null],
    ["recurring without start", S("daily", null), null, "2024-01-01T00:00:00Z", null]
  ]
  it.each(rows)("%s", (_name, schedule, last, now, expected) => {
    expect(iso(nextRunTs(schedule, last === null ? null : ts(last), ts(now), UTC))).toBe(expected)
  })

  it("an unknown zone has no next run", () => {
    expect(nextRunTs({ type: "daily", startTs: ts("2024-01-01T00:00:00Z"), timeZone: "Mars/Olympus" }, null, ts("2024-01-02T00:00:00Z"))).toBeNull()
  })

  it("is never in the past for recurring types", () => {
    const now = ts("2024-06-15T13:37:00Z")
    for (const type of SCHEDULE_TYPES.slice(2)) {
      const next = nextRunTs({ type, startTs: ts("2020-02-29T13:37:00Z") }, null, now, UTC)
      expect(next).not.toBeNull()
      expect(next ?? 0).toBeGreaterThanOrEqual(now)
    }
  })
})

describe("calendar math in UTC does not drift by the server's offset", () => {
  it("monthly at 09:00Z stays at 09:00Z for two years", () => {
    const schedule = recurring({ type: "monthly", startTs: ts("2024-01-15T09:00:00Z"), timeZone: "UTC" })
    const slots = slotsBetween(schedule, ts("2024-01-01T00:00:00Z"), ts("2025-12-31T00:00:00Z"))
    expect(slots).toHaveLength(24)
    for (const [i, slot] of slots.entries()) {
      const d = new Date(slot * 1000)
      expect([d.getUTCMonth(), d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes()]).toEqual([i % 12, 15, 9, 0])
    }
  })

  it("month-end monthly lists the clamped days", () => {
    const schedule = recurring({ type: "monthly", startTs: ts("2024-01-31T10:00:00Z") })
    expect(slotsBetween(schedule, ts("2024-01-01T00:00:00Z"), ts("2024-12-31T23:59:00Z")).map((s) => iso(s)?.slice(0, 10))).toEqual([
      "2024-01-31",
      "2024-02-29",
      "2024-03-31",
      "2024-04-30",
      "2024-05-31",
      "2024-06-30",
      "2024-07-31",
      "2024-08-31",
      "2024-09-30",
      "2024-10-31",
      "2024-11-30",
      "2024-12-31"
    ])
  })

  it("the schedule ignores the process zone when the job names UTC", () => {
    const schedule: JobSchedule = { type: "daily", startTs: ts("2024-03-01T09:00:00Z"), timeZone: "UTC" }
    const a = nextRunTs(schedule, null, ts("2024-04-01T10:00:00Z"), { defaultTimeZone: "America/New_York" })
    const b = nextRunTs(schedule, null, ts("2024-04-01T10:00:00Z"), { defaultTimeZone: "Asia/Tokyo" })
    expect(iso(a)).toBe("2024-04-02T09:00:00Z")
    expect(b).toBe(a)
  })
})

describe("time zones and DST", () => {
  type Row = readonly [string, string, string, string, ReadonlyArray<string>]
  // [name, zone, type, start, the first slots from the start]
  const rows: ReadonlyArray<Row> = [
    // America/New_York: spring forward 2024-03-10 02:00 EST → 03:00 EDT; fall back 2024-11-03 02:00 EDT → 01:00 EST
    ["NY daily 09:00 across spring-forward", "America/New_York", "daily", "2024-03-08T14:00:00Z", [
      "2024-03-08T14:00:00Z",
      "2024-03-09T14:00:00Z",
      "2024-03-10T13:00:00Z",
      "2024-03-11T13:00:00Z"
    ]],
    ["NY daily 09:00 across fall-back", "America/New_York", "daily", "2024-11-02T13:00:00Z", [
      "2024-11-02T13:00:00Z",
      "2024-11-03T14:00:00Z",
      "2024-11-04T14:00:00Z"
    ]],
    ["NY daily 02:30 in the gap → 03:00 EDT", "America/New_York", "daily", "2024-03-09T07:30:00Z", [
      "2024-03-09T07:30:00Z",
      "2024-03-10T07:00:00Z",
      "2024-03-11T06:30:00Z"
    ]],
    ["NY daily 01:30 in the overlap → once, the first", "America/New_York", "daily", "2024-11-02T05:30:00Z", [
      "2024-11-02T05:30:00Z",
      "2024-11-03T05:30:00Z",
      "2024-11-04T06:30:00Z"
    ]],
    ["NY weekly Sunday 09:00", "America/New_York", "weekly", "2024-03-03T14:00:00Z", [
      "2024-03-03T14:00:00Z",
      "2024-03-10T13:00:00Z",
      "2024-03-17T13:00:00Z"
    ]],
    ["NY monthly on the 10th at 02:30 (gap in March)", "America/New_York", "monthly", "2024-02-10T07:30:00Z", [
      "2024-02-10T07:30:00Z",
      "2024-03-10T07:00:00Z",
      "2024-04-10T06:30:00Z"
    ]],
    // Europe/Berlin: 2024-03-31 02:00 CET → 03:00 CEST; 2024-10-27 03:00 CEST → 02:00 CET
    ["Berlin daily 02:30 in the gap → 03:00 CEST", "Europe/Berlin", "daily", "2024-03-30T01:30:00Z", [
      "2024-03-30T01:30:00Z",
      "2024-03-31T01:00:00Z",
      "2024-04-01T00:30:00Z"
    ]],
    ["Berlin daily 02:30 in the overlap → once", "Europe/Berlin", "daily", "2024-10-26T00:30:00Z", [
      "2024-10-26T00:30:00Z",
      "2024-10-27T00:30:00Z",
      "2024-10-28T01:30:00Z"
    ]],
    ["Berlin monthly 09:00 on the 31st keeps wall time", "Europe/Berlin", "monthly", "2024-01-31T08:00:00Z", [
      "2024-01-31T08:00:00Z",
      "2024-02-29T08:00:00Z",
      "2024-03-31T07:00:00Z",
      "2024-04-30T07:00:00Z"
    ]],
    ["Berlin yearly on Feb 29 at 09:00", "Europe/Berlin", "yearly", "2024-02-29T08:00:00Z", [
      "2024-02-29T08:00:00Z",
      "2025-02-28T08:00:00Z",
      "2026-02-28T08:00:00Z",
      "2027-02-28T08:00:00Z",
      "2028-02-29T08:00:00Z"
    ]],
    // Australia/Sydney (southern hemisphere): DST ends 2024-04-07 03:00 AEDT → 02:00 AEST; starts 2024-10-06 02:00 AEST → 03:00 AEDT
    ["Sydney daily 02:30 in the April overlap → once", "Australia/Sydney", "daily", "2024-04-05T15:30:00Z", [
      "2024-04-05T15:30:00Z",
      "2024-04-06T15:30:00Z",
      "2024-04-07T16:30:00Z"
    ]],
    ["Sydney daily 02:30 in the October gap → 03:00 AEDT", "Australia/Sydney", "daily", "2024-10-04T16:30:00Z", [
      "2024-10-04T16:30:00Z",
      "2024-10-05T16:00:00Z",
      "2024-10-06T15:30:00Z"
    ]],
    ["Sydney daily 09:00 through the October change", "Australia/Sydney", "daily", "2024-10-04T23:00:00Z", [
      "2024-10-04T23:00:00Z",
      "2024-10-05T22:00:00Z",
      "2024-10-06T22:00:00Z"
    ]],
    // Australia/Lord_Howe shifts by 30 minutes (02:00 → 02:30 on 2024-10-06)
    ["Lord Howe daily 02:15 in its half-hour gap", "Australia/Lord_Howe", "daily", "2024-10-04T15:45:00Z", [
      "2024-10-04T15:45:00Z",
      "2024-10-05T15:30:00Z",
      "2024-10-06T15:15:00Z"
    ]],
    // America/Santiago changes at midnight: 2024-09-08 00:00 → 01:00
    ["Santiago daily 00:30, the day midnight is skipped", "America/Santiago", "daily", "2024-09-06T04:30:00Z", [
      "2024-09-06T04:30:00Z",
      "2024-09-07T04:30:00Z",
      "2024-09-08T04:00:00Z",
      "2024-09-09T03:30:00Z"
    ]],
    // Pacific/Apia skipped 2011-12-30 entirely
    ["Apia daily 10:00 across the skipped day", "Pacific/Apia", "daily", "2011-12-28T20:00:00Z", [
      "2011-12-28T20:00:00Z",
      "2011-12-29T20:00:00Z",
      "2011-12-30T10:00:00Z",
      "2011-12-30T20:00:00Z"
    ]],
    // interval types are elapsed time: unaffected by the NY spring-forward
    ["NY every hour across spring-forward", "America/New_York", "every_hour", "2024-03-10T05:00:00Z", [
      "2024-03-10T05:00:00Z",
      "2024-03-10T06:00:00Z",
      "2024-03-10T07:00:00Z",
      "2024-03-10T08:00:00Z"
    ]],
    ["Berlin every 30 minutes across fall-back", "Europe/Berlin", "every_30_minutes", "2024-10-27T00:00:00Z", [
      "2024-10-27T00:00:00Z",
      "2024-10-27T00:30:00Z",
      "2024-10-27T01:00:00Z",
      "2024-10-27T01:30:00Z"
    ]]
  ]

  it.each(rows)("%s", (_name, timeZone, type, start, expected) => {
    const schedule = recurring({ type, startTs: ts(start), timeZone })
    const last = expected[expected.length - 1] ?? start
    expect(slotsBetween(schedule, ts(start), ts(last)).map(iso)).toEqual(expected)
    // nextRunTs walks the same slots one occurrence at a time
    let previous: number | null = null
    for (const slot of expected) {
      const next = nextRunTs({ type, startTs: ts(start), timeZone }, previous, previous ?? ts(start), UTC)
      expect(iso(next)).toBe(slot)
      previous = next
    }
  })

  it("a zone name is accepted in any case and by alias", () => {
    const start = ts("2024-03-08T14:00:00Z")
    const now = ts("2024-03-10T12:00:00Z")
    const expected = "2024-03-10T13:00:00Z"
    for (const timeZone of ["America/New_York", "america/new_york", "US/Eastern"]) {
      expect(iso(nextRunTs({ type: "daily", startTs: start, timeZone }, null, now))).toBe(expected)
    }
  })

  it("without a zone the default zone applies", () => {
    const schedule: JobSchedule = { type: "daily", startTs: ts("2024-03-08T14:00:00Z") }
    expect(iso(nextRunTs(schedule, null, ts("2024-03-10T12:00:00Z"), { defaultTimeZone: "America/New_York" }))).toBe(
      "2024-03-10T13:00:00Z"
    )
    expect(iso(nextRunTs(schedule, null, ts("2024-03-10T12:00:00Z"), UTC))).toBe("2024-03-10T14:00:00Z")
  })

  it("latest/first slot helpers agree around a gap", () => {
    const schedule = recurring({ type: "daily", startTs: ts("2024-03-09T07:30:00Z"), timeZone: "America/New_York" })
    expect(iso(latestSlotAtOrBefore(schedule, ts("2024-03-10T06:59:59Z")))).toBe("2024-03-09T07:30:00Z")
    expect(iso(latestSlotAtOrBefore(schedule, ts("2024-03-10T07:00:00Z")))).toBe("2024-03-10T07:00:00Z")
    expect(iso(firstSlotAtOrAfter(schedule, ts("2024-03-09T07:30:01Z")))).toBe("2024-03-10T07:00:00Z")
    expect(latestSlotAtOrBefore(schedule, ts("2024-03-09T07:29:00Z"))).toBeNull()
  })

  it("slots stay strictly increasing over ten years of a DST zone", () => {
    for (const type of ["daily", "weekly", "monthly", "yearly"]) {
      const schedule = recurring({ type, startTs: ts("2020-01-31T06:30:00Z"), timeZone: "America/New_York" })
      const slots = slotsBetween(schedule, ts("2020-01-01T00:00:00Z"), ts("2030-01-01T00:00:00Z"), 5_000)
      for (let i = 1; i < slots.length; i++) expect((slots[i] ?? 0) > (slots[i - 1] ?? 0)).toBe(true)
      // and the estimate-based lookups agree with the enumeration
      for (const slot of slots.filter((_, i) => i % 37 === 0)) {
        expect(latestSlotAtOrBefore(schedule, slot)).toBe(slot)
        expect(latestSlotAtOrBefore(schedule, slot + 59)).toBe(slot)
        expect(firstSlotAtOrAfter(schedule, slot)).toBe(slot)
      }
    }
  })
})

describe("occurrenceToWorkOn (legacy §4.5, with the fixes)", () => {
  type Latest = { readonly scheduledTs: string; readonly complete: boolean } | null
  type Row = readonly [string, JobSchedule, Latest, string | null, string, { _tag: string; occurrenceTs?: string; reason?: string; problem?: string }]
  const S = (type: string, start: string | null, timeZone?: string): JobSchedule => ({
    type,
    startTs: start === null ? null : ts(start),
    ...(timeZone === undefined ? {} : { timeZone })
  })
  const due = (occurrenceTs: string, reason: string) => ({ _tag: "Due", occurrenceTs, reason })
  const idle = (reason: string) => ({ _tag: "Idle", reason })
  const created = "2024-05-01T10:00:20Z"
  const rows: ReadonlyArray<Row> = [
    // immediately: at created_at (minute), within the window, once
    ["immediately, first tick", S("immediately", null), null, created, "2024-05-01T10:00:40Z", due("2024-05-01T10:00:00Z", "first")],
    ["immediately, 5 minutes late", S("immediately", null), null, created, "2024-05-01T10:05:59Z", due("2024-05-01T10:00:00Z", "first")],
    ["immediately, 6 minutes late", S("immediately", null), null, created, "2024-05-01T10:06:00Z", idle("missed_window")],
    ["immediately, created in the future", S("immediately", null), null, created, "2024-05-01T09:59:00Z", idle("before_start")],
    ["immediately, no created_at → now", S("immediately", null), null, null, "2024-05-01T12:00:10Z", due("2024-05-01T12:00:00Z", "first")],
    ["immediately, done", S("immediately", null), { scheduledTs: "2024-05-01T10:00:00Z", complete: true }, created, "2024-05-01T10:01:00Z", idle("finished")],
    ["immediately, unfinished", S("immediately", null), { scheduledTs: "2024-05-01T10:00:00Z", complete: false }, created, "2024-05-02T10:00:00Z", due("2024-05-01T10:00:00Z", "continue")],
    // once
    ["once, before", S("once", "2024-05-01T12:00:00Z"), null, created, "2024-05-01T11:59:59Z", idle("before_start")],
    ["once, on time", S("once", "2024-05-01T12:00:00Z"), null, created, "2024-05-01T12:00:00Z", due("2024-05-01T12:00:00Z", "first")],
    ["once, 5 minutes late", S("once", "2024-05-01T12:00:00Z"), null, created, "2024-05-01T12:05:00Z", due("2024-05-01T12:00:00Z", "first")],
    ["once, too late", S("once", "2024-05-01T12:00:00Z"), null, created, "2024-05-01T12:06:00Z", idle("missed_window")],
    ["once, done", S("once", "2024-05-01T12:00:00Z"), { scheduledTs: "2024-05-01T12:00:00Z", complete: true }, created, "2024-05-01T12:01:00Z", idle("finished")],
    ["once, unfinished", S("once", "2024-05-01T12:00:00Z"), { scheduledTs: "2024-05-01T12:00:00Z", complete: false }, created, "2024-05-03T00:00:00Z", due("2024-05-01T12:00:00Z", "continue")],
    // every 5 minutes from 10:00
    ["5m, first slot", S("every_5_minutes", "2024-05-01T10:00:00Z"), null, created, "2024-05-01T10:00:00Z", due("2024-05-01T10:00:00Z", "first")],
    ["5m, first slot, late", S("every_5_minutes", "2024-05-01T10:00:00Z"), null, created, "2024-05-01T10:03:00Z", due("2024-05-01T10:00:00Z", "first")],
    // legacy stalled here for ever (first occurrence = start, outside the window): the newest slot runs
    ["5m, never ran, start long past", S("every_5_minutes", "2024-05-01T10:00:00Z"), null, created, "2024-05-01T10:07:00Z", due("2024-05-01T10:05:00Z", "first")],
    ["5m, before start", S("every_5_minutes", "2024-05-01T10:00:00Z"), null, created, "2024-05-01T09:59:00Z", idle("before_start")],
    ["5m, slot already done", S("every_5_minutes", "2024-05-01T10:00:00Z"), { scheduledTs: "2024-05-01T10:05:00Z", complete: true }, created, "2024-05-01T10:07:00Z", idle("already_done")],
    ["5m, next slot", S("every_5_minutes", "2024-05-01T10:00:00Z"), { scheduledTs: "2024-05-01T10:05:00Z", complete: true }, created, "2024-05-01T10:10:30Z", due("2024-05-01T10:10:00Z", "next")],
    ["5m, missed slots skipped", S("every_5_minutes", "2024-05-01T10:00:00Z"), { scheduledTs: "2024-05-01T10:05:00Z", complete: true }, created, "2024-05-01T10:41:00Z", due("2024-05-01T10:40:00Z", "next")],
    ["5m, unfinished occurrence continues", S("every_5_minutes", "2024-05-01T10:00:00Z"), { scheduledTs: "2024-05-01T10:05:00Z", complete: false }, created, "2024-05-01T10:41:00Z", due("2024-05-01T10:05:00Z", "continue")],
    // daily
    ["daily, next day on time", S("daily", "2024-05-01T09:00:00Z"), { scheduledTs: "2024-05-01T09:00:00Z", complete: true }, created, "2024-05-02T09:04:00Z", due("2024-05-02T09:00:00Z", "next")],
    ["daily, next day too late", S("daily", "2024-05-01T09:00:00Z"), { scheduledTs: "2024-05-01T09:00:00Z", complete: true }, created, "2024-05-02T09:06:00Z", idle("missed_window")],
    ["daily, later that day", S("daily", "2024-05-01T09:00:00Z"), { scheduledTs: "2024-05-01T09:00:00Z", complete: true }, created, "2024-05-01T18:00:00Z", idle("already_done")],
    ["monthly on Feb 29", S("monthly", "2024-01-31T09:00:00Z"), { scheduledTs: "2024-01-31T09:00:00Z", complete: true }, created, "2024-02-29T09:00:00Z", due("2024-02-29T09:00:00Z", "next")],
    // DST: the gap runs at the first valid minute, the overlap runs once
    ["NY gap day", S("daily", "2024-03-09T07:30:00Z", "America/New_York"), { scheduledTs: "2024-03-09T07:30:00Z", complete: true }, created, "2024-03-10T07:00:00Z", due("2024-03-10T07:00:00Z", "next")],
    ["NY overlap, first 01:30", S("daily", "2024-11-02T05:30:00Z", "America/New_York"), { scheduledTs: "2024-11-02T05:30:00Z", complete: true }, created, "2024-11-03T05:30:00Z", due("2024-11-03T05:30:00Z", "next")],
    ["NY overlap, second 01:30 does not run again", S("daily", "2024-11-02T05:30:00Z", "America/New_York"), { scheduledTs: "2024-11-03T05:30:00Z", complete: true }, created, "2024-11-03T06:30:00Z", idle("already_done")],
    ["Sydney overlap, second 02:30 does not run again", S("daily", "2024-04-05T15:30:00Z", "Australia/Sydney"), { scheduledTs: "2024-04-06T15:30:00Z", complete: true }, created, "2024-04-06T16:32:00Z", idle("already_done")],
    ["Berlin gap day", S("daily", "2024-03-30T01:30:00Z", "Europe/Berlin"), { scheduledTs: "2024-03-30T01:30:00Z", complete: true }, created, "2024-03-31T01:02:00Z", due("2024-03-31T01:00:00Z", "next")],
    // cannot fire
    ["unknown type", S("fortnightly", "2024-05-01T09:00:00Z"), null, created, "2024-05-01T09:00:00Z", { _tag: "Invalid", problem: "unknown_schedule_type" }],
    ["no start", S("daily", null), null, created, "2024-05-01T09:00:00Z", { _tag: "Invalid", problem: "missing_start" }],
    ["unknown zone", S("daily", "2024-05-01T09:00:00Z", "Mars/Olympus"), null, created, "2024-05-01T09:00:00Z", { _tag: "Invalid", problem: "invalid_timezone" }]
  ]

  it.each(rows)("%s", (_name, schedule, latest, createdAt, now, expected) => {
    const decision = occurrenceToWorkOn({
      schedule,
      latest: latest === null ? null : { scheduledTs: ts(latest.scheduledTs), complete: latest.complete },
      createdAt: createdAt === null ? null : ts(createdAt),
      nowTs: ts(now),
      defaultTimeZone: "UTC"
    })
    const shown = decision._tag === "Due" ? { ...decision, occurrenceTs: iso(decision.occurrenceTs) } : decision
    expect(shown).toEqual(expected)
  })

  it("a custom window narrows the firing window", () => {
    const decision = occurrenceToWorkOn({
      schedule: { type: "every_10_minutes", startTs: ts("2024-05-01T10:00:00Z") },
      latest: null,
      createdAt: null,
      nowTs: ts("2024-05-01T10:02:00Z"),
      windowSeconds: 60,
      defaultTimeZone: "UTC"
    })
    expect(decision).toEqual({ _tag: "Idle", reason: "missed_window" })
  })

  it("a failed target lets the job move on (isOccurrenceComplete feeds `complete`)", () => {
    const targets = ["alpha", "beta"]
    const runs = [{ target_hostname: "alpha", status: "Success" }, { target_hostname: "beta", status: "Failed" }]
    const decision = occurrenceToWorkOn({
      schedule: { type: "every_5_minutes", startTs: ts("2024-05-01T10:00:00Z") },
      latest: { scheduledTs: ts("2024-05-01T10:00:00Z"), complete: isOccurrenceComplete(targets, runs) },
      createdAt: null,
      nowTs: ts("2024-05-01T10:05:00Z"),
      defaultTimeZone: "UTC"
    })
    expect(decision).toEqual({ _tag: "Due", occurrenceTs: ts("2024-05-01T10:05:00Z"), reason: "next" })
  })

  it("minute by minute over a day, each slot is due exactly once", () => {
    const schedule: JobSchedule = { type: "every_15_minutes", startTs: ts("2024-05-01T00:07:00Z") }
    let latest: { scheduledTs: number; complete: boolean } | null = null
    const fired: Array<number> = []
    for (let now = ts("2024-05-01T00:00:00Z"); now < ts("2024-05-02T00:00:00Z"); now += 60) {
      const decision = occurrenceToWorkOn({ schedule, latest, createdAt: null, nowTs: now, defaultTimeZone: "UTC" })
      if (decision._tag === "Due") {
        if (decision.reason !== "continue") fired.push(decision.occurrenceTs)
        latest = { scheduledTs: decision.occurrenceTs, complete: true }
      }
    }
    expect(fired).toHaveLength(96)
    expect(iso(fired[0] ?? null)).toBe("2024-05-01T00:07:00Z")
    expect(iso(fired[95] ?? null)).toBe("2024-05-01T23:52:00Z")
  })
})
