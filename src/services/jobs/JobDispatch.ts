// Dispatch: one run of a scheduled job on one host, and ad-hoc quick runs. Each script becomes an
// `activity_history` row (Running) and a signed `quick_job_run` delivered only to the host's agent
// sockets for the run mode; an Ansible playbook becomes an `ansible_playbook_run`. When no socket
// takes it, the activity (and a run left with nothing dispatched) is marked Failed with the later
// Engine's message. spec: realtime-jobs.md §2.4, §4.6, §5.3, §8
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { randomUUID } from "node:crypto"
import { Assemblies } from "../assemblies/Assemblies.ts"
import { Audit } from "../audit/Audit.ts"
import { BadRequest, NotFound, ServiceUnavailable } from "../errors.ts"
import { KeyMaterial } from "../../layers/keys/KeyMaterial.ts"
import { M } from "../../layers/metrics.ts"
import type { Actor } from "../actor.ts"
import {
  type ComponentManifest,
  componentSourcePaths,
  fabricateJob,
  type JobDefinition,
  type JobManifest,
  prepareComponent
} from "./fabricator.ts"
import type { SourceText } from "../assemblies/source.ts"
import { type ActivityChange, JobChannels, noSocketMessage, type RunEvent, targetServiceMode } from "./JobChannels.ts"
import { JobsRepo } from "./JobsRepo.ts"
import { ansiblePlaybookRunPayload, activityRecord, quickJobRunPayload, runActivityLink, scheduledRunContext } from "./payloads.ts"
import { field, isRecord } from "../pyValues.ts"
import type { QuickRun } from "./requests.ts"
import { nowSeconds } from "./time.ts"

const SIGNER_UNAVAILABLE = "script signer unavailable; cannot dispatch payload"
const NOTHING_DISPATCHED = "No runnable activities were dispatched"
const CREDENTIAL_REQUIRED = "Credential required for remote execution"
const SERVER_ANSIBLE_UNAVAILABLE = "Server-side Ansible runner is not configured"

const REMOTE_MODES = new Set(["ssh", "winrm"])

interface RunDispatch {
  readonly jobId: number
  readonly runId: number
  readonly scheduleType: string
  readonly occurrenceTs: number
  readonly hostname: string
  readonly manifest: JobManifest
  /** The job's stored components (for `assembly_guid` hints). */
  readonly components: ReadonlyArray<unknown>
  readonly credentialId: number | null
}

interface RunDispatchOutcome {
  /** Activities an agent socket took. */
  readonly dispatched: number
  /** Set when the run was finished as Failed because nothing could be dispatched. */
  readonly failed: string | null
}

export interface QuickRunResult {
  readonly hostname: string
  readonly job_id: number
  readonly status: "Running" | "Failed"
  readonly error?: string
}

const assemblyGuidOf = (components: ReadonlyArray<unknown>, index: number): string | undefined => {
  const component = components[index]
  const guid = isRecord(component) ? field(component, "assembly_guid") : undefined
  return typeof guid === "string" && guid.trim() !== "" ? guid : undefined
}

export class JobDispatch extends Effect.Service<JobDispatch>()("borealis/JobDispatch", {
  effect: Effect.gen(function*() {
    const repo = yield* JobsRepo
    const channels = yield* JobChannels
    const keys = yield* KeyMaterial
    const assemblies = yield* Assemblies
    const audit = yield* Audit

    const activityChanged = (change: ActivityChange) => channels.toOperators("device_activity_changed", change)
    const runEvent = (event: "job_run_started" | "job_run_completed", payload: RunEvent) => channels.toOperators(event, payload)

    /**
     * The frozen manifest of one occurrence. Library files are read once per `cache` (the scheduler
     * passes one per tick, so a thousand jobs running the same script read it once).
     */
    const manifestFor = Effect.fn("JobDispatch.manifestFor")(function*(job: JobDefinition, occurrenceTs: number, cache: Map<string, SourceText> = new Map()) {
      const missing = componentSourcePaths(job.components).filter((p) => !cache.has(p))
      if (missing.length > 0) for (const [p, text] of yield* assemblies.readSources(missing)) cache.set(p, text)
      return fabricateJob(job, occurrenceTs, (p) => cache.get(p))
    })

    /** Insert the activity row and its run link, then hand the payload to the host's sockets. */
    const dispatchComponent = (input: RunDispatch, component: ComponentManifest, now: number) =>
      Effect.gen(function*() {
        const { hostname } = input
        const record = activityRecord(hostname, component)
        // The device holding the hostname now: only it receives the payload, and only it may answer.
        const target = yield* channels.resolveHost(hostname)
        // Row and link commit together, before anything is sent (a result may come back at once).
        const activityId = yield* repo.withTransaction(Effect.gen(function*() {
          const id = yield* repo.insertActivity({ ...record, deviceGuid: target.guid, status: "Running", now })
          yield* repo.linkActivity({ runId: input.runId, activityId: id, ...runActivityLink(component), now })
          return id
        })).pipe(Effect.orDie)
        const runMode = input.manifest.executionContext
        let mode = targetServiceMode(runMode)
        let delivered = 0
        let failure: string | undefined
        if (component.kind === "script") {
          const signer = keys.scriptSigner
          if (Option.isNone(signer)) {
            failure = SIGNER_UNAVAILABLE
          } else {
            const payload = quickJobRunPayload({
              activityId,
              hostname,
              script: component,
              runMode,
              sign: signer.value.sign,
              signingKey: signer.value.publicKeyBase64,
              context: scheduledRunContext(input.jobId, input.runId, input.occurrenceTs, assemblyGuidOf(input.components, component.index))
            })
            delivered = yield* channels.toTarget(target, mode, "quick_job_run", payload)
          }
        } else if (REMOTE_MODES.has(runMode)) {
          // The legacy server ran ssh/winrm playbooks itself with ansible-playbook; this Engine does not.
          failure = SERVER_ANSIBLE_UNAVAILABLE
        } else {
          mode = Option.none()
          const runId = randomUUID().replaceAll("-", "")
          const payload = ansiblePlaybookRunPayload({
            runId,
            hostname,
            playbook: component,
            activityId,
            scheduledJobId: input.jobId,
            scheduledRunId: input.runId
          })
          // Recorded before it is sent: the target's recap reports for this run are taken, and only its.
          yield* repo.recordDispatchedPlaybook({
            run_id: runId,
            hostname,
            device_guid: target.guid,
            playbook_path: component.islandPath,
            playbook_name: component.playbookName,
            scheduled_job_id: input.jobId,
            scheduled_run_id: input.runId,
            activity_job_id: activityId,
            source: "scheduled"
          }, now)
          delivered = yield* channels.toTarget(target, mode, "ansible_playbook_run", payload)
        }
        if (failure === undefined && delivered === 0) failure = noSocketMessage(mode, hostname, "scheduled job")
        if (failure !== undefined) {
          yield* repo.updateActivity(activityId, { status: "Failed", stderr: failure })
          yield* activityChanged({ hostname, activity_id: activityId, change: "updated", source: "scheduled_job", status: "Failed" })
          return { activityId, failure }
        }
        M.jobsDispatched.inc({ kind: component.kind, source: "scheduled" })
        yield* activityChanged({ hostname, activity_id: activityId, change: "created", source: "scheduled_job" })
        return { activityId, failure: undefined }
      })

    /**
     * Dispatch every component of a Running run to its host. When nothing reached an agent the run
     * is finished as Failed (first problem, else the later Engine's "No runnable activities were
     * dispatched") and operators hear `job_run_completed`.
     */
    const dispatchRun = Effect.fn("JobDispatch.dispatchRun")(function*(input: RunDispatch) {
      const now = yield* nowSeconds
      const { manifest } = input
      const problems: Array<string> = []
      let dispatched = 0
      const hasScripts = manifest.components.some((c) => c.kind === "script")
      if (REMOTE_MODES.has(manifest.executionContext) && input.credentialId === null) {
        problems.push(CREDENTIAL_REQUIRED)
      } else if (hasScripts && Option.isNone(keys.scriptSigner)) {
        // Token-era agents refuse unsigned scripts; sending them would only produce failures.
        problems.push(SIGNER_UNAVAILABLE)
      } else {
        for (const component of manifest.components) {
          const outcome = yield* dispatchComponent(input, component, now)
          if (outcome.failure === undefined) dispatched++
          else problems.push(outcome.failure)
        }
      }
      for (const skip of manifest.skipped) problems.push(skip.message)
      if (dispatched > 0) return { dispatched, failed: null } satisfies RunDispatchOutcome
      const error = problems[0] ?? NOTHING_DISPATCHED
      yield* repo.finishRun(input.runId, "Failed", error, now)
      M.jobsCompleted.inc({ status: "Failed" })
      yield* Effect.logWarning("job-dispatch-failed").pipe(
        Effect.annotateLogs({ job_id: input.jobId, run_id: input.runId, host: input.hostname, error })
      )
      yield* runEvent("job_run_completed", {
        job_id: input.jobId,
        run_id: input.runId,
        target: input.hostname,
        schedule_type: input.scheduleType,
        occurrence_ts: input.occurrenceTs,
        status: "Failed"
      })
      return { dispatched: 0, failed: error } satisfies RunDispatchOutcome
    })

    /**
     * `POST /api/scripts/quick_run {script_path, hostnames[], run_mode?, variable_values?}`: one
     * activity and one signed `quick_job_run` per host, for a PowerShell script of the library.
     */
    const quickRun = Effect.fn("JobDispatch.quickRun")(function*(body: QuickRun, actor: Actor) {
      const { script_path: scriptPath, hostnames, run_mode: runMode, variable_values: overrides } = body
      const component = { type: "script", path: scriptPath, ...(overrides === undefined ? {} : { variable_values: overrides }) }
      const paths = componentSourcePaths([component])
      const sources = yield* assemblies.readSources(paths)
      const prepared = prepareComponent(component, 0, (p) => sources.get(p))
      if (prepared._tag === "Skipped") {
        const { reason, message } = prepared.skip
        if (reason === "not_found" || reason === "invalid_path") return yield* new NotFound({ error: "Script not found" })
        return yield* new BadRequest({ error: message })
      }
      const script = prepared.manifest
      if (script.kind !== "script") return yield* new NotFound({ error: "Script not found" })
      if (Option.isNone(keys.scriptSigner)) {
        return yield* new ServiceUnavailable({ error: SIGNER_UNAVAILABLE, retry_after: 60 })
      }
      const signer = keys.scriptSigner.value
      const mode = targetServiceMode(runMode)
      const now = yield* nowSeconds
      const results: Array<QuickRunResult> = []
      for (const hostname of hostnames) {
        const target = yield* channels.resolveHost(hostname)
        const activityId = yield* repo.insertActivity({ ...activityRecord(hostname, script), deviceGuid: target.guid, status: "Running", now })
        const payload = quickJobRunPayload({ activityId, hostname, script, runMode, sign: signer.sign, signingKey: signer.publicKeyBase64 })
        const delivered = yield* channels.toTarget(target, mode, "quick_job_run", payload)
        if (delivered === 0) {
          const error = noSocketMessage(mode, hostname, "quick job")
          yield* repo.updateActivity(activityId, { status: "Failed", stderr: error })
          yield* activityChanged({ hostname, activity_id: activityId, change: "updated", source: "quick_job", status: "Failed" })
          results.push({ hostname, job_id: activityId, status: "Failed", error })
        } else {
          M.jobsDispatched.inc({ kind: "script", source: "quick_run" })
          yield* activityChanged({ hostname, activity_id: activityId, change: "created", source: "quick_job" })
          results.push({ hostname, job_id: activityId, status: "Running" })
        }
      }
      const dispatched = results.filter((r) => r.status === "Running").length
      yield* audit.record({
        type: "script.quick_run",
        actor: actor.username,
        actor_ip: actor.ip,
        target: script.path,
        details: { script_path: script.path, run_mode: runMode, targets: hostnames.length, dispatched }
      })
      return { results }
    })

    return { manifestFor, dispatchRun, quickRun, activityChanged, runEvent } as const
  })
}) {}
