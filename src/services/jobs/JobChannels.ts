// Where jobs meet the realtime layer: which hosts are online, delivery to a host's agent sockets,
// and the notices operators hear (run lifecycle, activity changes). One seam, so the scheduler and
// dispatch are tested without sockets (`JobChannels.Test` records what would have been sent).
// spec: realtime-jobs.md §2.4 (device_activity_changed, job_run_started/completed), §3.5 (online)
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import type { ServiceMode } from "../realtime/agentRules.ts"
import { AgentRegistry } from "../realtime/AgentRegistry.ts"
import { type DeliveryTarget, RealtimeOutbox } from "../realtime/RealtimeOutbox.ts"

/** `job_run_started` / `job_run_completed` (first-gen shape, plus the run's status). */
export interface RunEvent {
  readonly job_id: number
  readonly run_id: number
  readonly target: string
  readonly schedule_type: string
  readonly occurrence_ts: number | null
  readonly status: string
}

export interface ActivityChange {
  readonly hostname: string
  readonly activity_id: number
  readonly change: "created" | "updated"
  readonly source: string
  readonly status?: string
}

interface JobChannelsShape {
  /** Lower-cased hostnames online now (live agent socket, or REST heartbeat ≤ 300 s). */
  readonly onlineHostnames: Effect.Effect<ReadonlySet<string>>
  /** Who a hostname's deliveries go to: the enrolled device holding it (by GUID), else anonymous claimants. */
  readonly resolveHost: (hostname: string) => Effect.Effect<DeliveryTarget>
  /** Send to the target's agent sockets (only those in `mode`, when given); how many got it. */
  readonly toTarget: (target: DeliveryTarget, mode: Option.Option<ServiceMode>, event: string, payload: unknown) => Effect.Effect<number>
  readonly toOperators: (event: string, payload: unknown) => Effect.Effect<void>
}

export class JobChannels extends Effect.Service<JobChannels>()("borealis/JobChannels", {
  effect: Effect.gen(function*() {
    const registry = yield* AgentRegistry
    const outbox = yield* RealtimeOutbox
    const shape: JobChannelsShape = {
      onlineHostnames: Effect.map(registry.snapshot, (s) => s.onlineHostnames),
      resolveHost: outbox.resolveHost,
      toTarget: outbox.toTarget,
      toOperators: outbox.toOperators
    }
    return shape
  })
}) {
  /** A fake: online hosts and connected (host, mode) sockets are set by the test; sends are recorded. */
  static readonly Test = (state: Ref.Ref<TestChannelsState>): Layer.Layer<JobChannels> =>
    Layer.succeed(
      JobChannels,
      JobChannels.make({
        onlineHostnames: Effect.map(Ref.get(state), (s) => new Set([...s.online].map((h) => h.toLowerCase()))),
        resolveHost: (hostname) =>
          Effect.map(Ref.get(state), (s) => ({ hostname, guid: s.devices?.[hostname.toLowerCase()] ?? null })),
        toTarget: ({ hostname }, mode, event, payload) =>
          Effect.flatMap(Ref.get(state), (s) =>
            (s.failing ?? []).includes(hostname) ? Effect.die(new Error(`delivery to ${hostname} broke`)) : Effect.void).pipe(
            Effect.zipRight(Ref.modify(state, (s) => {
            const key = hostname.toLowerCase()
            const sockets = s.sockets.filter((x) => x.hostname.toLowerCase() === key && (Option.isNone(mode) || x.mode === mode.value)).length
            const sent = sockets > 0 ? [...s.sent, { hostname, mode: Option.getOrNull(mode), event, payload }] : s.sent
            return [sockets, { ...s, sent }]
          }))),
        toOperators: (event, payload) => Ref.update(state, (s) => ({ ...s, operatorEvents: [...s.operatorEvents, { event, payload }] }))
      })
    )
}

export interface TestChannelsState {
  readonly online: ReadonlyArray<string>
  readonly sockets: ReadonlyArray<{ readonly hostname: string; readonly mode: ServiceMode }>
  readonly sent: ReadonlyArray<{ readonly hostname: string; readonly mode: ServiceMode | null; readonly event: string; readonly payload: unknown }>
  readonly operatorEvents: ReadonlyArray<{ readonly event: string; readonly payload: unknown }>
  /** Hosts whose delivery dies (a defect), to test that one job's failure stays its own. */
  readonly failing?: ReadonlyArray<string>
  /** Lowercased hostname → the GUID of the enrolled device holding it. */
  readonly devices?: Readonly<Record<string, string>>
}

export const emptyChannelsState: TestChannelsState = { online: [], sockets: [], sent: [], operatorEvents: [] }

/**
 * The agent socket mode a run mode is delivered to (later Engine): `system` → SYSTEM sockets,
 * `current_user`/`currentuser` → interactive ones; other modes (ssh, winrm, admin) → any socket of
 * the host.
 */
export const targetServiceMode = (runMode: string): Option.Option<ServiceMode> => {
  const mode = runMode.trim().toLowerCase()
  if (mode === "system") return Option.some("system")
  if (mode === "current_user" || mode === "currentuser") return Option.some("currentuser")
  return Option.none()
}

/** The later Engine's text when no socket took a dispatch. */
export const noSocketMessage = (mode: Option.Option<ServiceMode>, hostname: string, what: "scheduled job" | "quick job"): string =>
  Option.isSome(mode)
    ? `No ${mode.value} agent socket is registered for host ${hostname}; unable to dispatch ${what}.`
    : `No agent socket is registered for host ${hostname}; unable to dispatch ${what}.`
