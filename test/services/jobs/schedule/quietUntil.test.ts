// quietUntil (the scheduler's skip-ahead) never hides a due occurrence: for every schedule type and
// zone, before it occurrenceOf is Idle, and for recurring schedules it is Due exactly there.
import { describe, expect, it } from "@effect/vitest"
import { compileSchedule, type CompiledSchedule, occurrenceOf, quietUntil, SCHEDULE_TYPES } from "../../../../src/services/jobs/schedule/nextRun.ts"

const T0 = Date.parse("2024-01-31T09:30:00Z") / 1000
const ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe"]

const compiled = (type: string, zone: string, startTs: number): CompiledSchedule => {
  const c = compileSchedule({ type, startTs, timeZone: zone })
  if (c._tag !== "Ok") throw new Error(`${type}: ${c.problem}`)
  return c.schedule
}

describe("quietUntil", () => {
  it("is never later than the first minute occurrenceOf says Due", () => {
    let checked = 0
    for (const type of SCHEDULE_TYPES) {
      for (const zone of ZONES) {
        const schedule = compiled(type, zone, T0)
        // no occurrence yet, then a finished occurrence at each of the first few slots
        const latests: Array<number | null> = [null]
        let t = T0
        for (let i = 0; i < 4; i++) {
          const d = occurrenceOf(schedule, { latest: null, createdAt: T0, nowTs: t })
          if (d._tag === "Due") latests.push(d.occurrenceTs)
          t += type === "yearly" ? 366 * 86_400 : type === "monthly" ? 31 * 86_400 : type === "weekly" ? 7 * 86_400 : type === "daily" ? 86_400 : 3600
        }
        for (const latest of latests) {
          const until = quietUntil(schedule, latest, T0)
          const horizon = latest === null ? T0 + 400 * 86_400 : latest + 400 * 86_400
          // walk minute by minute for a day around the boundary and in coarse steps beyond
          const from = latest ?? T0 - 86_400
          for (let now = from; now < Math.min(until, horizon); now += now < from + 86_400 ? 60 : 3600) {
            const decision = occurrenceOf(schedule, { latest: latest === null ? null : { scheduledTs: latest, complete: true }, createdAt: T0, nowTs: now })
            expect([type, zone, latest, now, decision._tag]).toEqual([type, zone, latest, now, "Idle"])
            checked++
          }
          if (schedule._tag === "Recurring" && Number.isFinite(until)) {
            const at = occurrenceOf(schedule, { latest: latest === null ? null : { scheduledTs: latest, complete: true }, createdAt: T0, nowTs: until })
            expect([type, zone, latest, at]).toEqual([type, zone, latest, expect.objectContaining({ _tag: "Due", occurrenceTs: until })])
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(10_000)
  })

  it("once and immediately are quiet forever after their occurrence", () => {
    expect(quietUntil(compiled("once", "UTC", T0), T0, T0)).toBe(Infinity)
    expect(quietUntil(compiled("immediately", "UTC", T0), T0, T0)).toBe(Infinity)
    expect(quietUntil(compiled("immediately", "UTC", T0), null, T0 + 59)).toBe(T0)
    expect(quietUntil(compiled("once", "UTC", T0 + 600), null, T0)).toBe(T0 + 600)
  })
})
