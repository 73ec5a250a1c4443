// The parent side of the simulator: forks worker processes, hands each a slice of the agents, sums
// their reports (fleet totals, per-phase windows, a timeline), auto-approves enrollments when asked,
// and stops everything by a deadline. Used by `npm run simulate` and by the benchmarks.
import { type ChildProcess, spawn } from "node:child_process"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { type AgentBehaviour, DEFAULT_BEHAVIOUR } from "./agent.ts"
import { OperatorSession } from "./enroll.ts"
import { assertLoopbackUrl, sourceAddressFor } from "./loopback.ts"
import { failureKind, RestClient } from "./rest.ts"
import { type EventReceipt, type Gauges, StatsWindow } from "./stats.ts"
import type { CodeGrant, CredentialSource, ParentMessage, WorkerInit, WorkerMessage } from "./worker.ts"

export const MAX_AGENTS = 50_000
export const MAX_WORKERS = 16
export const MAX_DURATION_MS = 24 * 3600 * 1000
/** Default agents per worker: well under the 20,000 fds a process may hold here. */
export const DEFAULT_AGENTS_PER_WORKER = 5_000

const WORKER_FILE = path.join(path.dirname(fileURLToPath(import.meta.url)), "worker.ts")

export type FleetCredentials =
  | { readonly kind: "tokens"; readonly file: string }
  | {
    readonly kind: "enroll"
    /** One code for every agent (e.g. a site code), else codes are created with the operator login. */
    readonly installCode?: string
    readonly operator?: { readonly username: string; readonly password: string }
    /** Approve this fleet's pending approvals with the operator login. */
    readonly autoApprove?: boolean
    /** Uses per created install code (the server clamps to 1..10). */
    readonly codeUses?: number
  }
  | { readonly kind: "anonymous" }

export interface FleetOptions {
  /** Base URL of the Engine; must be a loopback address. */
  readonly url: string
  /** PEM of the CA to trust (TLS). */
  readonly ca?: string
  readonly rejectUnauthorized?: boolean
  readonly agents: number
  /** Worker processes (default: enough for `agentsPerWorker`, at least 2 when agents ≥ 1000). */
  readonly workers?: number
  readonly agentsPerWorker?: number
  readonly credentials: FleetCredentials
  readonly behaviour?: Partial<AgentBehaviour>
  /** Concurrent websocket handshakes per worker (default 64; CPU-bound TLS gains nothing from more). */
  readonly connectConcurrency?: number
  /** Agents started per second across the fleet (default 1000). */
  readonly rampPerSecond?: number
  /** Agents to bring online at start (default all). */
  readonly initialActive?: number
  /** Worker report interval (default 1000 ms). */
  readonly reportMs?: number
  /** Workers stop by themselves after this (plus a short grace), whatever happens to the parent. */
  readonly durationMs: number
  /**
   * Give each worker its own source address 127.0.0.(2+w), so each has a full ephemeral port range
   * (~28k here). Default: only above 20,000 agents — an explicit bind() makes the kernel's port
   * search slow as the range fills (19k agents from one address took 3× as long to connect) and
   * forgoes loopback TIME_WAIT reuse, while plain connect() shares one range across workers.
   */
  readonly sourceAddresses?: boolean
  readonly hostnamePrefix?: string
  /** REST connections per worker (default 16). */
  readonly restMaxSockets?: number
  /** Called after each timeline sample. */
  readonly onSample?: (fleet: Fleet) => void
  readonly log?: (line: string) => void
}

interface WorkerHandle {
  readonly index: number
  readonly child: ChildProcess
  readonly agents: number
  gauges: Gauges
  rssBytes: number
  cpuMicros: number
  exited: boolean
  done: boolean
}

export interface TimelinePoint {
  /** Seconds since the fleet started. */
  readonly t: number
  readonly active: number
  readonly connected: number
  readonly connecting: number
  readonly waiting: number
  readonly enrolling: number
  readonly errors: number
}

const ZERO: Gauges = { active: 0, connected: 0, connecting: 0, waiting: 0, enrolling: 0 }

const spawnWorker = (): ChildProcess =>
  // Through bash so the worker's soft fd limit is raised to the hard one (Node cannot setrlimit);
  // `exec` keeps the pid and the inherited IPC channel.
  spawn("bash", ["-c", 'ulimit -Sn "$(ulimit -Hn)" 2>/dev/null; exec "$0" "$@"', process.execPath, WORKER_FILE], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    // The parent's NODE_OPTIONS (vitest's, a profiler's) are not the workers'; SIMULATOR_WORKER_NODE_OPTIONS
    // passes options to them on purpose (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`).
    env: { ...process.env, NODE_OPTIONS: process.env["SIMULATOR_WORKER_NODE_OPTIONS"] ?? "" }
  })

/** Round-robin-free split: the first `agents % workers` workers take one extra. */
export const splitAgents = (agents: number, workers: number): ReadonlyArray<{ readonly from: number; readonly count: number }> => {
  const out: Array<{ from: number; count: number }> = []
  const base = Math.floor(agents / workers)
  let from = 0
  for (let w = 0; w < workers; w++) {
    const count = base + (w < agents % workers ? 1 : 0)
    out.push({ from, count })
    from += count
  }
  return out
}

export class Fleet {
  readonly options: FleetOptions
  readonly startedAt = Date.now()
  readonly totals = new StatsWindow(this.startedAt)
  /** Window the caller restarts with `startPhase` (benchmark steps). */
  phase = new StatsWindow(this.startedAt)
  readonly timeline: Array<TimelinePoint> = []
  readonly events: Array<EventReceipt> = []
  peakConnected = 0
  /** Worker RSS when the most agents were connected. */
  peakRssBytes = 0
  approvals = 0
  readonly approverErrors = new Map<string, number>()
  private readonly workers: Array<WorkerHandle> = []
  private sampler: NodeJS.Timeout | undefined
  private approving = false
  private stopped = false
  private readonly eventListeners: Array<(events: ReadonlyArray<EventReceipt>) => void> = []
  private readonly log: (line: string) => void

  private constructor(options: FleetOptions) {
    this.options = options
    this.log = options.log ?? (() => {})
  }

  /** Fork the workers, wait until each has loaded its agents, and start the ramp. */
  static async start(options: FleetOptions): Promise<Fleet> {
    const url = assertLoopbackUrl(options.url)
    if (!Number.isSafeInteger(options.agents) || options.agents < 1 || options.agents > MAX_AGENTS) {
      throw new Error(`agents must be 1..${MAX_AGENTS}`)
    }
    if (!(options.durationMs > 0 && options.durationMs <= MAX_DURATION_MS)) throw new Error("duration must be > 0 and ≤ 24 h")
    const perWorker = options.agentsPerWorker ?? DEFAULT_AGENTS_PER_WORKER
    const workers = Math.min(
      MAX_WORKERS,
      Math.max(1, options.workers ?? Math.max(Math.ceil(options.agents / perWorker), options.agents >= 1000 ? 2 : 1))
    )
    if (Math.ceil(options.agents / workers) > 19_000) throw new Error("more than 19,000 agents per worker would exceed the fd limit; add workers")
    const fleet = new Fleet(options)
    try {
      await fleet.launch(url, workers)
    } catch (error) {
      await fleet.stop()
      throw error
    }
    return fleet
  }

  /** Sum of the workers' latest gauges. */
  get gauges(): Gauges {
    const g = { ...ZERO }
    for (const w of this.workers) {
      if (w.exited) continue
      g.active += w.gauges.active
      g.connected += w.gauges.connected
      g.connecting += w.gauges.connecting
      g.waiting += w.gauges.waiting
      g.enrolling += w.gauges.enrolling
    }
    return g
  }

  get workerCount(): number {
    return this.workers.length
  }

  /** Total RSS of the worker processes (bytes). */
  get workerRssBytes(): number {
    return this.workers.reduce((n, w) => n + w.rssBytes, 0)
  }

  /** Total CPU seconds the workers used. */
  get workerCpuSeconds(): number {
    return this.workers.reduce((n, w) => n + w.cpuMicros, 0) / 1e6
  }

  /** Bring `n` agents online (or take surplus ones offline), spread over the workers. */
  setActive(n: number): void {
    const target = Math.max(0, Math.min(this.options.agents, Math.floor(n)))
    const split = splitAgents(target, this.workers.length)
    for (const w of this.workers) this.sendTo(w, { type: "target", active: split[w.index]?.count ?? 0 })
  }

  /** Start a fresh measurement window (counters, errors, latencies from now on). */
  startPhase(): StatsWindow {
    this.phase = new StatsWindow()
    return this.phase
  }

  onEvents(listener: (events: ReadonlyArray<EventReceipt>) => void): void {
    this.eventListeners.push(listener)
  }

  /** Resolve true as soon as `predicate` holds (checked on every report), false after `timeoutMs`. */
  waitFor(predicate: (fleet: Fleet) => boolean, timeoutMs: number, pollMs = 50): Promise<boolean> {
    return new Promise((resolve) => {
      const until = Date.now() + timeoutMs
      const check = () => {
        if (predicate(this)) return resolve(true)
        if (Date.now() >= until || this.stopped) return resolve(predicate(this))
        setTimeout(check, pollMs)
      }
      check()
    })
  }

  /** Stop every worker (graceful closes, bounded), then kill stragglers. */
  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    this.approving = false
    if (this.sampler !== undefined) clearInterval(this.sampler)
    for (const w of this.workers) this.sendTo(w, { type: "stop" })
    const until = Date.now() + 10_000
    while (Date.now() < until && this.workers.some((w) => !w.exited)) await new Promise((r) => setTimeout(r, 50))
    for (const w of this.workers) if (!w.exited && w.child.pid !== undefined) w.child.kill("SIGKILL")
    this.sample()
  }

  /** Everything measured so far, JSON-ready. */
  summary() {
    return {
      url: this.options.url,
      agents: this.options.agents,
      workers: this.workers.length,
      credentials: this.options.credentials.kind,
      gauges: this.gauges,
      peak_connected: this.peakConnected,
      worker_rss_mb: Math.round(this.workerRssBytes / 1048576),
      /** Worker RSS (including each process's ~60 MB runtime) over the most agents connected at once. */
      worker_rss_bytes_per_connected_agent: this.peakConnected > 0 ? Math.round(this.peakRssBytes / this.peakConnected) : null,
      worker_cpu_seconds: Math.round(this.workerCpuSeconds * 10) / 10,
      ...(this.options.credentials.kind === "enroll" ? { approvals: this.approvals, approver_errors: Object.fromEntries(this.approverErrors) } : {}),
      totals: this.totals.toJSON()
    }
  }

  // --- internals -------------------------------------------------------------------------------

  private sendTo(w: WorkerHandle, message: ParentMessage): void {
    if (!w.exited && w.child.connected) w.child.send(message)
  }

  private sample(): void {
    const g = this.gauges
    if (g.connected >= this.peakConnected) {
      this.peakConnected = g.connected
      this.peakRssBytes = Math.max(this.peakRssBytes, this.workerRssBytes)
    }
    if (this.timeline.length < 50_000) {
      this.timeline.push({ t: Math.round((Date.now() - this.startedAt) / 100) / 10, ...g, errors: this.totals.errorTotal() })
    }
    this.options.onSample?.(this)
  }

  private onMessage(w: WorkerHandle, message: WorkerMessage): void {
    if (message.type !== "report") return
    w.gauges = message.gauges
    w.rssBytes = message.rssBytes
    w.cpuMicros = message.cpuUserMicros + message.cpuSystemMicros
    if (message.done) w.done = true
    this.totals.add(message)
    this.phase.add(message)
    if (message.events.length > 0) {
      const room = 200_000 - this.events.length
      if (room > 0) this.events.push(...message.events.slice(0, room))
      for (const l of this.eventListeners) l(message.events)
    }
  }

  private async launch(url: URL, workerCount: number): Promise<void> {
    const o = this.options
    const b: AgentBehaviour = { ...DEFAULT_BEHAVIOUR, ...o.behaviour }
    const prefix = (o.hostnamePrefix ?? "SIM").toUpperCase()
    let credentials: CredentialSource
    const rest = new RestClient({
      baseUrl: o.url,
      ...(o.ca !== undefined ? { ca: o.ca } : {}),
      rejectUnauthorized: o.rejectUnauthorized ?? true,
      maxSockets: 8
    })
    let operator: OperatorSession | undefined
    if (o.credentials.kind === "enroll") {
      const e = o.credentials
      if (e.operator !== undefined) operator = await OperatorSession.login(rest, e.operator.username, e.operator.password)
      let codes: Array<CodeGrant>
      if (e.installCode !== undefined) codes = [{ code: e.installCode, firstAgent: 0, uses: 0 }]
      else if (operator !== undefined) codes = await this.createCodes(operator, o.agents, e.codeUses ?? 10)
      else throw new Error("enrollment needs an install code or operator credentials to create codes")
      credentials = { kind: "enroll", codes }
    } else {
      credentials = o.credentials
    }
    const split = splitAgents(o.agents, workerCount)
    const deadlineAt = Date.now() + o.durationMs + 15_000
    const rampShare = (o.rampPerSecond ?? 1000) / workerCount
    const ready: Array<Promise<void>> = []
    for (let index = 0; index < workerCount; index++) {
      const slice = split[index] ?? { from: 0, count: 0 }
      const child = spawnWorker()
      const handle: WorkerHandle = { index, child, agents: slice.count, gauges: { ...ZERO }, rssBytes: 0, cpuMicros: 0, exited: false, done: false }
      this.workers.push(handle)
      const init: WorkerInit = {
        type: "init",
        worker: index,
        url: url.origin,
        ca: o.ca ?? null,
        rejectUnauthorized: o.rejectUnauthorized ?? true,
        localAddress: (o.sourceAddresses ?? o.agents > 20_000) ? sourceAddressFor(url, index) : null,
        agentsFrom: slice.from,
        agentsCount: slice.count,
        hostnamePrefix: prefix,
        credentials,
        behaviour: b,
        connectConcurrency: o.connectConcurrency ?? 64,
        rampPerSecond: rampShare,
        restMaxSockets: o.restMaxSockets ?? 16,
        reportMs: o.reportMs ?? 1000,
        deadlineAt
      }
      ready.push(new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`worker ${index} not ready in 120 s`)), 120_000)
        child.on("message", (message: WorkerMessage) => {
          if (message.type === "ready") {
            clearTimeout(timer)
            if (message.fdSoftLimit !== null && message.fdSoftLimit < slice.count + 200) {
              this.log(`warning: worker ${index} may open ${slice.count} sockets but its fd limit is ${message.fdSoftLimit}`)
            }
            resolve()
          } else if (message.type === "fatal") {
            clearTimeout(timer)
            reject(new Error(`worker ${index}: ${message.message}`))
          } else {
            this.onMessage(handle, message)
          }
        })
        child.on("exit", (code, signal) => {
          clearTimeout(timer)
          handle.exited = true
          if (!handle.done && !this.stopped) {
            this.log(`worker ${index} exited early (code ${code ?? "-"}, signal ${signal ?? "-"})`)
          }
          reject(new Error(`worker ${index} exited (code ${code ?? "-"}, signal ${signal ?? "-"})`))
        })
        child.on("error", (error) => reject(error))
      }))
      child.send(init)
    }
    await Promise.all(ready)
    this.sampler = setInterval(() => this.sample(), o.reportMs ?? 1000)
    this.setActive(o.initialActive ?? o.agents)
    if (o.credentials.kind === "enroll" && o.credentials.autoApprove === true) {
      if (operator === undefined) throw new Error("auto-approval needs operator credentials")
      this.approving = true
      void this.approveLoop(operator, prefix).finally(() => rest.close())
    } else {
      rest.close()
    }
  }

  private async createCodes(operator: OperatorSession, agents: number, uses: number): Promise<Array<CodeGrant>> {
    const grants: Array<CodeGrant> = []
    let first = 0
    while (first < agents) {
      const created = await operator.createInstallCode(24, Math.max(1, Math.min(10, uses)))
      grants.push({ code: created.code, firstAgent: first, uses: created.uses })
      first += created.uses
    }
    return grants
  }

  /** Poll pending approvals and approve this fleet's hostnames (a few in parallel) until stopped. */
  private async approveLoop(operator: OperatorSession, prefix: string): Promise<void> {
    const seen = new Set<string>()
    const bump = (kind: string) => this.approverErrors.set(kind, (this.approverErrors.get(kind) ?? 0) + 1)
    while (this.approving) {
      let pending: ReadonlyArray<{ id: string; hostname: string }> = []
      try {
        pending = (await operator.pendingApprovals()).filter((a) => a.hostname.toUpperCase().startsWith(`${prefix}-`) && !seen.has(a.id))
      } catch (error) {
        bump(error instanceof Error && "kind" in error ? String(error.kind) : failureKind(error))
      }
      for (let i = 0; i < pending.length && this.approving; i += 8) {
        await Promise.all(pending.slice(i, i + 8).map(async (a) => {
          seen.add(a.id)
          try {
            const result = await operator.approve(a.id)
            if (result === "ok") this.approvals++
            else {
              bump(`approve:${result}`)
              seen.delete(a.id)
            }
          } catch (error) {
            bump(`approve:${failureKind(error)}`)
            seen.delete(a.id)
          }
        }))
      }
      if (pending.length === 0) await new Promise((r) => setTimeout(r, 250))
    }
  }
}
