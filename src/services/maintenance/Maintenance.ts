// The housekeeping fiber: what has expired is pruned, so no table grows without bound — install codes,
// approvals, refresh tokens, DPoP proof ids, operator sessions, revocation notices — and the audit
// trail keeps BOREALIS_AUDIT_RETENTION_DAYS days when that is set (by default it keeps everything).
// Supervised in the app scope: a failing pass is logged and the next one runs as planned.
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import { EngineConfig } from "../../layers/Config.ts"
import { Audit } from "../audit/Audit.ts"
import { EnrollmentAdminRepo } from "../enrollment/EnrollmentAdminRepo.ts"
import { SessionsRepo } from "../operators/SessionsRepo.ts"
import { Revocations } from "../revocations/Revocations.ts"
import { Dpop } from "../tokens/Dpop.ts"
import { TokenRefresh } from "../tokens/TokenRefresh.ts"

/** A first pass shortly after start, then one an hour. */
export const MAINTENANCE_FIRST = Duration.seconds(30)
export const MAINTENANCE_EVERY = Duration.hours(1)
const DAY_SECONDS = 86_400

/** One housekeeping pass; how many rows went, per kind. */
export const prunePass = Effect.gen(function*() {
  const nowMs = yield* Clock.currentTimeMillis
  const now = Math.floor(nowMs / 1000)
  const config = yield* EngineConfig
  const enrollment = yield* (yield* EnrollmentAdminRepo).prune(nowMs)
  const counts: Record<string, number> = {
    ...enrollment,
    refresh_tokens: yield* (yield* TokenRefresh).prune(nowMs),
    dpop_proofs: yield* (yield* Dpop).prune(now),
    operator_sessions: yield* (yield* SessionsRepo).prune
  }
  yield* (yield* Revocations).prune(now - DAY_SECONDS)
  if (config.auditRetentionDays > 0) {
    counts["audit_events"] = yield* (yield* Audit).applyRetention(now - config.auditRetentionDays * DAY_SECONDS)
  }
  const total = Object.values(counts).reduce((a, b) => a + b, 0)
  if (total > 0) yield* Effect.logInfo("maintenance-pruned").pipe(Effect.annotateLogs(counts))
  return counts
}).pipe(Effect.withSpan("Maintenance.prune"))

export const MaintenanceLive = Layer.scopedDiscard(
  Effect.gen(function*() {
    const context = yield* Effect.context<
      EngineConfig | EnrollmentAdminRepo | TokenRefresh | Dpop | SessionsRepo | Revocations | Audit
    >()
    const pass = prunePass.pipe(
      Effect.provide(context),
      Effect.catchAllCause((cause) => Effect.logWarning("maintenance-failed", cause))
    )
    yield* Effect.sleep(MAINTENANCE_FIRST).pipe(
      Effect.zipRight(Effect.repeat(pass, Schedule.spaced(MAINTENANCE_EVERY))),
      Effect.forkScoped
    )
  })
)
