// Handlers for scheduled jobs, quick runs and Ansible recap reports: bodies decoded once at the edge
// with the schemas the API declares (jobs/requests.ts), then the service.
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { DeviceAuth } from "../../services/deviceAuth/DeviceAuth.ts"
import { JobDispatch } from "../../services/jobs/JobDispatch.ts"
import { JobResults } from "../../services/jobs/JobResults.ts"
import { AnsibleRecap, JobCreate, JobToggle, JobUpdate, QuickRun } from "../../services/jobs/requests.ts"
import { ScheduledJobs } from "../../services/jobs/ScheduledJobs.ts"
import { currentActor } from "../actor.ts"
import { BorealisApi } from "../api/Api.ts"
import { agentPayload, beforeAuthentication, operatorPayload } from "../body.ts"
import { clientIp } from "../clientIp.ts"

const createBody = operatorPayload(JobCreate)
const updateBody = operatorPayload(JobUpdate)
// Every body is a toggle (`enabled` by truthiness, absent = enable): no 400 to declare.
const toggleBody = operatorPayload(JobToggle).pipe(Effect.catchTag("BadRequest", (e) => Effect.die(e)))
const quickRunBody = operatorPayload(QuickRun)
// The agent's Ansible role posts plain JSON without credentials: read like the agent routes.
const recapBody = beforeAuthentication(agentPayload(AnsibleRecap))

export const ScheduledJobsLive = HttpApiBuilder.group(BorealisApi, "scheduledJobs", (handlers) =>
  Effect.gen(function*() {
    const jobs = yield* ScheduledJobs
    return handlers
      .handle("list", () => jobs.list())
      .handleRaw("create", () =>
        Effect.gen(function*() {
          return yield* jobs.create(yield* createBody, yield* currentActor)
        }))
      .handle("get", ({ path }) => jobs.get(path.id))
      .handleRaw("update", ({ path }) =>
        Effect.gen(function*() {
          return yield* jobs.update(path.id, yield* updateBody, yield* currentActor)
        }))
      .handleRaw("toggle", ({ path }) =>
        Effect.gen(function*() {
          return yield* jobs.toggle(path.id, yield* toggleBody, yield* currentActor)
        }))
      .handle("delete", ({ path }) => Effect.flatMap(currentActor, (a) => jobs.delete(path.id, a)))
      .handle("runs", ({ path, urlParams }) => jobs.runs(path.id, urlParams.days))
      .handle("devices", ({ path, urlParams }) => jobs.devices(path.id, urlParams.occurrence))
      .handle("clearRuns", ({ path }) => Effect.flatMap(currentActor, (a) => jobs.clearRuns(path.id, a)))
  }))

export const ScriptsLive = HttpApiBuilder.group(BorealisApi, "scripts", (handlers) =>
  Effect.gen(function*() {
    const dispatch = yield* JobDispatch
    return handlers.handleRaw("quickRun", () =>
      Effect.gen(function*() {
        return yield* dispatch.quickRun(yield* quickRunBody, yield* currentActor)
      }))
  }))

export const AnsibleLive = HttpApiBuilder.group(BorealisApi, "ansible", (handlers) =>
  Effect.gen(function*() {
    const results = yield* JobResults
    const deviceAuth = yield* DeviceAuth
    // A device token, when one comes along and is valid, names the sender.
    return handlers.handleRaw("recapReport", ({ request }) =>
      Effect.gen(function*() {
        const authorization = request.headers["authorization"]
        const device = authorization === undefined
          ? Option.none<string>()
          : yield* deviceAuth.authenticate({ authorization, agentContext: undefined }).pipe(
            Effect.map((d) => Option.some(d.guid)),
            Effect.orElseSucceed(() => Option.none<string>())
          )
        return yield* results.recap(yield* recapBody, { clientIp: yield* clientIp, deviceGuid: device })
      }))
  }))
