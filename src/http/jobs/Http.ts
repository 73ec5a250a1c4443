import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as Effect from "effect/Effect"
import { JobDispatch } from "../../services/jobs/JobDispatch.ts"
import * as Option from "effect/Option"
import { DeviceAuth } from "../../services/deviceAuth/DeviceAuth.ts"
import { JobResults } from "../../services/jobs/JobResults.ts"
import { firstParam, ScheduledJobs } from "../../services/jobs/ScheduledJobs.ts"
import { currentActor } from "../actor.ts"
import { BorealisApi } from "../api/Api.ts"
import { clientIp } from "../clientIp.ts"
import { beforeAuthentication, jsonObject } from "../body.ts"
import { operatorJson } from "../body.ts"

export const ScheduledJobsLive = HttpApiBuilder.group(BorealisApi, "scheduledJobs", (handlers) =>
  Effect.gen(function*() {
    const jobs = yield* ScheduledJobs
    return handlers
      .handle("list", () => jobs.list())
      .handleRaw("create", () => Effect.gen(function*() {
        return yield* jobs.create(yield* operatorJson, yield* currentActor)
      }))
      .handle("get", ({ path }) => jobs.get(path.id))
      .handleRaw("update", ({ path }) => Effect.gen(function*() {
        return yield* jobs.update(path.id, yield* operatorJson, yield* currentActor)
      }))
      .handleRaw("toggle", ({ path }) => Effect.gen(function*() {
        return yield* jobs.toggle(path.id, yield* operatorJson, yield* currentActor)
      }))
      .handle("delete", ({ path }) => Effect.flatMap(currentActor, (a) => jobs.delete(path.id, a)))
      .handle("runs", ({ path, urlParams }) => jobs.runs(path.id, firstParam(urlParams.days)))
      .handle("devices", ({ path, urlParams }) => jobs.devices(path.id, firstParam(urlParams.occurrence)))
      .handle("clearRuns", ({ path }) => Effect.flatMap(currentActor, (a) => jobs.clearRuns(path.id, a)))
  }))

export const ScriptsLive = HttpApiBuilder.group(BorealisApi, "scripts", (handlers) =>
  Effect.gen(function*() {
    const dispatch = yield* JobDispatch
    return handlers.handleRaw("quickRun", () => Effect.gen(function*() {
      return yield* dispatch.quickRun(yield* operatorJson, yield* currentActor)
    }))
  }))

export const AnsibleLive = HttpApiBuilder.group(BorealisApi, "ansible", (handlers) =>
  Effect.gen(function*() {
    const results = yield* JobResults
    const deviceAuth = yield* DeviceAuth
    // The agent's Ansible role posts plain JSON without credentials: read it like the agent routes. A
    // device token, when one comes along and is valid, names the sender.
    return handlers.handleRaw("recapReport", ({ request }) =>
      Effect.gen(function*() {
        const authorization = request.headers["authorization"]
        const device = authorization === undefined
          ? Option.none<string>()
          : yield* deviceAuth.authenticate({ authorization, agentContext: undefined }).pipe(
            Effect.map((d) => Option.some(d.guid)),
            Effect.orElseSucceed(() => Option.none<string>())
          )
        return yield* results.recap(yield* beforeAuthentication(jsonObject), { clientIp: yield* clientIp, deviceGuid: device })
      }))
  }))
