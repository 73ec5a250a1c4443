// The composed Engine, built in the spec's bootstrap order (config-bootstrap-tests.md §3.2):
// config → logging (`bootstrap-started`) → TLS and keys (`tls-material-ready`) → database →
// migrations and default admin → services → Socket.IO → HTTP listener → `bootstrap-complete`.
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { HttpRequestHandlerLive } from "../http/App.ts"
import { HttpAppLive } from "../http/Http.ts"
import { MetricsListenerLive } from "../http/MetricsListener.ts"
import { EngineConfig } from "../layers/Config.ts"
import { HttpListener, HttpListenerLive } from "../layers/HttpListener.ts"
import { KeyMaterial } from "../layers/keys/KeyMaterial.ts"
import { Lifecycle } from "../layers/Lifecycle.ts"
import { LoggingLive } from "../layers/Logging.ts"
import { MigrationsLive } from "../layers/Migrations.ts"
import { PidFileLive } from "../layers/PidFile.ts"
import { SocketIoLive } from "../layers/SocketIo.ts"
import { SqlLive } from "../layers/Sql.ts"
import { TracingLive } from "../layers/Tracing.ts"
import { SchedulerLive } from "../scheduler/Scheduler.ts"
import { Assemblies } from "../services/assemblies/Assemblies.ts"
import { Audit } from "../services/audit/Audit.ts"
import { MaintenanceLive } from "../services/maintenance/Maintenance.ts"
import { Readiness } from "../services/ops/Readiness.ts"
import { Revocations } from "../services/revocations/Revocations.ts"
import { RealtimeLive } from "../ws/Realtime.ts"
import { SocketRevocationsLive } from "../ws/revocations.ts"
import { AgentSideLive, JobsLive, OperatorsLive } from "./capabilities.ts"

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
const FibersLive = Layer.mergeAll(RealtimeLive, SocketRevocationsLive, MetricsListenerLive, SchedulerLive, MaintenanceLive)

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
    Layer.provideMerge(HttpListenerLive),
    Layer.provide(HttpRequestHandlerLive),
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
