import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { NotFound } from "../../services/errors.ts"
import { AgentDirectory } from "../../services/realtime/AgentDirectory.ts"
import { ProvisionRequest } from "../../services/realtime/directoryRequests.ts"
import { ScreenshotCache } from "../../services/realtime/ScreenshotCache.ts"
import { BorealisApi } from "../api/Api.ts"
import { operatorPayload } from "../body.ts"

const provisionBody = operatorPayload(ProvisionRequest)

export const AgentsLive = HttpApiBuilder.group(BorealisApi, "agents", (handlers) =>
  Effect.gen(function*() {
    const directory = yield* AgentDirectory
    const screenshots = yield* ScreenshotCache
    return handlers
      .handle("list", () => directory.list)
      .handleRaw("provision", () => Effect.flatMap(provisionBody, directory.provision))
      .handle("remove", ({ path }) => directory.remove(path.agent_id))
      .handle("screenshot", ({ path, urlParams }) =>
        Effect.flatMap(screenshots.get(path.agent_id, Option.fromNullable(urlParams.node_id)), Option.match({
          onNone: () => Effect.fail(new NotFound({ error: "not_found" })),
          onSome: Effect.succeed
        })))
  }))
