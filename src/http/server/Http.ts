import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as Effect from "effect/Effect"
import { BorealisApi } from "../api/Api.ts"
import { serverTime } from "./time.ts"

export const ServerLive = HttpApiBuilder.group(BorealisApi, "server", (handlers) =>
  handlers.handle("time", () => Effect.sync(() => serverTime(Date.now()))))
