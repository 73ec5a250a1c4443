// Scheduled jobs (the legacy UI-compatible contract), ad-hoc script runs and Ansible recap reports.
// Bodies are read like Flask's `get_json(silent=True)`; the payload schemas (jobs/requests.ts) both
// document them here and decode them at the edge. spec: realtime-jobs.md §5.2, §5.3; docs/jobs.md
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as OpenApi from "@effect/platform/OpenApi"
import * as Schema from "effect/Schema"
import { Wire } from "../../services/errors.ts"
import { AnsibleRecap, JobCreate, JobToggle, JobUpdate, QuickRun } from "../../services/jobs/requests.ts"
import { access, RequireOperator, RequireUser } from "./security.ts"
import { FirstParam } from "./query.ts"

/** A job with its computed summary; described, not re-validated (see docs/jobs.md for the fields). */
const Job = Schema.Record({ key: Schema.String, value: Schema.Unknown }).annotations({
  identifier: "ScheduledJob",
  description:
    "id, name, components, targets, schedule_type, start_ts, duration_stop_enabled, expiration, execution_context, credential_id, " +
    "use_service_account, enabled, created_at, updated_at, timezone, last_run_ts, last_status, latest_occurrence, result_counts, next_run_ts"
})
const JobAnswer = Schema.Struct({ job: Job })

const Run = Schema.Struct({
  id: Schema.Number,
  scheduled_ts: Schema.NullOr(Schema.Number),
  started_ts: Schema.NullOr(Schema.Number),
  finished_ts: Schema.NullOr(Schema.Number),
  status: Schema.String,
  error: Schema.String,
  target_hostname: Schema.NullOr(Schema.String)
})

const DeviceActivity = Schema.Struct({
  activity_id: Schema.Number,
  component_kind: Schema.String,
  script_type: Schema.String,
  component_path: Schema.String,
  component_name: Schema.String,
  has_stdout: Schema.Boolean,
  has_stderr: Schema.Boolean
})

const Device = Schema.Struct({
  hostname: Schema.String,
  online: Schema.Boolean,
  site: Schema.String,
  ran_on: Schema.NullOr(Schema.Number),
  job_status: Schema.String,
  has_stdout: Schema.Boolean,
  has_stderr: Schema.Boolean,
  activities: Schema.Array(DeviceActivity)
})

const id = Schema.Struct({ id: Schema.String })

export class ScheduledJobsApi extends HttpApiGroup.make("scheduledJobs")
  .add(
    HttpApiEndpoint.get("list", "/api/scheduled_jobs")
      .addSuccess(Schema.Struct({ jobs: Schema.Array(Job) }))
      .middleware(RequireOperator)
      .annotate(OpenApi.Override, access("Viewer"))
  )
  .add(
    HttpApiEndpoint.post("create", "/api/scheduled_jobs")
      .setPayload(JobCreate)
      .addSuccess(JobAnswer)
      .addError(Wire.BadRequest)
      .middleware(RequireUser)
      .annotate(OpenApi.Override, access("User"))
  )
  .add(
    HttpApiEndpoint.get("get", "/api/scheduled_jobs/:id")
      .setPath(id)
      .addSuccess(JobAnswer)
      .addError(Wire.NotFound)
      .middleware(RequireOperator)
      .annotate(OpenApi.Override, access("Viewer"))
  )
  .add(
    HttpApiEndpoint.put("update", "/api/scheduled_jobs/:id")
      .setPath(id)
      .setPayload(JobUpdate)
      .addSuccess(JobAnswer)
      .addError(Wire.BadRequest)
      .addError(Wire.NotFound)
      .addError(Wire.Forbidden)
      .middleware(RequireUser)
      .annotate(OpenApi.Override, access("User"))
      .annotate(OpenApi.Description, "Only the fields present change; the job must exist and be the caller's (or the caller an Admin) before the body is judged.")
  )
  .add(
    HttpApiEndpoint.post("toggle", "/api/scheduled_jobs/:id/toggle")
      .setPath(id)
      .setPayload(JobToggle)
      .addSuccess(JobAnswer)
      .addError(Wire.NotFound)
      .addError(Wire.Forbidden)
      .middleware(RequireUser)
      .annotate(OpenApi.Override, access("User"))
  )
  .add(
    HttpApiEndpoint.del("delete", "/api/scheduled_jobs/:id")
      .setPath(id)
      .addSuccess(Schema.Struct({ status: Schema.Literal("ok") }))
      .addError(Wire.NotFound)
      .addError(Wire.Forbidden)
      .middleware(RequireUser)
      .annotate(OpenApi.Override, access("User"))
  )
  .add(
    HttpApiEndpoint.get("runs", "/api/scheduled_jobs/:id/runs")
      .setPath(id)
      .setUrlParams(Schema.Struct({ days: FirstParam.annotations({ description: "History window in days (default BOREALIS_JOB_HISTORY_DAYS, minimum 1)" }) }))
      .addSuccess(Schema.Struct({ runs: Schema.Array(Run) }))
      .addError(Wire.NotFound)
      .middleware(RequireOperator)
      .annotate(OpenApi.Override, access("Viewer"))
  )
  .add(
    HttpApiEndpoint.get("devices", "/api/scheduled_jobs/:id/devices")
      .setPath(id)
      .setUrlParams(Schema.Struct({ occurrence: FirstParam.annotations({ description: "Occurrence (epoch seconds); default the latest" }) }))
      .addSuccess(Schema.Struct({ occurrence: Schema.NullOr(Schema.Number), devices: Schema.Array(Device) }))
      .addError(Wire.BadRequest)
      .addError(Wire.NotFound)
      .middleware(RequireOperator)
      .annotate(OpenApi.Override, access("Viewer"))
  )
  .add(
    HttpApiEndpoint.del("clearRuns", "/api/scheduled_jobs/:id/runs")
      .setPath(id)
      .addSuccess(Schema.Struct({ status: Schema.Literal("ok"), cleared: Schema.Number, kept_occurrence: Schema.optional(Schema.Number) }))
      .addError(Wire.NotFound)
      .addError(Wire.Forbidden)
      .middleware(RequireUser)
      .annotate(OpenApi.Override, access("User"))
  )
  .addError(Wire.PayloadTooLarge)
  .annotate(
    OpenApi.Description,
    "Scheduled jobs (legacy UI contract, partial PUT). Any operator reads them; a User creates jobs and changes its own; an Admin changes any (the original left these open)."
  )
{}

const QuickRunResult = Schema.Struct({
  hostname: Schema.String,
  job_id: Schema.Number.annotations({ description: "the activity_history id" }),
  status: Schema.Literal("Running", "Failed"),
  error: Schema.optional(Schema.String)
})

export class ScriptsApi extends HttpApiGroup.make("scripts")
  .add(
    HttpApiEndpoint.post("quickRun", "/api/scripts/quick_run")
      .setPayload(QuickRun)
      .addSuccess(Schema.Struct({ results: Schema.Array(QuickRunResult) }))
      .addError(Wire.BadRequest)
      .addError(Wire.NotFound)
      .addError(Wire.ServiceUnavailable)
  )
  .addError(Wire.PayloadTooLarge)
  .middleware(RequireUser)
  .annotateEndpoints(OpenApi.Override, access("User"))
  .annotate(OpenApi.Description, "Ad-hoc signed PowerShell runs of library scripts on devices. User role and up.")
{}

export class AnsibleApi extends HttpApiGroup.make("ansible")
  .add(
    HttpApiEndpoint.post("recapReport", "/api/ansible/recap/report")
      .setPayload(AnsibleRecap)
      .addSuccess(Schema.Struct({ status: Schema.Literal("ok") }))
      .addError(Wire.BadRequest)
      .addError(Wire.Forbidden)
      .addError(Wire.NotFound)
      .addError(Wire.Conflict)
      .addError(Wire.PayloadTooLarge)
      .addError(Wire.RateLimited)
      .annotate(OpenApi.Override, access("public"))
  )
  .annotate(
    OpenApi.Description,
    "Progress reports of the agent's Ansible role, posted without credentials as the role does. Taken only for a playbook run the server dispatched, from its target device (its token's GUID decides when sent, else the reported hostname), while the run is open; 120 per minute per client; never touches script runs."
  )
{}
