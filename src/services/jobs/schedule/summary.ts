// The computed fields of a job in the REST answers (`last_run_ts`, `last_status`,
// `latest_occurrence`, `result_counts`, `next_run_ts`). Pure.
// spec: realtime-jobs.md §4.8 (legacy fields, later Engine's `skipped` and status priority, which
// ranks Failed because Failed is terminal here)
import { type JobSchedule, nextRunTs, type ScheduleOptions } from "./nextRun.ts"

interface ResultCounts {
  readonly pending: number
  readonly running: number
  readonly success: number
  readonly failed: number
  readonly expired: number
  readonly timed_out: number
  readonly skipped: number
  readonly total_targets: number
}

interface JobSummary {
  readonly last_run_ts: number | null
  readonly last_status: string
  readonly latest_occurrence: number | null
  readonly result_counts: ResultCounts
  readonly next_run_ts: number | null
}

// Highest first; "Skipped" reads as the UI's label.
const PRIORITY: ReadonlyArray<readonly [string, string]> = [
  ["Running", "Running"],
  ["Failed", "Failed"],
  ["Timed Out", "Timed Out"],
  ["Expired", "Expired"],
  ["Pending", "Pending"],
  ["Success", "Success"],
  ["Skipped", "No Devices Targeted"]
]

/**
 * Summarise a job from the statuses of its latest occurrence's runs (`MAX(scheduled_ts)`; pass
 * `null` and no rows when it never ran). `pending` counts targets without a row yet.
 */
export const jobSummary = (input: {
  readonly schedule: JobSchedule
  readonly targetCount: number
  readonly latestOccurrence: number | null
  readonly runStatuses: ReadonlyArray<string | null>
  readonly nowTs: number
  readonly options?: ScheduleOptions
}): JobSummary => {
  const counts = new Map<string, number>()
  for (const status of input.runStatuses) counts.set(status ?? "", (counts.get(status ?? "") ?? 0) + 1)
  const n = (status: string) => counts.get(status) ?? 0
  const counted = n("Pending") + n("Running") + n("Success") + n("Failed") + n("Expired") + n("Timed Out") + n("Skipped")
  const hasOccurrence = input.latestOccurrence !== null
  const result_counts: ResultCounts = {
    pending: hasOccurrence ? n("Pending") + Math.max(0, input.targetCount - counted) : 0,
    running: n("Running"),
    success: n("Success"),
    failed: n("Failed"),
    expired: n("Expired"),
    timed_out: n("Timed Out"),
    skipped: n("Skipped"),
    total_targets: input.targetCount
  }
  const ranked = hasOccurrence ? PRIORITY.find(([status]) => n(status) > 0)?.[1] : undefined
  const hasStart = typeof input.schedule.startTs === "number" && input.schedule.startTs !== 0
  return {
    last_run_ts: input.latestOccurrence,
    last_status: ranked ?? (hasStart ? "Scheduled" : ""),
    latest_occurrence: input.latestOccurrence,
    result_counts,
    next_run_ts: nextRunTs(input.schedule, input.latestOccurrence, input.nowTs, input.options)
  }
}
