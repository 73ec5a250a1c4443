// SQL for scheduled jobs, their runs, the run ↔ activity links and the activity rows a dispatch
// writes. Infrastructure errors are defects here (the HTTP edge answers 503, the scheduler logs).
// spec: realtime-jobs.md §6 (schema), §4.5 (tick queries), §5.2 (REST queries)
import * as SqlClient from "@effect/sql/SqlClient"
import * as SqlSchema from "@effect/sql/SqlSchema"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Row from "../../layers/sqlRows.ts"
import { changes, run } from "../sqlResult.ts"

/** A `scheduled_jobs` row as stored. */
const JobRow = Schema.Struct({
  id: Row.Num,
  name: Row.Text,
  components_json: Row.Nullable(Row.Text),
  targets_json: Row.Nullable(Row.Text),
  schedule_type: Row.Nullable(Row.Text),
  start_ts: Row.Nullable(Row.Num),
  duration_stop_enabled: Row.Nullable(Row.Bool),
  expiration: Row.Nullable(Row.Text),
  execution_context: Row.Nullable(Row.Text),
  credential_id: Row.Nullable(Row.Num),
  use_service_account: Row.Nullable(Row.Bool),
  enabled: Row.Nullable(Row.Bool),
  created_at: Row.Nullable(Row.Num),
  updated_at: Row.Nullable(Row.Num),
  timezone: Row.Nullable(Row.Text),
  /** Who created it (NULL for jobs from before this was recorded: only an Admin changes those). */
  created_by: Row.Nullable(Row.Text)
})
export type JobRow = typeof JobRow.Type

/** The columns a scheduler tick reads for every enabled job. */
const ScheduleRow = JobRow.pick("id", "schedule_type", "start_ts", "timezone", "targets_json", "expiration", "created_at")
export type ScheduleRow = typeof ScheduleRow.Type

/** The writable columns of a job. */
export interface JobColumns {
  readonly name: string
  readonly components_json: string
  readonly targets_json: string
  readonly schedule_type: string
  readonly start_ts: number | null
  readonly duration_stop_enabled: number
  readonly expiration: string
  readonly execution_context: string
  readonly credential_id: number | null
  readonly use_service_account: number
  readonly enabled: number
  readonly timezone: string | null
}

const RunRow = Schema.Struct({
  id: Row.Num,
  job_id: Row.Num,
  scheduled_ts: Row.Nullable(Row.Num),
  started_ts: Row.Nullable(Row.Num),
  finished_ts: Row.Nullable(Row.Num),
  status: Row.Nullable(Row.Text),
  error: Row.Nullable(Row.Text),
  target_hostname: Row.Nullable(Row.Text),
  created_at: Row.Nullable(Row.Num),
  updated_at: Row.Nullable(Row.Num)
})

/** One target's run in a job's latest occurrence. */
const OccurrenceRun = Schema.Struct({ id: Row.Num, target_hostname: Row.Nullable(Row.Text), status: Row.Nullable(Row.Text) })
export type OccurrenceRun = typeof OccurrenceRun.Type

/** The same with its job and occurrence (`latestOccurrences`, every tick). */
const LatestRun = Schema.Struct({ ...OccurrenceRun.fields, job_id: Row.Num, scheduled_ts: Row.Num })

/** The same with its timestamps (`/devices`). */
const OccurrenceRunTimes = Schema.Struct({ ...OccurrenceRun.fields, started_ts: Row.Nullable(Row.Num), finished_ts: Row.Nullable(Row.Num) })

export interface LatestOccurrence {
  readonly scheduledTs: number
  readonly runs: ReadonlyArray<OccurrenceRun>
}

const ActivityRow = Schema.Struct({
  id: Row.Num,
  hostname: Row.Nullable(Row.Text),
  script_path: Row.Nullable(Row.Text),
  script_name: Row.Nullable(Row.Text),
  script_type: Row.Nullable(Row.Text),
  status: Row.Nullable(Row.Text),
  ran_at: Row.Nullable(Row.Num),
  stdout: Row.Nullable(Row.Text),
  stderr: Row.Nullable(Row.Text),
  /** The device it was dispatched to (NULL: a row from before devices were recorded, or a pre-token agent). */
  device_guid: Row.Nullable(Row.Text)
})

const RunLinkRow = Schema.Struct({
  run_id: Row.Num,
  job_id: Row.Num,
  scheduled_ts: Row.Nullable(Row.Num),
  target_hostname: Row.Nullable(Row.Text),
  status: Row.Nullable(Row.Text),
  schedule_type: Row.Nullable(Row.Text)
})

/** A Running run with its job's expiration (the timeout step, every tick). */
const RunningRun = Schema.Struct({ ...RunLinkRow.fields, started_ts: Row.Nullable(Row.Num), expiration: Row.Nullable(Row.Text) })

const DeviceActivityLink = Schema.Struct({
  run_id: Row.Num,
  activity_id: Row.Num,
  component_kind: Row.Nullable(Row.Text),
  script_type: Row.Nullable(Row.Text),
  component_path: Row.Nullable(Row.Text),
  component_name: Row.Nullable(Row.Text),
  out_len: Row.Num,
  err_len: Row.Num
})

const RunIdRow = Schema.Struct({ run_id: Row.Num })
const StatusRow = Schema.Struct({ status: Row.Nullable(Row.Text) })
const SiteOfHostRow = Schema.Struct({ hostname: Row.Text, name: Row.Nullable(Row.Text) })

/** A playbook run the server sent (scheduled, or an Admin's relay): who it went to and what it is part of. */
export interface DispatchedPlaybook {
  readonly run_id: string
  readonly hostname: string
  readonly device_guid: string | null
  readonly playbook_path: string | null
  readonly playbook_name: string | null
  readonly scheduled_job_id: number | null
  readonly scheduled_run_id: number | null
  readonly activity_job_id: number | null
  readonly source: "scheduled" | "relay"
}

/** What an Ansible recap report may set (`null` = not reported): progress, never whose run it is. */
export interface RecapReport {
  readonly agent_id: string | null
  readonly status: string | null
  readonly recap_text: string | null
  readonly recap_json: string | null
  readonly started_ts: number | null
  readonly finished_ts: number | null
}

const RecapRow = Schema.Struct({
  id: Row.Num,
  run_id: Row.Text,
  hostname: Row.Nullable(Row.Text),
  agent_id: Row.Nullable(Row.Text),
  playbook_path: Row.Nullable(Row.Text),
  playbook_name: Row.Nullable(Row.Text),
  scheduled_job_id: Row.Nullable(Row.Num),
  scheduled_run_id: Row.Nullable(Row.Num),
  activity_job_id: Row.Nullable(Row.Num),
  status: Row.Nullable(Row.Text),
  recap_text: Row.Nullable(Row.Text),
  recap_json: Row.Nullable(Row.Text),
  started_ts: Row.Nullable(Row.Num),
  finished_ts: Row.Nullable(Row.Num),
  created_at: Row.Nullable(Row.Num),
  updated_at: Row.Nullable(Row.Num),
  /** NULL for rows the server did not dispatch (written by the original's open route). */
  dispatched_at: Row.Nullable(Row.Num),
  device_guid: Row.Nullable(Row.Text),
  source: Row.Nullable(Row.Text)
})
export type RecapRow = typeof RecapRow.Type

const JOB_COLUMNS = `id, name, components_json, targets_json, schedule_type, start_ts, duration_stop_enabled, expiration,
  execution_context, credential_id, use_service_account, enabled, created_at, updated_at, timezone, created_by`

const COLUMN_NAMES: ReadonlyArray<keyof JobColumns> = [
  "name",
  "components_json",
  "targets_json",
  "schedule_type",
  "start_ts",
  "duration_stop_enabled",
  "expiration",
  "execution_context",
  "credential_id",
  "use_service_account",
  "enabled",
  "timezone"
]

const LATEST = `SELECT job_id, MAX(scheduled_ts) AS occ FROM scheduled_job_runs WHERE scheduled_ts IS NOT NULL GROUP BY job_id`

// Rows are kept as they come (a row is an OccurrenceRun with two more fields): this runs every tick.
const groupLatest = (rows: ReadonlyArray<typeof LatestRun.Type>) => {
  const out = new Map<number, { scheduledTs: number; runs: Array<OccurrenceRun> }>()
  for (const row of rows) {
    const entry = out.get(row.job_id)
    if (entry === undefined) out.set(row.job_id, { scheduledTs: row.scheduled_ts, runs: [row] })
    else entry.runs.push(row)
  }
  return out as ReadonlyMap<number, LatestOccurrence>
}

// What the scheduler reads every minute (all enabled jobs, every latest occurrence, every Running
// run): decoded as a whole (Row.BulkRows), not element by element.
const decodeSchedules = Schema.decodeUnknown(Row.BulkRows(ScheduleRow))
const decodeLatestRuns = Schema.decodeUnknown(Row.BulkRows(LatestRun))
const decodeRunningRuns = Schema.decodeUnknown(Row.BulkRows(RunningRun))

const OccurrenceKey = Schema.Struct({ jobId: Schema.Number, scheduledTs: Schema.Number })
const RunsSince = Schema.Struct({ jobId: Schema.Number, cutoff: Schema.Number })
const RunIds = Schema.Array(Schema.Number)

export class JobsRepo extends Effect.Service<JobsRepo>()("borealis/JobsRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    // ---- jobs

    const listJobRows = SqlSchema.findAll({
      Request: Schema.Void,
      Result: JobRow,
      execute: () => sql.unsafe(`SELECT ${JOB_COLUMNS} FROM scheduled_jobs ORDER BY created_at DESC, id DESC`)
    })
    const listJobs = listJobRows(undefined).pipe(Effect.orDie)

    /** What the scheduler evaluates every minute (the rest of a row is read when a job is due). */
    const enabledSchedules = sql.unsafe(
      `SELECT id, schedule_type, start_ts, timezone, targets_json, expiration, created_at FROM scheduled_jobs WHERE enabled = 1 ORDER BY id ASC`
    ).pipe(Effect.flatMap(decodeSchedules), Effect.orDie)

    const jobById = SqlSchema.findOne({
      Request: Schema.Number,
      Result: JobRow,
      execute: (id) => sql.unsafe(`SELECT ${JOB_COLUMNS} FROM scheduled_jobs WHERE id = ?`, [id])
    })
    const getJob = (id: number) => jobById(id).pipe(Effect.orDie)

    const insertJob = (columns: JobColumns, createdBy: string, now: number) =>
      run(sql`INSERT INTO scheduled_jobs ${sql.insert({ ...columns, created_by: createdBy, created_at: now, updated_at: now })}`).pipe(
        Effect.map((r) => Number(r.lastInsertRowid)),
        Effect.orDie
      )

    /** Rows changed (0 = no such job). Only the given columns are written, plus `updated_at`. */
    const updateJob = (id: number, columns: Partial<JobColumns>, now: number) => {
      const set: Record<string, unknown> = {}
      for (const name of COLUMN_NAMES) if (columns[name] !== undefined) set[name] = columns[name]
      return changes(sql`UPDATE scheduled_jobs SET ${sql.update({ ...set, updated_at: now })} WHERE id = ${id}`).pipe(Effect.orDie)
    }

    /** Deletes the job; its runs and their activity links go with it (foreign keys cascade). */
    const deleteJob = (id: number) => changes(sql`DELETE FROM scheduled_jobs WHERE id = ${id}`).pipe(Effect.orDie)

    // ---- occurrences and runs

    /** Every job's newest occurrence (`MAX(scheduled_ts)`) with the runs of that occurrence. */
    const latestOccurrences = sql.unsafe(
      `SELECT r.job_id, r.scheduled_ts, r.id, r.target_hostname, r.status
         FROM scheduled_job_runs r JOIN (${LATEST}) l ON l.job_id = r.job_id AND r.scheduled_ts = l.occ`
    ).pipe(Effect.flatMap(decodeLatestRuns), Effect.map(groupLatest), Effect.orDie)

    const latestRunsOf = SqlSchema.findAll({
      Request: Schema.Number,
      Result: LatestRun,
      execute: (jobId) =>
        sql`
        SELECT r.job_id, r.scheduled_ts, r.id, r.target_hostname, r.status
          FROM scheduled_job_runs r
         WHERE r.job_id = ${jobId}
           AND r.scheduled_ts = (SELECT MAX(scheduled_ts) FROM scheduled_job_runs WHERE job_id = ${jobId})
         ORDER BY r.id DESC`
    })
    const latestOccurrenceOf = (jobId: number) =>
      latestRunsOf(jobId).pipe(Effect.map((rows) => Option.fromNullable(groupLatest(rows).get(jobId))), Effect.orDie)

    const occurrenceRunRows = SqlSchema.findAll({
      Request: OccurrenceKey,
      Result: OccurrenceRunTimes,
      execute: ({ jobId, scheduledTs }) =>
        sql`
        SELECT id, target_hostname, status, started_ts, finished_ts FROM scheduled_job_runs
         WHERE job_id = ${jobId} AND scheduled_ts = ${scheduledTs} ORDER BY id DESC`
    })
    const occurrenceRuns = (jobId: number, scheduledTs: number) => occurrenceRunRows({ jobId, scheduledTs }).pipe(Effect.orDie)

    /**
     * Create the run of (job, target, occurrence) unless it exists: the unique key
     * `uq_runs_job_target_occurrence` makes a second insert — from a concurrent tick, another
     * process, or after a restart — a no-op. `none` when the run already existed.
     */
    const insertRun = (input: {
      readonly jobId: number
      readonly target: string
      readonly scheduledTs: number
      readonly status: string
      readonly startedTs: number | null
      readonly finishedTs: number | null
      readonly error: string | null
      readonly now: number
    }) =>
      run(sql`INSERT OR IGNORE INTO scheduled_job_runs
                (job_id, target_hostname, scheduled_ts, started_ts, finished_ts, status, error, created_at, updated_at)
              VALUES (${input.jobId}, ${input.target}, ${input.scheduledTs}, ${input.startedTs}, ${input.finishedTs},
                      ${input.status}, ${input.error}, ${input.now}, ${input.now})`).pipe(
        Effect.map((r) => (r.changes > 0 ? Option.some(Number(r.lastInsertRowid)) : Option.none<number>())),
        Effect.orDie
      )

    const runById = SqlSchema.findOne({
      Request: Schema.Number,
      Result: RunLinkRow,
      execute: (runId) =>
        sql`
        SELECT r.id AS run_id, r.job_id, r.scheduled_ts, r.target_hostname, r.status, j.schedule_type
          FROM scheduled_job_runs r LEFT JOIN scheduled_jobs j ON j.id = r.job_id
         WHERE r.id = ${runId}`
    })
    const getRun = (runId: number) => runById(runId).pipe(Effect.orDie)

    /** A run reached a final status: keep the first `finished_ts`. */
    const finishRun = (runId: number, status: string, error: string | null, now: number) =>
      changes(sql`UPDATE scheduled_job_runs
                     SET status = ${status}, error = COALESCE(${error}, error), finished_ts = COALESCE(finished_ts, ${now}), updated_at = ${now}
                   WHERE id = ${runId}`).pipe(Effect.orDie)

    const markRunRunning = (runId: number, now: number) =>
      changes(sql`UPDATE scheduled_job_runs
                     SET status = 'Running', started_ts = COALESCE(started_ts, ${now}), updated_at = ${now}
                   WHERE id = ${runId}`).pipe(Effect.orDie)

    /** A Pending run whose device came online: Running from now. 0 when it was no longer Pending. */
    const promotePendingRun = (runId: number, now: number) =>
      changes(sql`UPDATE scheduled_job_runs SET status = 'Running', started_ts = ${now}, updated_at = ${now}
                   WHERE id = ${runId} AND status = 'Pending'`).pipe(Effect.orDie)

    /** A Pending run whose device stayed offline past its window. */
    const expirePendingRun = (runId: number, error: string, now: number) =>
      changes(sql`UPDATE scheduled_job_runs SET status = 'Expired', error = ${error}, finished_ts = ${now}, updated_at = ${now}
                   WHERE id = ${runId} AND status = 'Pending'`).pipe(Effect.orDie)

    /** `Running` runs with their job's expiration and schedule type (for the timeout step). */
    const runningRuns = sql`
      SELECT r.id AS run_id, r.job_id, r.scheduled_ts, r.target_hostname, r.status, r.started_ts, j.expiration, j.schedule_type
        FROM scheduled_job_runs r LEFT JOIN scheduled_jobs j ON j.id = r.job_id
       WHERE r.status = 'Running'`.pipe(Effect.flatMap(decodeRunningRuns), Effect.orDie)

    /** Timed Out, unless a result made the run final meanwhile. */
    const timeOutRun = (runId: number, error: string | null, now: number) =>
      changes(sql`UPDATE scheduled_job_runs SET status = 'Timed Out', error = COALESCE(${error}, error), updated_at = ${now}
                   WHERE id = ${runId} AND status = 'Running'`).pipe(Effect.orDie)

    /** Retention: runs last touched before `cutoff` (their links cascade). */
    const deleteRunsBefore = (cutoff: number) =>
      changes(sql`DELETE FROM scheduled_job_runs WHERE COALESCE(finished_ts, started_ts, scheduled_ts, 0) < ${cutoff}`).pipe(Effect.orDie)

    /** `GET …/runs`: newest first, at most 500. */
    const runsSinceRows = SqlSchema.findAll({
      Request: RunsSince,
      Result: RunRow,
      execute: ({ jobId, cutoff }) =>
        sql`
        SELECT id, job_id, scheduled_ts, started_ts, finished_ts, status, error, target_hostname, created_at, updated_at
          FROM scheduled_job_runs
         WHERE job_id = ${jobId} AND COALESCE(finished_ts, started_ts, scheduled_ts, 0) >= ${cutoff}
         ORDER BY COALESCE(started_ts, scheduled_ts, 0) DESC, id DESC
         LIMIT 500`
    })
    const runsSince = (jobId: number, cutoff: number) => runsSinceRows({ jobId, cutoff }).pipe(Effect.orDie)

    /** Keep the latest occurrence, delete older runs; how many went. */
    const deleteRunsOlderThanOccurrence = (jobId: number, keep: number) =>
      changes(sql`DELETE FROM scheduled_job_runs WHERE job_id = ${jobId} AND COALESCE(scheduled_ts, 0) < ${keep}`).pipe(Effect.orDie)

    // ---- activity rows and links

    const insertActivity = (row: {
      readonly hostname: string
      readonly deviceGuid: string | null
      readonly script_path: string
      readonly script_name: string
      readonly script_type: string
      readonly status: string
      readonly now: number
    }) =>
      run(sql`INSERT INTO activity_history (hostname, device_guid, script_path, script_name, script_type, ran_at, status, stdout, stderr)
              VALUES (${row.hostname}, ${row.deviceGuid}, ${row.script_path}, ${row.script_name}, ${row.script_type}, ${row.now}, ${row.status}, '', '')`).pipe(
        Effect.map((r) => Number(r.lastInsertRowid)),
        Effect.orDie
      )

    const activityById = SqlSchema.findOne({
      Request: Schema.Number,
      Result: ActivityRow,
      execute: (id) =>
        sql`SELECT id, hostname, script_path, script_name, script_type, ran_at, status, stdout, stderr, device_guid
              FROM activity_history WHERE id = ${id}`
    })
    const getActivity = (id: number) => activityById(id).pipe(Effect.orDie)

    /** Set an activity's status and (when given) its output. */
    const updateActivity = (id: number, fields: { readonly status: string; readonly stdout?: string | undefined; readonly stderr?: string | undefined }) =>
      changes(sql`UPDATE activity_history
                     SET status = ${fields.status},
                         stdout = COALESCE(${fields.stdout ?? null}, stdout),
                         stderr = COALESCE(${fields.stderr ?? null}, stderr)
                   WHERE id = ${id}`).pipe(Effect.orDie)

    const linkActivity = (link: {
      readonly runId: number
      readonly activityId: number
      readonly component_kind: string
      readonly script_type: string
      readonly component_path: string
      readonly component_name: string
      readonly now: number
    }) =>
      sql`INSERT OR IGNORE INTO scheduled_job_run_activity
            (run_id, activity_id, component_kind, script_type, component_path, component_name, created_at)
          VALUES (${link.runId}, ${link.activityId}, ${link.component_kind}, ${link.script_type}, ${link.component_path}, ${link.component_name}, ${link.now})`.pipe(
        Effect.asVoid,
        Effect.orDie
      )

    /** The run an activity belongs to, if it was dispatched for one. */
    const runLinkOf = SqlSchema.findOne({
      Request: Schema.Number,
      Result: RunIdRow,
      execute: (activityId) => sql`SELECT run_id FROM scheduled_job_run_activity WHERE activity_id = ${activityId}`
    })
    const runOfActivity = (activityId: number) => runLinkOf(activityId).pipe(Effect.map(Option.map((r) => r.run_id)), Effect.orDie)

    /** Statuses of every activity linked to a run. */
    const statusRows = SqlSchema.findAll({
      Request: Schema.Number,
      Result: StatusRow,
      execute: (runId) =>
        sql`SELECT a.status FROM scheduled_job_run_activity l JOIN activity_history a ON a.id = l.activity_id WHERE l.run_id = ${runId}`
    })
    const runActivityStatuses = (runId: number) => statusRows(runId).pipe(Effect.map((rows) => rows.map((r) => r.status)), Effect.orDie)

    /** Activity links of some runs with their output sizes (`/devices`). */
    const activityLinkRows = SqlSchema.findAll({
      Request: RunIds,
      Result: DeviceActivityLink,
      execute: (runIds) =>
        sql`
        SELECT l.run_id, l.activity_id, l.component_kind, l.script_type, l.component_path, l.component_name,
               COALESCE(LENGTH(h.stdout), 0) AS out_len, COALESCE(LENGTH(h.stderr), 0) AS err_len
          FROM scheduled_job_run_activity l LEFT JOIN activity_history h ON h.id = l.activity_id
         WHERE l.run_id IN ${sql.in(runIds)}
         ORDER BY l.id ASC`
    })
    const activitiesOfRuns = (runIds: ReadonlyArray<number>) =>
      runIds.length === 0 ? Effect.succeed<ReadonlyArray<typeof DeviceActivityLink.Type>>([]) : activityLinkRows(runIds).pipe(Effect.orDie)

    /** Site name per lower-cased hostname. */
    const siteRows = SqlSchema.findAll({
      Request: Schema.Void,
      Result: SiteOfHostRow,
      execute: () => sql`SELECT ds.device_hostname AS hostname, s.name FROM device_sites ds JOIN sites s ON s.id = ds.site_id`
    })
    const sitesByHost = siteRows(undefined).pipe(
      Effect.map((rows) => new Map(rows.map((r) => [r.hostname.toLowerCase(), r.name ?? ""]))),
      Effect.orDie
    )

    // ---- Ansible recaps (legacy server table)

    /** The server sent this playbook run: from now on its target may report on it. */
    const recordDispatchedPlaybook = (run: DispatchedPlaybook, now: number) =>
      sql`INSERT INTO ansible_play_recaps
            (run_id, hostname, device_guid, playbook_path, playbook_name, scheduled_job_id, scheduled_run_id, activity_job_id,
             source, dispatched_at, created_at, updated_at)
          VALUES (${run.run_id}, ${run.hostname}, ${run.device_guid}, ${run.playbook_path}, ${run.playbook_name},
                  ${run.scheduled_job_id}, ${run.scheduled_run_id}, ${run.activity_job_id}, ${run.source}, ${now}, ${now}, ${now})
          ON CONFLICT(run_id) DO NOTHING`.pipe(Effect.asVoid, Effect.orDie)

    /** Merge a report into a dispatched run: reported fields win, missing ones keep the stored value. */
    const reportRecap = (runId: string, report: RecapReport, now: number) =>
      sql`UPDATE ansible_play_recaps SET
            agent_id = COALESCE(${report.agent_id}, agent_id),
            status = COALESCE(${report.status}, status),
            recap_text = COALESCE(${report.recap_text}, recap_text),
            recap_json = COALESCE(${report.recap_json}, recap_json),
            started_ts = COALESCE(started_ts, ${report.started_ts}),
            finished_ts = COALESCE(${report.finished_ts}, finished_ts),
            updated_at = ${now}
          WHERE run_id = ${runId} AND dispatched_at IS NOT NULL`.pipe(Effect.asVoid, Effect.orDie)

    const recapById = SqlSchema.findOne({
      Request: Schema.String,
      Result: RecapRow,
      execute: (runId) =>
        sql`SELECT id, run_id, hostname, agent_id, playbook_path, playbook_name, scheduled_job_id, scheduled_run_id,
                   activity_job_id, status, recap_text, recap_json, started_ts, finished_ts, created_at, updated_at,
                   dispatched_at, device_guid, source
              FROM ansible_play_recaps WHERE run_id = ${runId}`
    })
    const getRecap = (runId: string) => recapById(runId).pipe(Effect.orDie)

    return {
      recordDispatchedPlaybook,
      reportRecap,
      getRecap,
      listJobs,
      enabledSchedules,
      getJob,
      insertJob,
      updateJob,
      deleteJob,
      latestOccurrences,
      latestOccurrenceOf,
      occurrenceRuns,
      insertRun,
      getRun,
      finishRun,
      markRunRunning,
      promotePendingRun,
      expirePendingRun,
      runningRuns,
      timeOutRun,
      deleteRunsBefore,
      runsSince,
      deleteRunsOlderThanOccurrence,
      insertActivity,
      getActivity,
      updateActivity,
      linkActivity,
      runOfActivity,
      runActivityStatuses,
      activitiesOfRuns,
      sitesByHost,
      withTransaction: sql.withTransaction
    } as const
  })
}) {
  /**
   * A test layer for the rules above the repository (ownership, recap acceptance, result reports):
   * the test gives the queries its case needs; any other query dies naming itself, and transactions
   * just run their effect.
   */
  static readonly Test = (queries: Partial<JobsRepoShape>): Layer.Layer<JobsRepo> => {
    const missing = (name: string) => Effect.dieMessage(`JobsRepo.${name} is not part of this test`)
    const unimplemented: JobsRepoShape = {
      recordDispatchedPlaybook: () => missing("recordDispatchedPlaybook"),
      reportRecap: () => missing("reportRecap"),
      getRecap: () => missing("getRecap"),
      listJobs: missing("listJobs"),
      enabledSchedules: missing("enabledSchedules"),
      getJob: () => missing("getJob"),
      insertJob: () => missing("insertJob"),
      updateJob: () => missing("updateJob"),
      deleteJob: () => missing("deleteJob"),
      latestOccurrences: missing("latestOccurrences"),
      latestOccurrenceOf: () => missing("latestOccurrenceOf"),
      occurrenceRuns: () => missing("occurrenceRuns"),
      insertRun: () => missing("insertRun"),
      getRun: () => missing("getRun"),
      finishRun: () => missing("finishRun"),
      markRunRunning: () => missing("markRunRunning"),
      promotePendingRun: () => missing("promotePendingRun"),
      expirePendingRun: () => missing("expirePendingRun"),
      runningRuns: missing("runningRuns"),
      timeOutRun: () => missing("timeOutRun"),
      deleteRunsBefore: () => missing("deleteRunsBefore"),
      runsSince: () => missing("runsSince"),
      deleteRunsOlderThanOccurrence: () => missing("deleteRunsOlderThanOccurrence"),
      insertActivity: () => missing("insertActivity"),
      getActivity: () => missing("getActivity"),
      updateActivity: () => missing("updateActivity"),
      linkActivity: () => missing("linkActivity"),
      runOfActivity: () => missing("runOfActivity"),
      runActivityStatuses: () => missing("runActivityStatuses"),
      activitiesOfRuns: () => missing("activitiesOfRuns"),
      sitesByHost: missing("sitesByHost"),
      withTransaction: (effect) => effect
    }
    return Layer.succeed(JobsRepo, JobsRepo.make({ ...unimplemented, ...queries }))
  }
}

/** What JobsRepo provides (a test layer gives part of it). */
type JobsRepoShape = Parameters<typeof JobsRepo.make>[0]
