// The composed Engine, built in the spec's bootstrap order (config-bootstrap-tests.md §3.2):
// config → logging (`bootstrap-started`) → TLS and keys (`tls-material-ready`) → database →
// migrations and default admin → services → Socket.IO → HTTP listener → `bootstrap-complete`.
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { HttpAppLive } from "../http/Http.ts"
import { MetricsLive } from "../services/metrics/MetricsLive.ts"
import { Readiness } from "../services/ops/Readiness.ts"
import { RealtimeLive } from "../ws/Realtime.ts"
import { SocketRevocationsLive } from "../ws/revocations.ts"
import { Lifecycle } from "./Lifecycle.ts"
import { PidFileLive } from "./PidFile.ts"
import { TracingLive } from "./Tracing.ts"
import { AgentSideLive } from "../services/agents/layer.ts"
import { Assemblies } from "../services/assemblies/Assemblies.ts"
import { Audit } from "../services/audit/Audit.ts"
import { MaintenanceLive } from "../services/maintenance/Maintenance.ts"
import { Revocations } from "../services/revocations/Revocations.ts"
import { JobsLive } from "../services/jobs/layer.ts"
import { SchedulerLive } from "../scheduler/Scheduler.ts"
import { KeyMaterial } from "../services/keys/KeyMaterial.ts"
import { OperatorsLive } from "../services/operators/layer.ts"
import { EngineConfig } from "./Config.ts"
import type { ConfigInvalid } from "./configParse.ts"
import { HttpListener, HttpServerLive, SocketIoLive } from "./HttpServer.ts"
import { LoggingLive } from "./Logging.ts"
import { MigrationsLive } from "./Migrations.ts"
import { SqlLive } from "./Sql.ts"

const BootstrapStarted = Layer.scopedDiscard(
  Effect.gen(function*() {
    const config = yield* EngineConfig
    yield* Effect.logInfo("bootstrap-started")
    // Runs after every layer built on top of this one has closed: servers, fibers, database.
    yield* Effect.addFinalizer(() => Effect.logInfo("shutdown-complete"))
    for (const w of config.warnings) {
      yield* Effect.logWarning("config-fallback").pipe(
        Effect.annotateLogs({ variable: w.variable, value: w.value, reason: w.message })
      )
    }
  })
)

const BootstrapComplete = Layer.effectDiscard(
  Effect.flatMap(HttpListener, (listener) =>
    Effect.logInfo("bootstrap-complete").pipe(Effect.annotateLogs({ url: listener.url }))
  )
)

/**
 * Capability services (each an `Effect.Service` with its own repository). They may use the database,
 * keys, config and logging from the foundation; HTTP groups and Socket.IO handlers call them.
 */
const ServicesLive = Readiness.Default.pipe(
  Layer.provideMerge(JobsLive),
  Layer.provideMerge(Layer.mergeAll(OperatorsLive, AgentSideLive, Assemblies.Default)),
  // Every capability records to the one audit trail and announces revoked credentials on one bus.
  Layer.provideMerge(Layer.mergeAll(Audit.Default, Revocations.Default))
)

/** Supervised background fibers (agent registry, scheduler, write-behind): forked in the app scope. */
const FibersLive = Layer.mergeAll(RealtimeLive, SocketRevocationsLive, MetricsLive, SchedulerLive, MaintenanceLive)

/** The whole Engine on a given configuration layer (the process uses the environment's). */
export const makeAppLayer = <E>(config: Layer.Layer<EngineConfig, E>) => {
  const foundation = MigrationsLive.pipe(
    Layer.provideMerge(SqlLive),
    Layer.provideMerge(KeyMaterial.Live),
    Layer.provideMerge(SocketIoLive),
    Layer.provideMerge(Lifecycle.Live),
    Layer.provideMerge(PidFileLive),
    Layer.provideMerge(BootstrapStarted),
    Layer.provideMerge(TracingLive),
    Layer.provideMerge(LoggingLive),
    Layer.provideMerge(config)
  )
  const serving = BootstrapComplete.pipe(
    Layer.provideMerge(HttpServerLive),
    Layer.provide(HttpAppLive),
    Layer.provide(NodeHttpServer.layerContext)
  )
  return serving.pipe(
    Layer.provideMerge(FibersLive),
    Layer.provideMerge(ServicesLive),
    Layer.provideMerge(foundation)
  )
}

export const AppLive = makeAppLayer(EngineConfig.fromEnv())
export type AppError = ConfigInvalid
