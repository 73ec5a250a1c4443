// Trace export: every HTTP request, socket event handler and service method already has a span; with
// OTEL_EXPORTER_OTLP_ENDPOINT set they are exported over OTLP/HTTP (JSON) to `<endpoint>/v1/traces`.
// Without it nothing is exported (spans stay in-process).
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as OtlpSerialization from "@effect/opentelemetry/OtlpSerialization"
import * as OtlpTracer from "@effect/opentelemetry/OtlpTracer"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { EngineConfig } from "./Config.ts"

export const TracingLive: Layer.Layer<never, never, EngineConfig> = Layer.unwrapEffect(
  Effect.map(EngineConfig, (config) =>
    Option.match(config.otlpEndpoint, {
      onNone: () => Layer.empty,
      onSome: (endpoint) =>
        OtlpTracer.layer({
          url: `${endpoint.replace(/\/+$/, "")}/v1/traces`,
          resource: { serviceName: config.otlpServiceName, serviceVersion: "0.1.0" },
          exportInterval: Duration.seconds(2),
          shutdownTimeout: Duration.seconds(2)
        }).pipe(Layer.provide(OtlpSerialization.layerJson), Layer.provide(FetchHttpClient.layer))
    })
  )
)
