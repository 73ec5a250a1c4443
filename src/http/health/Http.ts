import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as Effect from "effect/Effect"
import { BorealisApi } from "../api/Api.ts"

export const HealthLive = HttpApiBuilder.group(BorealisApi, "health", (handlers) =>
  handlers.handle("health", () => Effect.succeed({ status: "ok" as const })))
