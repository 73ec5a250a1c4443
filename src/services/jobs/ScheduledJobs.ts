// The scheduled-jobs capability behind the REST routes (and the operators' `job_status_request`):
// definitions with their computed summary, partial updates, toggling, deletion, run history and the
// per-device view of an occurrence. spec: realtime-jobs.md §5.2 (the UI-compatible contract), §4.8
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import { EngineConfig } from "../../layers/Config.ts"
import { serverTimeZone } from "./schedule/timeZone.ts"
import { jobSummary } from "./schedule/summary.ts"
import { Assemblies } from "../assemblies/Assemblies.ts"
import { Audit } from "../audit/Audit.ts"
import { BadRequest, Forbidden, NotFound } from "../errors.ts"
import { isAdminRole } from "../operators/credentials.ts"
import type { Actor } from "../actor.ts"
import { componentSourcePaths, prepareComponent } from "./fabricator.ts"
import { JobChannels } from "./JobChannels.ts"
import { checkCreate, checkUpdate, jobFields, storedTargets } from "./jobInput.ts"
import { type JobRow, JobsRepo, type LatestOccurrence } from "./JobsRepo.ts"
import { pyInt } from "../pyValues.ts"
import type { JobCreate, JobStatusRequest, JobToggle, JobUpdate } from "./requests.ts"
import { nowSeconds } from "./time.ts"

const notFound = () => new NotFound({ error: "not found" })

/** Flask's `<int:job_id>`: only plain digits route to a job. */
const jobIdOf = (raw: string): Effect.Effect<number, NotFound> =>
  /^\d{1,15}$/.test(raw) ? Effect.succeed(Number(raw)) : Effect.fail(notFound())

export class ScheduledJobs extends Effect.Service<ScheduledJobs>()("borealis/ScheduledJobs", {
  effect: Effect.gen(function*() {
    const repo = yield* JobsRepo
    const channels = yield* JobChannels
    const assemblies = yield* Assemblies
    const audit = yield* Audit
    const config = yield* EngineConfig
    const defaultTimeZone = serverTimeZone()

    /** A stored job with the summary the UI needs (`last_run_ts`, `last_status`, `result_counts`, …). */
    const view = (row: JobRow, latest: LatestOccurrence | undefined, now: number) => {
      const summary = jobSummary({
        schedule: { type: row.schedule_type ?? "immediately", startTs: row.start_ts, timeZone: row.timezone },
        targetCount: storedTargets(row).length,
        latestOccurrence: latest?.scheduledTs ?? null,
        runStatuses: latest?.runs.map((r) => r.status) ?? [],
        nowTs: now,
        options: { defaultTimeZone }
      })
      return { ...jobFields(row), ...summary }
    }

    const loadJob = (id: number) =>
      Effect.flatMap(repo.getJob(id), Option.match({ onNone: () => Effect.fail(notFound()), onSome: Effect.succeed }))

    /** An Admin changes any job, a User only the jobs it created (403 otherwise). */
    const mayChange = (row: JobRow, actor: Actor) =>
      // No role means the operator CLI, which is the server's own administrator.
      actor.role === undefined || isAdminRole(actor.role) || (row.created_by ?? "").toLowerCase() === actor.username.toLowerCase()
        ? Effect.succeed(row)
        : Effect.zipRight(
          Effect.logWarning("job-change-refused").pipe(Effect.annotateLogs({ job_id: row.id, actor: actor.username, owner: row.created_by ?? "" })),
          Effect.fail(new Forbidden({ error: "forbidden", detail: "only an Admin or the job's creator may change it" }))
        )

    const ownedJob = (id: number, actor: Actor) => Effect.flatMap(loadJob(id), (row) => mayChange(row, actor))

    const viewOf = (id: number) =>
      Effect.gen(function*() {
        const row = yield* loadJob(id)
        const latest = yield* repo.latestOccurrenceOf(id)
        return view(row, Option.getOrUndefined(latest), yield* nowSeconds)
      })

    /**
     * Every component must name a dispatchable file of the library: confined to its island, present,
     * not oversized, and (for scripts) PowerShell — a clear 400 now instead of a silent skip at run time.
     */
    const checkLibrary = (componentsJson: string) =>
      Effect.gen(function*() {
        const components = JSON.parse(componentsJson) as ReadonlyArray<unknown>
        const sources = yield* assemblies.readSources(componentSourcePaths(components))
        for (const [index, component] of components.entries()) {
          const prepared = prepareComponent(component, index, (p) => sources.get(p))
          if (prepared._tag === "Ready") continue
          const { reason, message, path } = prepared.skip
          return yield* new BadRequest({ error: reason === "not_found" ? `${message}: ${path}` : message })
        }
      })

    const list = Effect.fn("ScheduledJobs.list")(function*() {
      const rows = yield* repo.listJobs
      const latest = yield* repo.latestOccurrences
      const now = yield* nowSeconds
      return { jobs: rows.map((row) => view(row, latest.get(row.id), now)) }
    })

    const get = Effect.fn("ScheduledJobs.get")(function*(idRaw: string) {
      return { job: yield* viewOf(yield* jobIdOf(idRaw)) }
    })

    const create = Effect.fn("ScheduledJobs.create")(function*(body: JobCreate, actor: Actor) {
      const columns = yield* Either.mapLeft(checkCreate(body, defaultTimeZone), (error) => new BadRequest({ error }))
      yield* checkLibrary(columns.components_json)
      const now = yield* nowSeconds
      const id = yield* repo.withTransaction(
        Effect.gen(function*() {
          const id = yield* repo.insertJob(columns, actor.username, now)
          yield* audit.record({
            type: "job.created",
            actor: actor.username,
            actor_ip: actor.ip,
            target: String(id),
            details: { name: columns.name, schedule_type: columns.schedule_type, targets: (JSON.parse(columns.targets_json) as Array<unknown>).length }
          })
          return id
        })
      ).pipe(Effect.orDie)
      // Just inserted: a missing row here is a defect, not a 404.
      return { job: yield* viewOf(id).pipe(Effect.orDie) }
    })

    /** Partial update: only the fields the body names change (legacy); 404 for an unknown id. */
    const update = Effect.fn("ScheduledJobs.update")(function*(idRaw: string, body: JobUpdate, actor: Actor) {
      const id = yield* jobIdOf(idRaw)
      const current = yield* ownedJob(id, actor)
      const columns = yield* Either.mapLeft(checkUpdate(body, current, defaultTimeZone), (error) => new BadRequest({ error }))
      if (columns.components_json !== undefined) yield* checkLibrary(columns.components_json)
      const now = yield* nowSeconds
      const changed = yield* repo.withTransaction(
        Effect.gen(function*() {
          const n = yield* repo.updateJob(id, columns, now)
          if (n > 0) {
            yield* audit.record({ type: "job.updated", actor: actor.username, actor_ip: actor.ip, target: String(id), details: { fields: Object.keys(columns) } })
          }
          return n
        })
      ).pipe(Effect.orDie)
      if (changed === 0) return yield* notFound()
      return { job: yield* viewOf(id) }
    })

    const toggle = Effect.fn("ScheduledJobs.toggle")(function*(idRaw: string, { enabled }: JobToggle, actor: Actor) {
      const id = yield* jobIdOf(idRaw)
      yield* ownedJob(id, actor)
      const changed = yield* repo.withTransaction(
        Effect.gen(function*() {
          const n = yield* repo.updateJob(id, { enabled: enabled ? 1 : 0 }, yield* nowSeconds)
          if (n > 0) yield* audit.record({ type: "job.toggled", actor: actor.username, actor_ip: actor.ip, target: String(id), details: { enabled } })
          return n
        })
      ).pipe(Effect.orDie)
      if (changed === 0) return yield* notFound()
      return { job: yield* viewOf(id) }
    })

    /** Delete means delete: the job, its runs and their activity links (foreign keys cascade). */
    const remove = Effect.fn("ScheduledJobs.delete")(function*(idRaw: string, actor: Actor) {
      const id = yield* jobIdOf(idRaw)
      const row = yield* ownedJob(id, actor)
      yield* repo.withTransaction(
        Effect.gen(function*() {
          yield* repo.deleteJob(id)
          yield* audit.record({ type: "job.deleted", actor: actor.username, actor_ip: actor.ip, target: String(id), details: { name: row.name } })
        })
      ).pipe(Effect.orDie)
      return { status: "ok" as const }
    })

    /** `?days=N`: default and unreadable → the retention window; at least 1. */
    const runs = Effect.fn("ScheduledJobs.runs")(function*(idRaw: string, daysRaw: string | undefined) {
      const id = yield* jobIdOf(idRaw)
      const parsed = daysRaw === undefined ? undefined : pyInt(daysRaw)
      const days = parsed === undefined ? config.jobHistoryDays : Math.max(1, parsed)
      const cutoff = (yield* nowSeconds) - days * 86_400
      const rows = yield* repo.runsSince(id, cutoff)
      return {
        runs: rows.map((r) => ({
          id: r.id,
          scheduled_ts: r.scheduled_ts,
          started_ts: r.started_ts,
          finished_ts: r.finished_ts,
          status: r.status ?? "",
          error: r.error ?? "",
          target_hostname: r.target_hostname
        }))
      }
    })

    /** Per-target view of one occurrence (default: the latest). */
    const devices = Effect.fn("ScheduledJobs.devices")(function*(idRaw: string, occurrenceRaw: string | undefined) {
      const id = yield* jobIdOf(idRaw)
      const row = yield* loadJob(id)
      let occurrence: number | null = null
      if (occurrenceRaw !== undefined && occurrenceRaw.trim() !== "") {
        const parsed = pyInt(occurrenceRaw)
        if (parsed === undefined) return yield* new BadRequest({ error: "invalid occurrence" })
        occurrence = parsed
      } else {
        occurrence = Option.match(yield* repo.latestOccurrenceOf(id), { onNone: () => null, onSome: (l) => l.scheduledTs })
      }
      const occurrenceRuns = occurrence === null ? [] : yield* repo.occurrenceRuns(id, occurrence)
      const runByHost = new Map<string, (typeof occurrenceRuns)[number]>()
      for (const r of occurrenceRuns) {
        const key = (r.target_hostname ?? "").toLowerCase()
        if (!runByHost.has(key)) runByHost.set(key, r)
      }
      const links = yield* repo.activitiesOfRuns([...runByHost.values()].map((r) => r.id))
      const online = yield* channels.onlineHostnames
      const sites = yield* repo.sitesByHost
      const devices = storedTargets(row).map((hostname) => {
        const key = hostname.toLowerCase()
        const run = runByHost.get(key)
        const activities = run === undefined
          ? []
          : links.filter((l) => l.run_id === run.id).map((l) => ({
            activity_id: l.activity_id,
            component_kind: l.component_kind ?? "",
            script_type: l.script_type ?? "",
            component_path: l.component_path ?? "",
            component_name: l.component_name ?? "",
            has_stdout: l.out_len > 0,
            has_stderr: l.err_len > 0
          }))
        return {
          hostname,
          online: online.has(key),
          site: sites.get(key) ?? "",
          ran_on: run?.started_ts || run?.finished_ts || null,
          job_status: run?.status || "Pending",
          has_stdout: activities.some((a) => a.has_stdout),
          has_stderr: activities.some((a) => a.has_stderr),
          activities
        }
      })
      return { occurrence, devices }
    })

    /** Keep the latest occurrence, delete older runs (and, by cascade, their links). */
    const clearRuns = Effect.fn("ScheduledJobs.clearRuns")(function*(idRaw: string, actor: Actor) {
      const id = yield* jobIdOf(idRaw)
      // An unknown job clears nothing (the legacy answer), a known one only for whoever may change it.
      const row = yield* repo.getJob(id)
      if (Option.isSome(row)) yield* mayChange(row.value, actor)
      const latest = yield* repo.latestOccurrenceOf(id)
      if (Option.isNone(latest)) return { status: "ok" as const, cleared: 0 }
      const keep = latest.value.scheduledTs
      const cleared = yield* repo.deleteRunsOlderThanOccurrence(id, keep)
      if (cleared > 0) {
        yield* audit.record({ type: "job.runs_cleared", actor: actor.username, actor_ip: actor.ip, target: String(id), details: { cleared, kept_occurrence: keep } })
      }
      return { status: "ok" as const, cleared, kept_occurrence: keep }
    })

    /** `job_status_request {job_id}` over Socket.IO: the same `{job}` GET answers, or `{error}`. */
    const statusRequest = Effect.fn("ScheduledJobs.statusRequest")(function*({ job_id: id }: JobStatusRequest) {
      if (id === undefined) return { error: "job_id required" }
      return yield* viewOf(id).pipe(
        Effect.map((job) => ({ job }) as { readonly job?: unknown; readonly error?: string }),
        Effect.catchTag("NotFound", (e) => Effect.succeed({ error: e.error }))
      )
    })

    return { list, get, create, update, toggle, delete: remove, runs, devices, clearRuns, statusRequest, defaultTimeZone } as const
  })
}) {}
