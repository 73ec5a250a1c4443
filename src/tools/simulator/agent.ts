// One simulated Borealis agent: credentials, one raw Socket.IO connection, heartbeats, screenshots,
// reconnect with backoff, token refresh and (optionally) enrollment. Behaviour per
// realtime-jobs.md §1.4, §2.2, §2.3, §7 and auth-enrollment.md §8.
//
// Plain TypeScript on purpose: an agent is one small object (≈30 fields) whose every deadline lives in
// the worker's shared TimerQueue as a single entry; it is its own socket handler and timer target, so
// no closures or timers are allocated per agent or per heartbeat.
import type { RawSocketConfig } from "./rawSocket.ts"
import { type CloseInfo, RawSocketIoClient, type RawSocketHandlers } from "./rawSocket.ts"
import { composeAgentId, enroll, EnrollmentFailed, newAgentKey } from "./enroll.ts"
import { failureKind, field, type RestClient } from "./rest.ts"
import type { WorkerStats } from "./stats.ts"
import type { TimerQueue, Wakeable } from "./timers.ts"

export type AgentContext = "SYSTEM" | "CURRENTUSER"

/** How every agent of a worker behaves (JSON-safe: it travels to the worker in the init message). */
export interface AgentBehaviour {
  /** Socket heartbeat period (ms); 0 disables socket heartbeats. */
  readonly heartbeatMs: number
  /** ± fraction of jitter on every period (0.1 = ±10 %). */
  readonly jitter: number
  /** Send one heartbeat right after connecting (older agents do); else the first is at a random offset. */
  readonly heartbeatOnConnect: boolean
  /** Ask for an acknowledgement of `agent_heartbeat` and time it. */
  readonly heartbeatAck: boolean
  /** An ack not received within this is counted missing (ms). */
  readonly ackTimeoutMs: number
  /** Also `POST /api/agent/heartbeat` every `restHeartbeatMs` (0 = off). */
  readonly restHeartbeatMs: number
  /** `agent_screenshot_task` every this many ms (0 = off). */
  readonly screenshotMs: number
  /** Size of the fake base64 image in bytes (shared string). */
  readonly screenshotBytes: number
  readonly context: AgentContext
  readonly operatingSystem: string
  readonly backoffInitialMs: number
  readonly backoffMaxMs: number
  /** Refresh the access token when fewer than this many ms remain (agents: 60 s). */
  readonly refreshBeforeMs: number
  /** Answer `quick_job_run` addressed to this host with a `quick_job_result` Success. */
  readonly answerJobs: boolean
  /** Event names whose receipt is reported to the parent with a timestamp. */
  readonly recordEvents: ReadonlyArray<string>
  /** Enrollment: fixed poll interval override (ms), or undefined for the Python agent's pacing. */
  readonly enrollPollMs?: number
  readonly enrollMaxWaitMs: number
}

export const DEFAULT_BEHAVIOUR: AgentBehaviour = {
  heartbeatMs: 60_000,
  jitter: 0.1,
  heartbeatOnConnect: false,
  heartbeatAck: true,
  ackTimeoutMs: 30_000,
  restHeartbeatMs: 0,
  screenshotMs: 0,
  screenshotBytes: 2_048,
  context: "SYSTEM",
  operatingSystem: "Microsoft Windows 11 Pro 24H2 (simulated)",
  backoffInitialMs: 1_000,
  backoffMaxMs: 30_000,
  refreshBeforeMs: 60_000,
  answerJobs: false,
  recordEvents: [],
  enrollMaxWaitMs: 600_000
}

/** Credentials an agent starts with (pre-seeded) or obtains (enrollment). */
export interface AgentCredentials {
  readonly guid: string
  readonly hostname: string
  readonly accessToken: string | undefined
  readonly refreshToken: string | undefined
  /** ms epoch */
  readonly accessExpiresAt: number
}

/** Limits concurrent websocket handshakes per worker; waiting agents connect in FIFO order. */
export class ConnectGate {
  readonly max: number
  inFlight = 0
  private readonly queue: Array<SimAgent> = []
  private head = 0

  constructor(max: number) {
    this.max = Math.max(1, max)
  }

  get waiting(): number {
    return this.queue.length - this.head
  }

  /** True: go now. False: queued; `agent.beginConnect()` is called when a slot frees. */
  acquire(agent: SimAgent): boolean {
    if (this.inFlight < this.max) {
      this.inFlight++
      return true
    }
    this.queue.push(agent)
    return false
  }

  release(): void {
    this.inFlight = Math.max(0, this.inFlight - 1)
    while (this.inFlight < this.max && this.head < this.queue.length) {
      const next = this.queue[this.head]
      this.queue[this.head] = undefined as never // let it be collected while the array is compacted lazily
      this.head++
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue.splice(0, this.head)
        this.head = 0
      }
      if (next !== undefined && next.wantsSlot()) {
        this.inFlight++
        next.beginConnect()
      }
    }
  }
}

/** Everything agents of one worker share. */
export interface AgentRuntime {
  readonly behaviour: AgentBehaviour
  readonly socket: RawSocketConfig
  readonly timers: TimerQueue
  readonly stats: WorkerStats
  readonly gate: ConnectGate
  /** REST pool; undefined when neither REST heartbeats, refresh nor enrollment are possible. */
  readonly rest: RestClient | undefined
  /** Present when agents may (re-)enroll: the install code each agent uses. */
  readonly enrollment: { readonly codeFor: (agentIndex: number) => string | undefined } | undefined
  /** Shared fake screenshot (base64). */
  readonly screenshot: string
  readonly recordEvents: ReadonlySet<string>
  readonly counts: StateCounts
}

export const STATE_IDLE = 0
export const STATE_ENROLLING = 1
export const STATE_WAITING = 2 // backoff before reconnect, or token refresh before connecting
export const STATE_QUEUED = 3 // waiting for a connect slot
export const STATE_CONNECTING = 4
export const STATE_CONNECTED = 5
type AgentState = 0 | 1 | 2 | 3 | 4 | 5

/** Agents per state, kept exactly by every transition (the gauges of a report). */
export class StateCounts {
  readonly byState = [0, 0, 0, 0, 0, 0]
  move(from: AgentState, to: AgentState): void {
    this.byState[from] = (this.byState[from] ?? 0) - 1
    this.byState[to] = (this.byState[to] ?? 0) + 1
  }
  get active(): number {
    return this.byState.reduce((a, b) => a + b, 0) - (this.byState[STATE_IDLE] ?? 0)
  }
}

const jittered = (ms: number, fraction: number): number => Math.round(ms * (1 - fraction + 2 * fraction * Math.random()))
const randomBelow = (ms: number): number => Math.floor(Math.random() * ms)

const closeLabel = (info: CloseInfo): string =>
  info.kind === "handshake_http" && info.status !== undefined ? `handshake_http_${info.status}` : info.kind

const JOB_TARGETS_ANY = new Set(["", "unknown", "*", "(unknown)"])

export class SimAgent implements RawSocketHandlers, Wakeable {
  timerAt = Infinity
  readonly index: number
  private readonly rt: AgentRuntime
  guid: string
  hostname: string
  agentId: string
  private accessToken: string | undefined
  private refreshToken: string | undefined
  private accessExpiresAt: number
  private state: AgentState = STATE_IDLE
  private client: RawSocketIoClient | undefined
  private attempt = 0
  private reconnectAt = 0
  private nextHeartbeatAt = Infinity
  private nextRestHeartbeatAt = Infinity
  private nextScreenshotAt = Infinity
  private heartbeatAckId = -1
  private heartbeatSentAt = 0
  private refreshing = false
  private refreshRetryAt = 0
  private restBusy = false
  private needsRefresh = false

  constructor(index: number, rt: AgentRuntime, credentials: AgentCredentials) {
    this.index = index
    this.rt = rt
    this.guid = credentials.guid
    this.hostname = credentials.hostname
    this.agentId = composeAgentId(credentials.hostname, credentials.guid, rt.behaviour.context)
    this.accessToken = credentials.accessToken
    this.refreshToken = credentials.refreshToken
    this.accessExpiresAt = credentials.accessExpiresAt
    rt.counts.byState[STATE_IDLE] = (rt.counts.byState[STATE_IDLE] ?? 0) + 1
  }

  get isActive(): boolean {
    return this.state !== STATE_IDLE
  }

  get isConnected(): boolean {
    return this.state === STATE_CONNECTED
  }

  /** Bring the agent online (enrolling first when it has no token and enrollment is configured). */
  start(): void {
    if (this.state !== STATE_IDLE) return
    this.attempt = 0
    if (this.accessToken === undefined && this.rt.enrollment !== undefined) this.beginEnroll()
    else this.connectOrRefresh(Date.now())
  }

  /** Take the agent offline; it may be started again. */
  stop(graceful = true): void {
    if (this.state === STATE_IDLE) return
    // onClose ignores a client we dropped, so give back the handshake slot here.
    if (this.state === STATE_CONNECTING) this.rt.gate.release()
    if (this.heartbeatAckId >= 0) this.rt.stats.count("heartbeat_acks_lost")
    this.heartbeatAckId = -1
    this.setState(STATE_IDLE)
    this.rt.timers.cancel(this)
    const client = this.client
    this.client = undefined
    client?.close(graceful)
  }

  /** The gate asks whether a queued agent still wants its slot. */
  wantsSlot(): boolean {
    return this.state === STATE_QUEUED
  }

  beginConnect(): void {
    const now = Date.now()
    this.setState(STATE_CONNECTING)
    const headers: Record<string, string> = { "X-Borealis-Agent-Context": this.rt.behaviour.context }
    if (this.accessToken !== undefined) headers["Authorization"] = `Bearer ${this.accessToken}`
    const client = new RawSocketIoClient(this.rt.socket, this)
    this.client = client
    client.open(headers, now)
    if (this.client === client) this.rt.timers.schedule(this, client.deadline())
  }

  // --- socket handlers -------------------------------------------------------------------------

  onConnect(client: RawSocketIoClient): void {
    if (client !== this.client) return
    const now = Date.now()
    this.rt.gate.release()
    this.setState(STATE_CONNECTED)
    this.attempt = 0
    const stats = this.rt.stats
    stats.count("connects")
    stats.latency("connect_ms", now - client.startedAt)
    const b = this.rt.behaviour
    // Every (re)connect announces the agent and asks for its config (realtime §7 item 2).
    client.emit("connect_agent", { agent_id: this.agentId, hostname: this.hostname, service_mode: b.context === "SYSTEM" ? "system" : "currentuser" })
    client.emit("request_config", { agent_id: this.agentId })
    this.heartbeatAckId = -1
    this.nextHeartbeatAt = b.heartbeatMs <= 0 ? Infinity : now + (b.heartbeatOnConnect ? 0 : randomBelow(b.heartbeatMs))
    this.nextScreenshotAt = b.screenshotMs <= 0 ? Infinity : now + randomBelow(b.screenshotMs)
    if (b.restHeartbeatMs > 0 && this.rt.rest !== undefined && this.nextRestHeartbeatAt === Infinity) {
      this.nextRestHeartbeatAt = now + randomBelow(b.restHeartbeatMs)
    }
    this.reschedule(now)
  }

  onEvent(client: RawSocketIoClient, name: string, args: ReadonlyArray<unknown>, ackId: number | undefined): void {
    if (client !== this.client) return
    const stats = this.rt.stats
    stats.count(`event:${name.slice(0, 40)}`)
    const payload = args[0]
    if (this.rt.recordEvents.has(name)) {
      const key = field(payload, "job_id") ?? field(payload, "run_id") ?? field(payload, "activity_id")
      stats.event({ name, agent: this.index, at: Date.now(), key: key === undefined || key === null ? null : String(key) })
    }
    if (name === "quick_job_run" && this.rt.behaviour.answerJobs) this.answerJob(client, payload)
    if (ackId !== undefined) client.ack(ackId)
  }

  onAck(client: RawSocketIoClient, id: number, args: ReadonlyArray<unknown>): void {
    if (client !== this.client) return
    if (id === this.heartbeatAckId) {
      this.rt.stats.latency("heartbeat_ack_ms", Date.now() - this.heartbeatSentAt)
      this.rt.stats.count("heartbeat_acks")
      // An ack that carries `{error}` (e.g. a refused agent_id) is timed but also counted by code.
      const error = field(args[0], "error")
      if (typeof error === "string") this.rt.stats.error(`heartbeat_ack:${error.slice(0, 40)}`)
      this.heartbeatAckId = -1
    } else {
      this.rt.stats.count("acks_unmatched")
    }
  }

  onClose(client: RawSocketIoClient, info: CloseInfo): void {
    if (client !== this.client) return
    this.client = undefined
    const stats = this.rt.stats
    const now = Date.now()
    if (this.heartbeatAckId >= 0) stats.count("heartbeat_acks_lost")
    this.heartbeatAckId = -1
    if (this.state === STATE_CONNECTING) {
      this.rt.gate.release()
      stats.error(`connect:${closeLabel(info)}`)
    } else if (this.state === STATE_CONNECTED) {
      stats.count("disconnects")
      stats.error(`drop:${closeLabel(info)}`)
    }
    if (this.state === STATE_IDLE) return
    // Refused credentials: refresh before the next attempt (a real agent refreshes, then re-enrolls on
    // 401). The Engine refuses a websocket handshake with 400 and its reason (e.g. token_expired).
    if ((info.kind === "handshake_http" && (info.status === 400 || info.status === 401)) || info.kind === "connect_error") this.needsRefresh = true
    this.scheduleReconnect(now)
  }

  // --- timer -----------------------------------------------------------------------------------

  wake(now: number): void {
    switch (this.state) {
      case STATE_WAITING:
        if (now >= this.reconnectAt) {
          this.connectOrRefresh(now)
          return
        }
        break
      case STATE_CONNECTING:
        this.client?.checkDeadline(now)
        if (this.state !== STATE_CONNECTING) return
        break
      case STATE_CONNECTED:
        this.tickConnected(now)
        if (this.state !== STATE_CONNECTED) return
        break
      default:
        return
    }
    this.reschedule(now)
  }

  private tickConnected(now: number): void {
    const client = this.client
    if (client === undefined || client.checkDeadline(now)) return
    const b = this.rt.behaviour
    const stats = this.rt.stats
    if (this.heartbeatAckId >= 0 && now - this.heartbeatSentAt >= b.ackTimeoutMs) {
      stats.count("heartbeat_acks_missing")
      this.heartbeatAckId = -1
    }
    if (now >= this.nextHeartbeatAt) {
      if (this.heartbeatAckId >= 0) stats.count("heartbeat_acks_missing") // superseded before its timeout
      const payload = { agent_id: this.agentId, hostname: this.hostname, agent_operating_system: b.operatingSystem, last_seen: Math.floor(now / 1000) }
      if (b.heartbeatAck) {
        this.heartbeatAckId = client.emitWithAck("agent_heartbeat", payload)
        this.heartbeatSentAt = now
      } else {
        this.heartbeatAckId = -1
        client.emit("agent_heartbeat", payload)
      }
      stats.count("heartbeats")
      this.nextHeartbeatAt = now + jittered(b.heartbeatMs, b.jitter)
    }
    if (now >= this.nextScreenshotAt) {
      client.emit("agent_screenshot_task", {
        agent_id: this.agentId,
        node_id: "sim-node-1",
        image_base64: this.rt.screenshot,
        x: 0,
        y: 0,
        w: 640,
        h: 480,
        timestamp: Math.floor(now / 1000)
      })
      stats.count("screenshots")
      this.nextScreenshotAt = now + jittered(b.screenshotMs, b.jitter)
    }
    if (now >= this.nextRestHeartbeatAt) {
      this.nextRestHeartbeatAt = now + jittered(b.restHeartbeatMs, b.jitter)
      this.restHeartbeat()
    }
    if (this.shouldRefresh(now)) void this.refresh()
  }

  private reschedule(now: number): void {
    let at = Infinity
    switch (this.state) {
      case STATE_WAITING:
        at = this.reconnectAt
        break
      case STATE_CONNECTING:
        at = this.client?.deadline() ?? Infinity
        break
      case STATE_CONNECTED: {
        at = Math.min(this.nextHeartbeatAt, this.nextScreenshotAt, this.nextRestHeartbeatAt, this.client?.deadline() ?? Infinity)
        if (this.heartbeatAckId >= 0) at = Math.min(at, this.heartbeatSentAt + this.rt.behaviour.ackTimeoutMs)
        at = Math.min(at, this.refreshDueAt())
        break
      }
      default:
        return
    }
    if (at !== Infinity) this.rt.timers.schedule(this, Math.max(at, now))
  }

  // --- connection lifecycle ----------------------------------------------------------------------

  private setState(next: AgentState): void {
    if (next === this.state) return
    this.rt.counts.move(this.state, next)
    this.state = next
  }

  /** When the access token should be refreshed (Infinity while a refresh runs or none is possible). */
  private refreshDueAt(): number {
    if (this.refreshing || this.refreshToken === undefined || this.rt.rest === undefined) return Infinity
    return Math.max(this.refreshRetryAt, this.accessExpiresAt - this.rt.behaviour.refreshBeforeMs)
  }

  private shouldRefresh(now: number): boolean {
    return now >= this.refreshDueAt()
  }

  private connectOrRefresh(now: number): void {
    if (this.accessToken === undefined && this.rt.enrollment !== undefined && this.refreshToken === undefined) {
      this.beginEnroll()
      return
    }
    if ((this.needsRefresh || this.shouldRefresh(now)) && this.refreshToken !== undefined && this.rt.rest !== undefined) {
      this.setState(STATE_WAITING)
      this.reconnectAt = Infinity
      void this.refresh().then((ok) => {
        if (this.state !== STATE_WAITING) return
        if (ok || this.accessToken !== undefined) this.queueConnect()
        else if (this.rt.enrollment !== undefined) this.beginEnroll()
        else this.scheduleReconnect(Date.now())
      })
      return
    }
    this.queueConnect()
  }

  private queueConnect(): void {
    this.needsRefresh = false
    this.setState(STATE_QUEUED)
    if (this.rt.gate.acquire(this)) this.beginConnect()
  }

  private scheduleReconnect(now: number): void {
    this.attempt++
    const b = this.rt.behaviour
    const base = Math.min(b.backoffMaxMs, b.backoffInitialMs * Math.pow(2, Math.min(this.attempt - 1, 30)))
    // "Equal jitter": half fixed, half random, so a restarted server is not hit by one synchronized wave.
    this.reconnectAt = now + Math.round(base / 2) + randomBelow(base / 2)
    this.setState(STATE_WAITING)
    this.rt.timers.schedule(this, this.reconnectAt)
  }

  // --- REST -----------------------------------------------------------------------------------

  private authHeaders(): Record<string, string> {
    const h: Record<string, string> = { "X-Borealis-Agent-Context": this.rt.behaviour.context }
    if (this.accessToken !== undefined) h["Authorization"] = `Bearer ${this.accessToken}`
    return h
  }

  /** `POST /api/agent/token/refresh {guid, refresh_token}`; true on a new access token. */
  private async refresh(): Promise<boolean> {
    const rest = this.rt.rest
    if (this.refreshing || rest === undefined || this.refreshToken === undefined) return false
    this.refreshing = true
    const stats = this.rt.stats
    const t0 = performance.now()
    try {
      // Agents send the old token and context too; the server ignores both (auth-enrollment §1.3).
      const reply = await rest.post("/api/agent/token/refresh", { guid: this.guid, refresh_token: this.refreshToken }, this.authHeaders())
      stats.latency("refresh_ms", performance.now() - t0)
      const token = field(reply.json, "access_token")
      if (reply.status === 200 && typeof token === "string") {
        const expiresIn = field(reply.json, "expires_in")
        this.accessToken = token
        // Both agents store now + expires_in − 5 s (§8).
        const now = Date.now()
        this.accessExpiresAt = now + ((typeof expiresIn === "number" && expiresIn > 0 ? expiresIn : 900) - 5) * 1000
        // A lifetime shorter than the refresh margin must not turn into a refresh loop.
        if (this.accessExpiresAt - now < this.rt.behaviour.refreshBeforeMs) this.refreshRetryAt = now + 30_000
        stats.count("refreshes")
        return true
      }
      stats.error(`refresh:${failureKind(reply)}`)
      this.refreshRetryAt = Date.now() + 30_000
      if (reply.status === 401) {
        // The Python agent wipes its credentials on a 401 refresh and re-enrolls (§8).
        if (this.rt.enrollment !== undefined) {
          this.accessToken = undefined
          this.refreshToken = undefined
        }
      }
      return false
    } catch (error) {
      stats.error(`refresh:${failureKind(error)}`)
      this.refreshRetryAt = Date.now() + 30_000
      return false
    } finally {
      this.refreshing = false
      if (this.state === STATE_CONNECTED) this.reschedule(Date.now())
    }
  }

  private restHeartbeat(): void {
    const rest = this.rt.rest
    if (rest === undefined || this.restBusy || this.accessToken === undefined) return
    this.restBusy = true
    const stats = this.rt.stats
    const t0 = performance.now()
    const body = {
      guid: this.guid,
      hostname: this.hostname,
      metrics: {
        service_mode: this.rt.behaviour.context === "SYSTEM" ? "system" : "currentuser",
        uptime: Math.floor(process.uptime()),
        hostname: this.hostname,
        username: this.rt.behaviour.context === "SYSTEM" ? "SYSTEM" : "simuser",
        cpu_percent: 3.5,
        memory_percent: 41.2
      }
    }
    rest.post("/api/agent/heartbeat", body, this.authHeaders()).then(
      (reply) => {
        stats.latency("rest_heartbeat_ms", performance.now() - t0)
        if (reply.status === 200) stats.count("rest_heartbeats")
        else stats.error(`rest_heartbeat:${failureKind(reply)}`)
      },
      (error: unknown) => stats.error(`rest_heartbeat:${failureKind(error)}`)
    ).finally(() => {
      this.restBusy = false
    })
  }

  private beginEnroll(): void {
    const rest = this.rt.rest
    const code = this.rt.enrollment?.codeFor(this.index)
    if (rest === undefined || code === undefined) {
      this.rt.stats.error("enroll:no_install_code")
      this.setState(STATE_IDLE)
      return
    }
    this.setState(STATE_ENROLLING)
    const stats = this.rt.stats
    const b = this.rt.behaviour
    const t0 = performance.now()
    void enroll(rest, {
      hostname: this.hostname,
      enrollmentCode: code,
      context: b.context,
      key: newAgentKey(), // held only while enrolling; refresh needs no key
      ...(b.enrollPollMs !== undefined ? { pollIntervalMs: b.enrollPollMs } : {}),
      maxWaitMs: b.enrollMaxWaitMs,
      sleep: (ms) => this.rt.timers.sleep(ms),
      onCall: (ms) => stats.latency("enroll_call_ms", ms),
      isCancelled: () => this.state !== STATE_ENROLLING
    }).then(
      (tokens) => {
        if (this.state !== STATE_ENROLLING) return
        stats.latency("enroll_ms", performance.now() - t0)
        stats.count("enrollments")
        this.guid = tokens.guid.toUpperCase()
        this.agentId = composeAgentId(this.hostname, this.guid, b.context)
        this.accessToken = tokens.accessToken
        this.refreshToken = tokens.refreshToken
        this.accessExpiresAt = Date.now() + (tokens.expiresIn - 5) * 1000
        this.queueConnect()
      },
      (error: unknown) => {
        if (this.state !== STATE_ENROLLING) return
        stats.error(`enroll:${error instanceof EnrollmentFailed ? error.kind : failureKind(error)}`)
        // Retry later, as the agents do; each attempt starts a fresh request.
        this.scheduleReconnect(Date.now())
      }
    )
  }

  private answerJob(client: RawSocketIoClient, payload: unknown): void {
    const target = field(payload, "target_hostname")
    const targetName = typeof target === "string" ? target.trim().toLowerCase() : ""
    if (!JOB_TARGETS_ANY.has(targetName) && targetName !== this.hostname.toLowerCase()) return
    const jobId = field(payload, "job_id")
    const context = field(payload, "context")
    client.emit("quick_job_result", {
      job_id: jobId,
      status: "Success",
      stdout: `simulated run on ${this.hostname}\n`,
      stderr: "",
      ...(context === undefined ? {} : { context })
    })
    this.rt.stats.count("job_results")
  }
}
