import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import { METRICS_CONTENT_TYPE, renderMetrics } from "../../layers/metrics.ts"
import { Readiness } from "../../services/ops/Readiness.ts"
import { BorealisApi } from "../api/Api.ts"

const metricsResponse = Effect.map(
  Effect.promise(renderMetrics),
  (text) => HttpServerResponse.text(text, { contentType: METRICS_CONTENT_TYPE })
)

export const OpsLive = HttpApiBuilder.group(BorealisApi, "ops", (handlers) =>
  Effect.gen(function*() {
    const readiness = yield* Readiness
    return handlers
      .handle("ready", () =>
        Effect.map(readiness.report, (report) => HttpServerResponse.unsafeJson(report, { status: report.status === "ready" ? 200 : 503 })))
      .handle("metrics", () => metricsResponse)
  }))
