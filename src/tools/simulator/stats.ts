// Counters, error kinds and latency histograms: recorded by each worker, shipped to the parent as
// deltas once per report interval, summed there (fleet totals and per-phase windows).
import { Histogram, type HistogramData, type Summary } from "./histogram.ts"

/** Latencies the simulator measures (ms). */
export const LATENCIES = [
  /** TCP connect → Socket.IO CONNECT acknowledged (includes TLS and the upgrade). */
  "connect_ms",
  /** `agent_heartbeat` emitted with an ack request → ack received. */
  "heartbeat_ack_ms",
  /** REST `POST /api/agent/heartbeat`. */
  "rest_heartbeat_ms",
  /** REST `POST /api/agent/token/refresh`. */
  "refresh_ms",
  /** Whole enrollment: first request → tokens (includes waiting for approval). */
  "enroll_ms",
  /** One `enroll/request` or `enroll/poll` call. */
  "enroll_call_ms",
  /** Event receipt delay for events carrying a send timestamp the fleet was told about (see recordEvents). */
  "event_ms"
] as const
export type LatencyName = (typeof LATENCIES)[number]

export interface Gauges {
  /** Agents the worker is running (the ramp target it has reached). */
  readonly active: number
  readonly connected: number
  /** A websocket handshake in flight. */
  readonly connecting: number
  /** Waiting to reconnect (backoff) or for a connect slot. */
  readonly waiting: number
  readonly enrolling: number
}

/** An event an agent received that the fleet was asked to record (bounded per report). */
export interface EventReceipt {
  readonly name: string
  readonly agent: number
  readonly at: number
  /** `job_id` / `run_id` of the payload when present, to match a send. */
  readonly key: string | null
}

export interface WorkerReport {
  readonly type: "report"
  readonly worker: number
  readonly at: number
  readonly gauges: Gauges
  /** Deltas since the previous report. */
  readonly counters: Readonly<Record<string, number>>
  readonly errors: Readonly<Record<string, number>>
  readonly latencies: Readonly<Partial<Record<LatencyName, HistogramData>>>
  readonly events: ReadonlyArray<EventReceipt>
  /** Cumulative process figures. */
  readonly rssBytes: number
  readonly cpuUserMicros: number
  readonly cpuSystemMicros: number
  readonly done: boolean
}

const bump = (map: Map<string, number>, key: string, n = 1) => map.set(key, (map.get(key) ?? 0) + n)

/** Worker side: cheap to record into, drained into a report. */
export class WorkerStats {
  private counters = new Map<string, number>()
  private errors = new Map<string, number>()
  private events: Array<EventReceipt> = []
  readonly latencies = new Map<LatencyName, Histogram>(LATENCIES.map((n) => [n, new Histogram()]))
  /** Receipts kept per report; more are counted in `events_dropped`. */
  maxEventsPerReport = 10_000

  count(name: string, n = 1): void {
    bump(this.counters, name, n)
  }

  error(kind: string, n = 1): void {
    bump(this.errors, kind, n)
  }

  latency(name: LatencyName, ms: number): void {
    this.latencies.get(name)?.record(ms)
  }

  event(receipt: EventReceipt): void {
    if (this.events.length >= this.maxEventsPerReport) this.count("events_dropped")
    else this.events.push(receipt)
  }

  drain(worker: number, gauges: Gauges, done: boolean): WorkerReport {
    const latencies: Partial<Record<LatencyName, HistogramData>> = {}
    for (const [name, h] of this.latencies) if (h.count > 0) latencies[name] = h.drain()
    const cpu = process.cpuUsage()
    const report: WorkerReport = {
      type: "report",
      worker,
      at: Date.now(),
      gauges,
      counters: Object.fromEntries(this.counters),
      errors: Object.fromEntries(this.errors),
      latencies,
      events: this.events,
      rssBytes: process.memoryUsage.rss(),
      cpuUserMicros: cpu.user,
      cpuSystemMicros: cpu.system,
      done
    }
    this.counters = new Map()
    this.errors = new Map()
    this.events = []
    return report
  }
}

/** Sums of reports over some window (the whole run, or a phase the caller started). */
export class StatsWindow {
  readonly startedAt: number
  readonly counters = new Map<string, number>()
  readonly errors = new Map<string, number>()
  readonly latencies = new Map<LatencyName, Histogram>(LATENCIES.map((n) => [n, new Histogram()]))

  constructor(startedAt = Date.now()) {
    this.startedAt = startedAt
  }

  add(report: WorkerReport): void {
    for (const [k, v] of Object.entries(report.counters)) bump(this.counters, k, v)
    for (const [k, v] of Object.entries(report.errors)) bump(this.errors, k, v)
    for (const [name, data] of Object.entries(report.latencies)) {
      if (data !== undefined) this.latencies.get(name as LatencyName)?.merge(data)
    }
  }

  counter(name: string): number {
    return this.counters.get(name) ?? 0
  }

  errorTotal(prefix = ""): number {
    let n = 0
    for (const [k, v] of this.errors) if (k.startsWith(prefix)) n += v
    return n
  }

  toJSON(): {
    readonly startedAt: string
    readonly seconds: number
    readonly counters: Record<string, number>
    readonly errors: Record<string, number>
    readonly latencies: Partial<Record<LatencyName, Summary>>
  } {
    const latencies: Partial<Record<LatencyName, Summary>> = {}
    for (const [name, h] of this.latencies) if (h.count > 0) latencies[name] = h.summary()
    return {
      startedAt: new Date(this.startedAt).toISOString(),
      seconds: Math.round((Date.now() - this.startedAt) / 100) / 10,
      counters: Object.fromEntries([...this.counters].sort(([a], [b]) => a.localeCompare(b))),
      errors: Object.fromEntries([...this.errors].sort(([a], [b]) => a.localeCompare(b))),
      latencies
    }
  }
}
