// A simulator worker process: runs a slice of the fleet's agents, reports to the parent over IPC, and
// stops by itself at its deadline or when the parent goes away. Started by fleet.ts (child process,
// not a worker thread: each process has its own file-descriptor limit).
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as tls from "node:tls"
import {
  type AgentBehaviour,
  type AgentCredentials,
  type AgentRuntime,
  ConnectGate,
  SimAgent,
  STATE_CONNECTED,
  STATE_CONNECTING,
  STATE_ENROLLING,
  STATE_QUEUED,
  STATE_WAITING,
  StateCounts
} from "./agent.ts"
import type { RawSocketConfig } from "./rawSocket.ts"
import { RestClient } from "./rest.ts"
import { type WorkerReport, WorkerStats } from "./stats.ts"
import { TimerQueue, type Wakeable } from "./timers.ts"
import { decodeTokensFile } from "./tokens.ts"

/** Install codes handed out by global agent index: `uses` agents per code from `firstAgent` (0 = unlimited). */
export interface CodeGrant {
  readonly code: string
  readonly firstAgent: number
  readonly uses: number
}

export type CredentialSource =
  | { readonly kind: "tokens"; readonly file: string }
  | { readonly kind: "enroll"; readonly codes: ReadonlyArray<CodeGrant> }
  | { readonly kind: "anonymous" }

export interface WorkerInit {
  readonly type: "init"
  readonly worker: number
  readonly url: string
  readonly ca: string | null
  readonly rejectUnauthorized: boolean
  readonly localAddress: string | null
  /** Global index of this worker's first agent, and how many it runs. */
  readonly agentsFrom: number
  readonly agentsCount: number
  readonly hostnamePrefix: string
  readonly credentials: CredentialSource
  readonly behaviour: AgentBehaviour
  readonly connectConcurrency: number
  /** This worker's share of the fleet's ramp rate (agents started per second). */
  readonly rampPerSecond: number
  readonly restMaxSockets: number
  readonly reportMs: number
  /** Hard stop (ms epoch), whatever the parent says. */
  readonly deadlineAt: number
}

export type ParentMessage =
  | WorkerInit
  | { readonly type: "target"; readonly active: number }
  | { readonly type: "stop" }

export type WorkerMessage =
  | { readonly type: "ready"; readonly worker: number; readonly agents: number; readonly fdSoftLimit: number | null }
  | { readonly type: "fatal"; readonly worker: number; readonly message: string }
  | WorkerReport

/** `Max open files` soft limit of this process (Linux), or null. */
export const fdSoftLimit = (): number | null => {
  try {
    const line = fs.readFileSync("/proc/self/limits", "utf8").split("\n").find((l) => l.startsWith("Max open files"))
    const soft = line?.split(/\s{2,}/)[1]
    const n = Number(soft)
    return Number.isFinite(n) ? n : null
  } catch {
    return null
  }
}

const hostnameFor = (prefix: string, globalIndex: number) => `${prefix}-${String(globalIndex + 1).padStart(5, "0")}`

const send = (message: WorkerMessage) => {
  if (process.connected) process.send?.(message)
}

/** Starts agents toward the target at the ramp rate; stops surplus ones at once. */
class Ramp implements Wakeable {
  timerAt = Infinity
  target = 0
  private started = 0
  private credit = 0
  private lastAt = Date.now()
  private readonly agents: ReadonlyArray<SimAgent>
  private readonly timers: TimerQueue
  private readonly perSecond: number

  constructor(agents: ReadonlyArray<SimAgent>, timers: TimerQueue, perSecond: number) {
    this.agents = agents
    this.timers = timers
    this.perSecond = perSecond
  }

  setTarget(n: number): void {
    this.target = Math.max(0, Math.min(this.agents.length, Math.floor(n)))
    this.lastAt = Date.now()
    this.credit = Math.min(this.credit, 1)
    this.wake(this.lastAt)
  }

  wake(now: number): void {
    while (this.started > this.target) this.agents[--this.started]?.stop(true)
    if (this.started < this.target) {
      this.credit += ((now - this.lastAt) / 1000) * this.perSecond
      this.lastAt = now
      if (this.credit < 1 && this.started === 0) this.credit = 1
      while (this.credit >= 1 && this.started < this.target) {
        this.agents[this.started++]?.start()
        this.credit--
      }
      if (this.started < this.target) this.timers.schedule(this, now + 20)
    }
  }
}

const run = (init: WorkerInit) => {
  const timers = new TimerQueue()
  const stats = new WorkerStats()
  let uncaught = 0
  timers.onError = (error) => {
    stats.error("worker:timer_callback_threw")
    if (uncaught++ < 5) process.stderr.write(`simulator worker ${init.worker}: ${error instanceof Error ? error.stack : String(error)}\n`)
  }
  process.on("uncaughtException", (error) => {
    stats.error("worker:uncaught")
    if (uncaught++ < 5) process.stderr.write(`simulator worker ${init.worker}: ${error.stack ?? String(error)}\n`)
  })
  process.on("unhandledRejection", (reason) => {
    stats.error("worker:unhandled_rejection")
    if (uncaught++ < 5) process.stderr.write(`simulator worker ${init.worker}: ${String(reason)}\n`)
  })

  const secure = new URL(init.url).protocol === "https:" || new URL(init.url).protocol === "wss:"
  const socket: RawSocketConfig = {
    url: init.url,
    ...(secure ? { secureContext: tls.createSecureContext(init.ca !== null ? { ca: init.ca } : {}) } : {}),
    rejectUnauthorized: init.rejectUnauthorized,
    ...(init.localAddress !== null ? { localAddress: init.localAddress } : {})
  }

  // Credentials for this worker's slice.
  const credentials: Array<AgentCredentials> = []
  const c = init.credentials
  if (c.kind === "tokens") {
    const file = decodeTokensFile(fs.readFileSync(c.file, "utf8"))
    const slice = file.agents.slice(init.agentsFrom, init.agentsFrom + init.agentsCount)
    if (slice.length < init.agentsCount) throw new Error(`${c.file} holds ${file.agents.length} agents; need ${init.agentsFrom + init.agentsCount}`)
    for (const a of slice) {
      credentials.push({ guid: a.guid, hostname: a.hostname, accessToken: a.access_token, refreshToken: a.refresh_token, accessExpiresAt: a.access_expires_at * 1000 })
    }
  } else {
    for (let i = 0; i < init.agentsCount; i++) {
      const g = init.agentsFrom + i
      credentials.push({
        guid: c.kind === "anonymous" ? crypto.randomUUID().toUpperCase() : "",
        hostname: hostnameFor(init.hostnamePrefix, g),
        accessToken: undefined,
        refreshToken: undefined,
        accessExpiresAt: 0
      })
    }
  }
  const codes = c.kind === "enroll" ? c.codes : []
  const codeFor = (agentIndex: number): string | undefined => {
    const g = init.agentsFrom + agentIndex
    return codes.find((grant) => g >= grant.firstAgent && (grant.uses === 0 || g < grant.firstAgent + grant.uses))?.code
  }
  const needsRest = c.kind === "enroll" || init.behaviour.restHeartbeatMs > 0 || credentials.some((a) => a.refreshToken !== undefined)
  const rest = needsRest
    ? new RestClient({
      baseUrl: init.url,
      ...(init.ca !== null ? { ca: init.ca } : {}),
      rejectUnauthorized: init.rejectUnauthorized,
      maxSockets: init.restMaxSockets,
      ...(init.localAddress !== null ? { localAddress: init.localAddress } : {})
    })
    : undefined
  const screenshotRaw = Math.max(0, Math.floor((init.behaviour.screenshotBytes * 3) / 4))
  const counts = new StateCounts()
  const runtime: AgentRuntime = {
    behaviour: init.behaviour,
    socket,
    timers,
    stats,
    gate: new ConnectGate(init.connectConcurrency),
    rest,
    enrollment: c.kind === "enroll" ? { codeFor } : undefined,
    screenshot: crypto.randomBytes(screenshotRaw).toString("base64"),
    recordEvents: new Set(init.behaviour.recordEvents),
    counts
  }
  const agents = credentials.map((cred, i) => new SimAgent(i, runtime, cred))
  const ramp = new Ramp(agents, timers, Math.max(1, init.rampPerSecond))

  const gauges = () => ({
    active: counts.active,
    connected: counts.byState[STATE_CONNECTED] ?? 0,
    connecting: counts.byState[STATE_CONNECTING] ?? 0,
    waiting: (counts.byState[STATE_WAITING] ?? 0) + (counts.byState[STATE_QUEUED] ?? 0),
    enrolling: counts.byState[STATE_ENROLLING] ?? 0
  })
  const report = (done: boolean) => send(stats.drain(init.worker, gauges(), done))
  const reporter = setInterval(() => report(false), init.reportMs)

  let stopping = false
  const stop = async () => {
    if (stopping) return
    stopping = true
    clearInterval(reporter)
    ramp.setTarget(0)
    // Give graceful closes a moment (bounded), then leave.
    const until = Date.now() + 5_000
    while (Date.now() < until && agents.some((a) => a.isActive)) await new Promise((r) => setTimeout(r, 100))
    timers.stop()
    rest?.close()
    report(true)
    setTimeout(() => process.exit(0), 200).unref()
    process.disconnect?.()
  }
  const hardStop = setTimeout(() => void stop(), Math.max(0, init.deadlineAt - Date.now()))
  hardStop.unref()
  process.on("disconnect", () => {
    // Parent gone: nobody reads our reports; stop at once.
    stopping = true
    process.exit(0)
  })
  process.on("message", (message: ParentMessage) => {
    if (message.type === "target") ramp.setTarget(message.active)
    else if (message.type === "stop") void stop()
  })
  send({ type: "ready", worker: init.worker, agents: agents.length, fdSoftLimit: fdSoftLimit() })
}

if (process.send !== undefined) {
  process.once("message", (message: ParentMessage) => {
    if (message.type !== "init") return
    try {
      run(message)
    } catch (error) {
      send({ type: "fatal", worker: message.worker, message: error instanceof Error ? error.message : String(error) })
      setTimeout(() => process.exit(1), 100)
    }
  })
}
