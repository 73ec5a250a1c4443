import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as Effect from "effect/Effect"
import { DeviceActivity } from "../../services/devices/DeviceActivity.ts"
import { DeviceControl } from "../../services/devices/DeviceControl.ts"
import { DeviceDirectory } from "../../services/devices/DeviceDirectory.ts"
import { DescriptionRequest, ReasonRequest } from "../../services/devices/requests.ts"
import { currentActor } from "../actor.ts"
import { BorealisApi } from "../api/Api.ts"
import { operatorPayload } from "../body.ts"

const descriptionBody = operatorPayload(DescriptionRequest)
const reasonBody = operatorPayload(ReasonRequest)

export const DevicesLive = HttpApiBuilder.group(BorealisApi, "devices", (handlers) =>
  Effect.gen(function*() {
    const directory = yield* DeviceDirectory
    const activity = yield* DeviceActivity
    const control = yield* DeviceControl
    const withReason = (act: typeof control.revoke) => ({ path }: { readonly path: { readonly guid: string } }) =>
      Effect.gen(function*() {
        const { reason } = yield* reasonBody
        return yield* act(path.guid, reason, yield* currentActor)
      })
    return handlers
      .handle("list", () => Effect.map(directory.list(), (devices) => ({ devices })))
      .handle("byGuid", ({ path }) => directory.byGuid(path.guid))
      .handle("details", ({ path }) => directory.details(path.hostname))
      .handleRaw("description", ({ path }) =>
        Effect.gen(function*() {
          const { description } = yield* descriptionBody
          yield* directory.setDescription(path.hostname, description, yield* currentActor)
          return { status: "ok" as const }
        }))
      .handle("activity", ({ path }) => Effect.map(activity.history(path.hostname), (history) => ({ history })))
      .handle("clearActivity", ({ path }) =>
        Effect.as(Effect.flatMap(currentActor, (a) => activity.clear(path.hostname, a)), { status: "ok" as const }))
      .handle("activityEntry", ({ path }) => activity.entry(path.id))
      .handleRaw("revoke", withReason(control.revoke))
      .handleRaw("quarantine", withReason(control.quarantine))
      .handleRaw("restore", withReason(control.restore))
      .handle("remove", ({ path, urlParams }) => Effect.flatMap(currentActor, (a) => control.delete(path.guid, urlParams.reason ?? "", a)))
  }))
