// Command-line options of `npm run simulate`: parsed and checked here (pure), used by simulate.ts.
import * as fs from "node:fs"
import * as path from "node:path"
import { parseArgs } from "node:util"
import type { AgentBehaviour, AgentContext } from "./agent.ts"
import type { FleetCredentials, FleetOptions } from "./fleet.ts"
import { MAX_AGENTS, MAX_WORKERS } from "./fleet.ts"
import { assertLoopbackUrl } from "./loopback.ts"
import type { SeedOptions } from "./seed.ts"

export class UsageError extends Error {
  override readonly name = "UsageError"
}

export const USAGE = `Usage:
  npm run simulate -- --url <base> --agents <N> [options]      run simulated agents
  npm run simulate -- seed --root <dir> --agents <N> --out <file> [--prefix SIM] [--token-ttl 900]

Run options (loopback URLs only):
  --url URL                Engine base URL, e.g. https://127.0.0.1:5000
  --agents N               number of simulated agents (1..${MAX_AGENTS})
  --duration S             stop after S seconds (default 60)
  credentials (one of):
    --tokens FILE          pre-seeded tokens (from "seed")
    --enroll               enroll each agent over REST; needs --install-code or --operator
      --install-code CODE  one code for every agent
      --operator U:P       operator login (creates install codes if no --install-code)
      --auto-approve       approve this run's pending enrollments with the operator login
      --enroll-poll-ms MS  fixed poll interval (default: the Python agent's pacing)
    --anonymous            no token (servers with BOREALIS_SOCKET_ALLOW_ANONYMOUS=true)
  --ca FILE | --root DIR   CA to trust (DIR: <DIR>/Certificates/Server/borealis-root-ca.pem)
  --heartbeat S            socket heartbeat period (default 60; 0 = none), acked and timed
  --jitter F               ± jitter fraction on every period (default 0.1)
  --heartbeat-on-connect   send a heartbeat right after connecting
  --no-heartbeat-ack       do not ask for heartbeat acks
  --ack-timeout S          count an ack as missing after S seconds (default 30)
  --rest-heartbeat S       also POST /api/agent/heartbeat every S seconds (default 0 = off)
  --screenshot S           agent_screenshot_task every S seconds (default 0 = off)
  --screenshot-bytes B     size of the fake base64 frame (default 2048)
  --context SYSTEM|CURRENTUSER   agent context (default SYSTEM)
  --backoff-initial MS / --backoff-max MS   reconnect backoff (default 1000 / 30000)
  --workers N              worker processes (default: one per 5000 agents, ≥2 from 1000)
  --ramp N                 agents started per second (default 1000)
  --connect-concurrency N  handshakes in flight per worker (default 64)
  --prefix NAME            hostname prefix for enrolled/anonymous agents (default SIM)
  --answer-jobs            answer quick_job_run with a Success quick_job_result
  --record-events a,b      report receipt times of these events
  --report S               print a status line every S seconds (default 10)
  --json FILE              write the final report as JSON
`

const numberOption = (raw: string | undefined, name: string, min: number, max: number, fallback: number): number => {
  if (raw === undefined) return fallback
  const n = Number(raw)
  if (!Number.isFinite(n) || n < min || n > max) throw new UsageError(`--${name} must be a number in ${min}..${max} (got ${JSON.stringify(raw)})`)
  return n
}

const intOption = (raw: string | undefined, name: string, min: number, max: number, fallback: number): number => {
  const n = numberOption(raw, name, min, max, fallback)
  if (!Number.isInteger(n)) throw new UsageError(`--${name} must be an integer`)
  return n
}

const contextOption = (raw: string | undefined): AgentContext => {
  const v = (raw ?? "SYSTEM").toUpperCase()
  if (v !== "SYSTEM" && v !== "CURRENTUSER") throw new UsageError("--context must be SYSTEM or CURRENTUSER")
  return v
}

/** CA file under an Engine project root. */
export const rootCaFile = (root: string): string => path.join(root, "Certificates", "Server", "borealis-root-ca.pem")

export interface RunOptions {
  readonly fleet: FleetOptions
  readonly reportSeconds: number
  readonly jsonFile: string | undefined
}

export const parseRunArgs = (argv: ReadonlyArray<string>): RunOptions => {
  const { values } = parseArgs({
    args: [...argv],
    allowPositionals: false,
    options: {
      url: { type: "string" },
      agents: { type: "string" },
      duration: { type: "string" },
      tokens: { type: "string" },
      enroll: { type: "boolean" },
      "install-code": { type: "string" },
      operator: { type: "string" },
      "auto-approve": { type: "boolean" },
      "enroll-poll-ms": { type: "string" },
      anonymous: { type: "boolean" },
      ca: { type: "string" },
      root: { type: "string" },
      heartbeat: { type: "string" },
      jitter: { type: "string" },
      "heartbeat-on-connect": { type: "boolean" },
      "no-heartbeat-ack": { type: "boolean" },
      "ack-timeout": { type: "string" },
      "rest-heartbeat": { type: "string" },
      screenshot: { type: "string" },
      "screenshot-bytes": { type: "string" },
      context: { type: "string" },
      "backoff-initial": { type: "string" },
      "backoff-max": { type: "string" },
      workers: { type: "string" },
      ramp: { type: "string" },
      "connect-concurrency": { type: "string" },
      prefix: { type: "string" },
      "answer-jobs": { type: "boolean" },
      "record-events": { type: "string" },
      report: { type: "string" },
      json: { type: "string" }
    }
  })
  if (values.url === undefined) throw new UsageError("--url is required")
  assertLoopbackUrl(values.url)
  if (values.agents === undefined) throw new UsageError("--agents is required")
  const agents = intOption(values.agents, "agents", 1, MAX_AGENTS, 0)
  const durationS = numberOption(values.duration, "duration", 1, 24 * 3600, 60)
  const modes = [values.tokens !== undefined, values.enroll === true, values.anonymous === true].filter(Boolean).length
  if (modes !== 1) throw new UsageError("choose exactly one of --tokens FILE, --enroll, --anonymous")
  let credentials: FleetCredentials
  if (values.tokens !== undefined) credentials = { kind: "tokens", file: path.resolve(values.tokens) }
  else if (values.enroll === true) {
    let operator: { username: string; password: string } | undefined
    if (values.operator !== undefined) {
      const colon = values.operator.indexOf(":")
      if (colon <= 0) throw new UsageError("--operator must be USER:PASSWORD")
      operator = { username: values.operator.slice(0, colon), password: values.operator.slice(colon + 1) }
    }
    if (values["install-code"] === undefined && operator === undefined) throw new UsageError("--enroll needs --install-code or --operator")
    if (values["auto-approve"] === true && operator === undefined) throw new UsageError("--auto-approve needs --operator")
    credentials = {
      kind: "enroll",
      ...(values["install-code"] !== undefined ? { installCode: values["install-code"] } : {}),
      ...(operator !== undefined ? { operator } : {}),
      autoApprove: values["auto-approve"] === true
    }
  } else credentials = { kind: "anonymous" }

  let ca: string | undefined
  const caFile = values.ca ?? (values.root !== undefined ? rootCaFile(values.root) : undefined)
  if (caFile !== undefined) {
    try {
      ca = fs.readFileSync(caFile, "utf8")
    } catch (error) {
      throw new UsageError(`cannot read CA ${caFile}: ${error instanceof Error ? error.message : String(error)}`)
    }
  }
  const enrollPoll = values["enroll-poll-ms"]
  const behaviour: Partial<AgentBehaviour> = {
    heartbeatMs: numberOption(values.heartbeat, "heartbeat", 0, 3600, 60) * 1000,
    jitter: numberOption(values.jitter, "jitter", 0, 0.9, 0.1),
    heartbeatOnConnect: values["heartbeat-on-connect"] === true,
    heartbeatAck: values["no-heartbeat-ack"] !== true,
    ackTimeoutMs: numberOption(values["ack-timeout"], "ack-timeout", 0.1, 600, 30) * 1000,
    restHeartbeatMs: numberOption(values["rest-heartbeat"], "rest-heartbeat", 0, 3600, 0) * 1000,
    screenshotMs: numberOption(values.screenshot, "screenshot", 0, 3600, 0) * 1000,
    screenshotBytes: intOption(values["screenshot-bytes"], "screenshot-bytes", 0, 64 * 1024 * 1024, 2048),
    context: contextOption(values.context),
    backoffInitialMs: intOption(values["backoff-initial"], "backoff-initial", 10, 600_000, 1000),
    backoffMaxMs: intOption(values["backoff-max"], "backoff-max", 10, 3_600_000, 30_000),
    answerJobs: values["answer-jobs"] === true,
    recordEvents: (values["record-events"] ?? "").split(",").map((s) => s.trim()).filter((s) => s !== ""),
    ...(enrollPoll !== undefined ? { enrollPollMs: intOption(enrollPoll, "enroll-poll-ms", 10, 60_000, 1000) } : {})
  }
  const workers = values.workers === undefined ? undefined : intOption(values.workers, "workers", 1, MAX_WORKERS, 1)
  const fleet: FleetOptions = {
    url: values.url,
    ...(ca !== undefined ? { ca } : {}),
    agents,
    ...(workers !== undefined ? { workers } : {}),
    credentials,
    behaviour,
    rampPerSecond: numberOption(values.ramp, "ramp", 1, 100_000, 1000),
    connectConcurrency: intOption(values["connect-concurrency"], "connect-concurrency", 1, 10_000, 64),
    durationMs: durationS * 1000,
    ...(values.prefix !== undefined ? { hostnamePrefix: values.prefix } : {})
  }
  return {
    fleet,
    reportSeconds: numberOption(values.report, "report", 0.5, 3600, 10),
    jsonFile: values.json === undefined ? undefined : path.resolve(values.json)
  }
}

export const parseSeedArgs = (argv: ReadonlyArray<string>): SeedOptions & { readonly out: string } => {
  const { values } = parseArgs({
    args: [...argv],
    allowPositionals: false,
    options: {
      root: { type: "string" },
      agents: { type: "string" },
      out: { type: "string" },
      prefix: { type: "string" },
      "token-ttl": { type: "string" },
      "no-refresh-tokens": { type: "boolean" },
      context: { type: "string" }
    }
  })
  if (values.root === undefined) throw new UsageError("seed: --root is required")
  if (values.out === undefined) throw new UsageError("seed: --out is required")
  if (values.agents === undefined) throw new UsageError("seed: --agents is required")
  return {
    root: path.resolve(values.root),
    agents: intOption(values.agents, "agents", 1, 100_000, 0),
    out: path.resolve(values.out),
    ...(values.prefix !== undefined ? { hostnamePrefix: values.prefix } : {}),
    tokenTtlSeconds: intOption(values["token-ttl"], "token-ttl", 60, 30 * 24 * 3600, 900),
    refreshTokens: values["no-refresh-tokens"] !== true,
    context: contextOption(values.context)
  }
}
