// Pure rules of result handling: which job ids count, status spelling, how a run's status follows
// from its activities'. spec: realtime-jobs.md §2.4, §7 item 9
import { describe, expect, it } from "@effect/vitest"
import { aggregateRunStatus, canonicalStatus, isPendingStatus } from "../../../src/services/jobs/JobResults.ts"
import { reportedId } from "../../../src/services/jobs/requests.ts"

describe("reportedId (Python int(job_id), else dropped)", () => {
  it.each([
    [7, 7], ["7", 7], [" 12 ", 12], [5.0, 5],
    [0, undefined], [-3, undefined], ["-3", undefined], [1.5, undefined], ["1.5", undefined], ["abc", undefined],
    [null, undefined], [undefined, undefined], [true, undefined], [{ id: 1 }, undefined], [[1], undefined], ["1e3", undefined],
    [Number.MAX_SAFE_INTEGER + 2, undefined]
  ])("%j → %j", (input, expected) => expect(reportedId(input)).toBe(expected))
})

describe("statuses", () => {
  it("known statuses are spelled canonically, others kept", () => {
    expect(["success", "FAILED", " timed out ", "running", "Warning", "Weird"].map(canonicalStatus)).toEqual(["Success", "Failed", "Timed Out", "Running", "Warning", "Weird"])
  })
  it("in progress: Running, Pending, Queued, blank", () => {
    expect(["Running", "pending", "Queued", "", null, undefined].every(isPendingStatus)).toBe(true)
    expect(["Success", "Failed", "Cancelled", "Timed Out"].some(isPendingStatus)).toBe(false)
  })
  it("a run is Failed if any activity failed, else the first non-Success, else Success", () => {
    expect(aggregateRunStatus(["Success"])).toBe("Success")
    expect(aggregateRunStatus(["Success", "Failed", "Cancelled"])).toBe("Failed")
    expect(aggregateRunStatus(["Success", "Cancelled"])).toBe("Cancelled")
    expect(aggregateRunStatus(["Success", "Success"])).toBe("Success")
  })
})
