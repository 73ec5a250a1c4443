// GET /health/ready: the database (a write probe), the agent registry actor and the scheduler fiber
// must answer, and the server must not be draining for shutdown.
import * as SqlClient from "@effect/sql/SqlClient"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import { Lifecycle } from "../../layers/Lifecycle.ts"
import { AgentRegistry } from "../realtime/AgentRegistry.ts"

/** What the scheduler reports about itself (provided by the scheduler layer when it runs). */
export class SchedulerHealth extends Context.Tag("borealis/SchedulerHealth")<SchedulerHealth, {
  /** Epoch ms of the last completed tick, if any. */
  readonly lastTickAt: Effect.Effect<Option.Option<number>>
  /** Whether the scheduler fiber is running. */
  readonly alive: Effect.Effect<boolean>
}>() {}

type CheckState = "ok" | "unavailable" | "not_running"

interface ReadinessReport {
  readonly status: "ready" | "unavailable" | "draining"
  readonly checks: Readonly<Record<string, CheckState>>
}

const CHECK_TIMEOUT = Duration.seconds(2)

export class Readiness extends Effect.Service<Readiness>()("borealis/Readiness", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const registry = yield* AgentRegistry
    const lifecycle = yield* Lifecycle

    /** A write the database must accept within 250 ms (a locked, read-only or broken file fails it). */
    const database = sql.withTransaction(Effect.gen(function*() {
      yield* sql.unsafe("PRAGMA busy_timeout = 250")
      yield* sql`CREATE TABLE IF NOT EXISTS borealis_health (id INTEGER PRIMARY KEY, ts INTEGER NOT NULL)`.pipe(
        Effect.zipRight(sql`INSERT OR REPLACE INTO borealis_health (id, ts) VALUES (1, ${Date.now()})`),
        Effect.ensuring(sql.unsafe("PRAGMA busy_timeout = 5000").pipe(Effect.ignore))
      )
    }))

    const state = <E, R>(check: Effect.Effect<unknown, E, R>): Effect.Effect<CheckState, never, R> =>
      check.pipe(
        Effect.timeout(CHECK_TIMEOUT),
        Effect.as("ok" as const),
        Effect.catchAllCause(() => Effect.succeed("unavailable" as const))
      )

    const report = Effect.gen(function*() {
      const scheduler = yield* Effect.serviceOption(SchedulerHealth)
      const checks: Record<string, CheckState> = {
        database: yield* state(database),
        registry: yield* state(registry.stats),
        scheduler: Option.isNone(scheduler)
          ? "not_running"
          : yield* state(Effect.flatMap(scheduler.value.alive, (alive) => (alive ? Effect.void : Effect.fail("stopped"))))
      }
      const draining = yield* Ref.get(lifecycle.draining)
      const down = Object.values(checks).some((c) => c !== "ok")
      return { status: draining ? "draining" : down ? "unavailable" : "ready", checks } satisfies ReadinessReport
    }).pipe(Effect.withSpan("Readiness.report"))

    return { report } as const
  })
}) {}
