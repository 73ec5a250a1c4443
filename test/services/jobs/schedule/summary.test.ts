import { describe, expect, it } from "@effect/vitest"
import { jobSummary } from "../../../../src/services/jobs/schedule/summary.ts"

const ts = (iso: string): number => Date.parse(iso) / 1000
const daily = { type: "daily", startTs: ts("2024-05-01T09:00:00Z"), timeZone: "UTC" }

describe("jobSummary (spec §4.8)", () => {
  it("a job that never ran", () => {
    expect(jobSummary({ schedule: daily, targetCount: 3, latestOccurrence: null, runStatuses: [], nowTs: ts("2024-04-30T00:00:00Z") })).toEqual({
      last_run_ts: null,
      last_status: "Scheduled",
      latest_occurrence: null,
      result_counts: { pending: 0, running: 0, success: 0, failed: 0, expired: 0, timed_out: 0, skipped: 0, total_targets: 3 },
      next_run_ts: ts("2024-05-01T09:00:00Z")
    })
  })

  it("an immediately job that never ran has no status and runs now", () => {
    const summary = jobSummary({ schedule: { type: "immediately", startTs: null }, targetCount: 1, latestOccurrence: null, runStatuses: [], nowTs: 1_000_030 })
    expect([summary.last_status, summary.next_run_ts]).toEqual(["", 1_000_020])
  })

  it("counts the latest occurrence; pending are targets without a row", () => {
    const occurrence = ts("2024-05-02T09:00:00Z")
    expect(
      jobSummary({ schedule: daily, targetCount: 5, latestOccurrence: occurrence, runStatuses: ["Success", "Success", "Running"], nowTs: occurrence + 120 })
    ).toEqual({
      last_run_ts: occurrence,
      last_status: "Running",
      latest_occurrence: occurrence,
      result_counts: { pending: 2, running: 1, success: 2, failed: 0, expired: 0, timed_out: 0, skipped: 0, total_targets: 5 },
      next_run_ts: ts("2024-05-03T09:00:00Z")
    })
  })

  it.each([
    [["Success", "Failed"], "Failed"],
    [["Success", "Timed Out", "Expired"], "Timed Out"],
    [["Success", "Expired"], "Expired"],
    [["Success", "Pending"], "Pending"],
    [["Success"], "Success"],
    [["Skipped"], "No Devices Targeted"],
    [["Cancelled"], "Scheduled"],
    [["Running", "Failed"], "Running"]
  ])("statuses %j → %s", (statuses, expected) => {
    expect(jobSummary({ schedule: daily, targetCount: 2, latestOccurrence: ts("2024-05-02T09:00:00Z"), runStatuses: statuses, nowTs: ts("2024-05-02T10:00:00Z") }).last_status)
      .toBe(expected)
  })

  it("pending never goes negative", () => {
    const s = jobSummary({ schedule: daily, targetCount: 1, latestOccurrence: 60, runStatuses: ["Success", "Success", null], nowTs: 120 })
    expect(s.result_counts.pending).toBe(0)
  })
})
