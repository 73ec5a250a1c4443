// npm run bench:connections [-- options]
//
// Idle-connection scale of the Engine (issue 6, "Benchmark"): for plain HTTP (BOREALIS_TLS_ENABLED=false,
// as behind a TLS-terminating proxy) and in-process TLS, start `node src/main.ts` on a temp root and a
// loopback port (fd limit raised to 20,000), seed devices and tokens, ramp simulated agents in steps with
// jittered 60 s heartbeats, and at each step measure the Engine's RSS per connected agent above its
// idle baseline, its CPU at steady state and the heartbeat ack round trip. Then SIGTERM the Engine,
// start it again on the same root and port, and time how long until every agent is back (counting 5xx
// and other handshake errors). Prints the figures and writes bench/results/connections-*.json.
//
// Quick default (a few minutes): steps 1000,5000, settle 10 s, measure 20 s, both modes.
// Full run:  npm run bench:connections -- --steps 1000,5000,10000,19000 --settle 30 --measure 60
import * as fs from "node:fs"
import { parseArgs } from "node:util"
import { Fleet } from "../src/tools/simulator/fleet.ts"
import { runSeed } from "../src/tools/simulator/seed.ts"
import type { StatsWindow } from "../src/tools/simulator/stats.ts"
import {
  codeVersion,
  cpuSeconds,
  type EngineProcess,
  machine,
  median,
  openFds,
  round,
  sampleRss,
  sleep,
  startEngineProcess,
  table,
  tempRoot,
  installAbort,
  writeResult
} from "./support/engineProcess.ts"

/** The Engine may hold 20,000 fds; keep room for its own files and the listening socket. */
const MAX_AGENTS = 19_500

const { values } = parseArgs({
  options: {
    steps: { type: "string", default: "1000,5000" },
    modes: { type: "string", default: "plain,tls" },
    settle: { type: "string", default: "10" },
    measure: { type: "string", default: "20" },
    heartbeat: { type: "string", default: "60" },
    ramp: { type: "string", default: "1000" },
    workers: { type: "string" },
    "connect-concurrency": { type: "string", default: "64" },
    "restart-timeout": { type: "string" },
    "no-restart": { type: "boolean", default: false },
    "max-minutes": { type: "string", default: "45" },
    "keep-root": { type: "boolean", default: false },
    help: { type: "boolean", default: false }
  }
})

if (values.help) {
  process.stdout.write(
    "npm run bench:connections -- [--steps 1000,5000] [--modes plain,tls,bare-plain,bare-tls] [--settle S] [--measure S] [--heartbeat S]\n" +
      "  [--ramp agents/s] [--workers N] [--connect-concurrency N] [--restart-timeout S] [--no-restart] [--max-minutes M] [--keep-root]\n"
  )
  process.exit(0)
}

const positive = (name: string, raw: string | undefined, max: number): number => {
  const n = Number(raw)
  if (!Number.isFinite(n) || n <= 0 || n > max) {
    process.stderr.write(`bench:connections: --${name} must be in (0, ${max}]\n`)
    process.exit(2)
  }
  return n
}

const steps = (values.steps ?? "").split(",").map((s) => Math.floor(positive("steps", s.trim(), MAX_AGENTS)))
const sortedSteps = [...steps].sort((a, b) => a - b)
type Mode = "plain" | "tls" | "bare-plain" | "bare-tls"
const MODES: ReadonlyArray<Mode> = ["plain", "tls", "bare-plain", "bare-tls"]
const isMode = (m: string): m is Mode => (MODES as ReadonlyArray<string>).includes(m)
const modes: Array<Mode> = []
for (const m of (values.modes ?? "").split(",").map((x) => x.trim())) {
  if (!isMode(m)) {
    process.stderr.write(`bench:connections: --modes takes ${MODES.join(", ")} (bare-*: a bare socket.io server, the library's own cost)\n`)
    process.exit(2)
  }
  modes.push(m)
}
const settleS = positive("settle", values.settle, 3600)
const measureS = positive("measure", values.measure, 3600)
const heartbeatS = positive("heartbeat", values.heartbeat, 3600)
const rampPerSecond = positive("ramp", values.ramp, 100_000)
const workers = values.workers === undefined ? undefined : Math.floor(positive("workers", values.workers, 16))
const connectConcurrency = Math.floor(positive("connect-concurrency", values["connect-concurrency"], 10_000))
// Default: 240 s, or 25 ms per agent when that is longer (in-process TLS on 2 cores is slow to take a herd).
const restartTimeoutS = values["restart-timeout"] === undefined ? undefined : positive("restart-timeout", values["restart-timeout"], 3600)
const maxMinutes = positive("max-minutes", values["max-minutes"], 24 * 60)
const maxAgents = sortedSteps.at(-1) ?? 1000

const log = (line: string) => process.stderr.write(`${line}\n`)

interface StepResult {
  readonly agents: number
  readonly connected: number
  readonly ramp_seconds: number | null
  readonly rss_mb: number
  readonly rss_kb_per_agent: number | null
  readonly marginal_rss_kb_per_agent: number | null
  readonly cpu_percent_of_one_core: number
  readonly simulator_cpu_percent: number
  readonly engine_fds: number
  readonly heartbeats_sent: number
  readonly heartbeat_acks: number
  readonly heartbeat_acks_missing: number
  readonly heartbeat_rtt_ms_p50: number | null
  readonly heartbeat_rtt_ms_p99: number | null
  readonly drops: number
  readonly errors: Record<string, number>
}

const handshakeErrors = (w: StatsWindow) => {
  const out: Record<string, number> = {}
  let fiveXx = 0
  for (const [k, v] of w.errors) {
    if (!k.startsWith("connect:")) continue
    out[k.slice("connect:".length)] = v
    const status = /^connect:handshake_http_(\d{3})$/.exec(k)?.[1]
    if (status !== undefined && status.startsWith("5")) fiveXx += v
  }
  return { byKind: out, fiveXx }
}

interface ModeRecord {
  readonly mode: Mode
  readonly tls: boolean
  readonly root: string
  engine_url: string | null
  /** The tree is shared and the Engine runs from it: what HEAD was (and how dirty) at each start. */
  readonly engine_code: Array<{ readonly at: string; readonly commit: string; readonly dirty_files: number }>
  baseline: { readonly rss_mb: number; readonly cpu_percent_of_one_core: number } | null
  readonly steps: Array<StepResult>
  restart: Record<string, unknown> | null
  simulator: {
    readonly workers: number
    readonly rss_mb: number
    readonly rss_bytes_per_connected_agent: number | null
    readonly cpu_seconds: number
  } | null
  totals: unknown
}

/** What is running now, so an abort (watchdog, Ctrl-C) can kill it and still write what was measured. */
const live: { engine: EngineProcess | undefined; fleet: Fleet | undefined } = { engine: undefined, fleet: undefined }
const byMode: Array<ModeRecord> = []

const runMode = async (mode: Mode) => {
  const tls = mode === "tls" || mode === "bare-tls"
  const script = mode.startsWith("bare-") ? "bench/support/bareSocketIo.ts" : undefined
  const root = tempRoot(`bench-connections-${mode}-`)
  const start = (port?: number) => startEngineProcess({ root, tls, ...(script !== undefined ? { script } : {}), ...(port !== undefined ? { port } : {}) })
  const record: ModeRecord = { mode, tls, root, engine_url: null, engine_code: [], baseline: null, steps: [], restart: null, simulator: null, totals: null }
  const noteCode = () => record.engine_code.push({ at: new Date().toISOString(), ...codeVersion() })
  byMode.push(record)
  log(`\n== ${mode}: engine on ${root}`)
  noteCode()
  let engine: EngineProcess = await start()
  live.engine = engine
  record.engine_url = engine.url
  log(`engine pid ${engine.pid} at ${engine.url} (healthy after ${engine.startMs} ms)`)
  let fleet: Fleet | undefined
  try {
    // Idle baseline: a few seconds after start, before any agent (and before the seed touches the DB).
    await sleep(3_000)
    const cpu0 = cpuSeconds(engine.pid)
    const baselineSamples = await sampleRss(engine.pid, 5_000, 500)
    const baselineCpu = ((cpuSeconds(engine.pid) - cpu0) / 5) * 100
    const baselineKb = median(baselineSamples)
    record.baseline = { rss_mb: round(baselineKb / 1024), cpu_percent_of_one_core: round(baselineCpu) }
    log(`idle baseline: RSS ${round(baselineKb / 1024)} MB, CPU ${round(baselineCpu)} %`)

    const tokensFile = `${root}/bench-tokens.json`
    const seedStarted = Date.now()
    // Benchmark tokens live 6 h (the server's are 15 min) so no refresh traffic muddies the figures.
    await runSeed({ root, agents: maxAgents, out: tokensFile, tokenTtlSeconds: 6 * 3600, hostnamePrefix: "BENCH" })
    log(`seeded ${maxAgents} devices in ${round((Date.now() - seedStarted) / 1000)} s`)

    fleet = await Fleet.start({
      url: engine.url,
      ...(engine.ca !== undefined ? { ca: engine.ca } : {}),
      agents: maxAgents,
      ...(workers !== undefined ? { workers } : {}),
      credentials: { kind: "tokens", file: tokensFile },
      behaviour: { heartbeatMs: heartbeatS * 1000, jitter: 0.1, backoffInitialMs: 1_000, backoffMaxMs: 5_000 },
      initialActive: 0,
      rampPerSecond,
      connectConcurrency,
      reportMs: 250,
      durationMs: maxMinutes * 60_000,
      log
    })
    live.fleet = fleet
    log(`${fleet.workerCount} simulator workers ready`)

    const results = record.steps
    let previous: { agents: number; rssKb: number } | undefined
    for (const step of sortedSteps) {
      const rampStarted = Date.now()
      fleet.setActive(step)
      const rampTimeout = Math.max(60_000, (step / 50) * 1000)
      const reached = await fleet.waitFor((f) => f.gauges.connected >= step, rampTimeout)
      const rampSeconds = reached ? round((Date.now() - rampStarted) / 1000) : null
      log(`step ${step}: ${reached ? `all connected in ${rampSeconds} s` : `only ${fleet.gauges.connected} connected after ${rampTimeout / 1000} s`}`)
      await sleep(settleS * 1000)
      const phase = fleet.startPhase()
      const e0 = cpuSeconds(engine.pid)
      const s0 = fleet.workerCpuSeconds
      const t0 = Date.now()
      const samples = await sampleRss(engine.pid, measureS * 1000, 1_000)
      const seconds = (Date.now() - t0) / 1000
      const engineCpu = ((cpuSeconds(engine.pid) - e0) / seconds) * 100
      const simCpu = ((fleet.workerCpuSeconds - s0) / seconds) * 100
      const connected = fleet.gauges.connected
      const rss = median(samples)
      const hb = phase.latencies.get("heartbeat_ack_ms")
      const result: StepResult = {
        agents: step,
        connected,
        ramp_seconds: rampSeconds,
        rss_mb: round(rss / 1024),
        rss_kb_per_agent: connected > 0 ? round((rss - baselineKb) / connected, 2) : null,
        marginal_rss_kb_per_agent: previous !== undefined && connected > previous.agents
          ? round((rss - previous.rssKb) / (connected - previous.agents), 2)
          : null,
        cpu_percent_of_one_core: round(engineCpu),
        simulator_cpu_percent: round(simCpu),
        engine_fds: openFds(engine.pid),
        heartbeats_sent: phase.counter("heartbeats"),
        heartbeat_acks: phase.counter("heartbeat_acks"),
        heartbeat_acks_missing: phase.counter("heartbeat_acks_missing"),
        heartbeat_rtt_ms_p50: hb === undefined || hb.count === 0 ? null : round(hb.quantile(0.5) ?? 0, 2),
        heartbeat_rtt_ms_p99: hb === undefined || hb.count === 0 ? null : round(hb.quantile(0.99) ?? 0, 2),
        drops: phase.counter("disconnects"),
        errors: Object.fromEntries(phase.errors)
      }
      previous = { agents: connected, rssKb: rss }
      results.push(result)
      log(
        `step ${step}: RSS ${result.rss_mb} MB (${result.rss_kb_per_agent} KB/agent above baseline), engine CPU ${result.cpu_percent_of_one_core} %, ` +
          `hb ${result.heartbeats_sent} sent / ${result.heartbeat_acks} acked / ${result.heartbeat_acks_missing} missing, rtt p50 ${result.heartbeat_rtt_ms_p50} p99 ${result.heartbeat_rtt_ms_p99} ms`
      )
    }

    if (!values["no-restart"]) {
      const n = fleet.gauges.connected
      const phase = fleet.startPhase()
      const killedAt = Date.now()
      const stopped = await engine.stop()
      log(`restart: engine stopped in ${stopped.ms} ms (code ${stopped.code ?? "-"}, signal ${stopped.signal ?? "-"}); ${fleet.gauges.connected} still connected`)
      noteCode()
      engine = await start(engine.port)
      live.engine = engine
      const upAt = engine.readyAt
      const simCpu0 = fleet.workerCpuSeconds
      const back = await fleet.waitFor((f) => f.gauges.connected >= n, (restartTimeoutS ?? Math.max(240, n / 40)) * 1000)
      const allAt = Date.now()
      const engineCpuReconnect = cpuSeconds(engine.pid)
      const simCpuReconnect = fleet.workerCpuSeconds - simCpu0
      const errors = handshakeErrors(phase)
      await sleep(Math.min(10_000, settleS * 1000))
      const afterRss = median(await sampleRss(engine.pid, 5_000, 1_000))
      const restart: Record<string, unknown> = {
        agents: n,
        all_back: back,
        connected_at_end: fleet.gauges.connected,
        engine_stop_ms: stopped.ms,
        engine_start_ms: engine.startMs,
        seconds_from_sigterm: round((allAt - killedAt) / 1000),
        seconds_from_healthy: round((allAt - upAt) / 1000),
        // The new process's CPU from spawn until everyone is back (start-up is ~1 s of it).
        engine_cpu_seconds_start_and_reconnect: round(engineCpuReconnect, 2),
        simulator_cpu_seconds_during_reconnect: round(simCpuReconnect, 2),
        handshake_5xx: errors.fiveXx,
        handshake_errors: errors.byKind,
        drops: phase.counter("disconnects"),
        rss_mb_after: round(afterRss / 1024),
        rss_kb_per_agent_after: fleet.gauges.connected > 0 ? round((afterRss - baselineKb) / fleet.gauges.connected, 2) : null,
        connect_ms: phase.latencies.get("connect_ms")?.summary() ?? null
      }
      log(
        `restart: ${back ? "all" : "NOT all"} ${n} back ${restart["seconds_from_healthy"]} s after the new engine was healthy ` +
          `(${restart["seconds_from_sigterm"]} s after SIGTERM); 5xx ${errors.fiveXx}; handshake errors ${JSON.stringify(errors.byKind)}`
      )
      record.restart = restart
    }
  } finally {
    if (fleet !== undefined) {
      await fleet.stop()
      const summary = fleet.summary()
      record.simulator = {
        workers: summary.workers,
        rss_mb: summary.worker_rss_mb,
        rss_bytes_per_connected_agent: summary.worker_rss_bytes_per_connected_agent,
        cpu_seconds: summary.worker_cpu_seconds
      }
      record.totals = summary.totals
    }
    await engine.stop()
    live.engine = undefined
    live.fleet = undefined
    if (values["keep-root"]) log(`kept ${root}`)
    else fs.rmSync(root, { recursive: true, force: true })
  }
}

const startedAt = new Date()
const startMachine = machine()

const resultDocument = (aborted: string | null) => ({
  benchmark: "connections",
  started_at: startedAt.toISOString(),
  finished_at: new Date().toISOString(),
  ...(aborted !== null ? { aborted } : {}),
  machine: startMachine,
  settings: {
    steps: sortedSteps,
    settle_seconds: settleS,
    measure_seconds: measureS,
    heartbeat_seconds: heartbeatS,
    heartbeat_jitter: 0.1,
    ramp_per_second: rampPerSecond,
    connect_concurrency_per_worker: connectConcurrency,
    token_ttl_seconds: 6 * 3600
  },
  modes: byMode
})

const abort = installAbort("connections", live, resultDocument, maxMinutes)

const main = async () => {
  for (const mode of modes) await runMode(mode)
  const file = writeResult("connections", resultDocument(null))
  process.stdout.write("\n")
  for (const m of byMode) {
    process.stdout.write(`${m.mode} (baseline RSS ${m.baseline?.rss_mb ?? "-"} MB, idle CPU ${m.baseline?.cpu_percent_of_one_core ?? "-"} %)\n`)
    process.stdout.write(
      `${
        table(m.steps.map((s) => ({
          agents: s.agents,
          connected: s.connected,
          ramp_s: s.ramp_seconds,
          rss_mb: s.rss_mb,
          kb_per_agent: s.rss_kb_per_agent,
          marginal_kb: s.marginal_rss_kb_per_agent,
          engine_cpu_pct: s.cpu_percent_of_one_core,
          sim_cpu_pct: s.simulator_cpu_percent,
          hb_sent: s.heartbeats_sent,
          hb_acked: s.heartbeat_acks,
          hb_missing: s.heartbeat_acks_missing,
          rtt_p50_ms: s.heartbeat_rtt_ms_p50,
          rtt_p99_ms: s.heartbeat_rtt_ms_p99,
          drops: s.drops
        })))
      }\n`
    )
    if (m.restart !== null) {
      const r = m.restart
      process.stdout.write(
        `restart: ${String(r["agents"])} agents ${r["all_back"] === true ? "all back" : "NOT all back"} in ${String(r["seconds_from_healthy"])} s after healthy ` +
          `(${String(r["seconds_from_sigterm"])} s after SIGTERM), 5xx ${String(r["handshake_5xx"])}, handshake errors ${JSON.stringify(r["handshake_errors"])}, ` +
          `RSS after ${String(r["rss_kb_per_agent_after"])} KB/agent\n`
      )
    }
    if (m.simulator !== null) {
      process.stdout.write(
        `simulator: ${m.simulator.workers} workers, ${m.simulator.rss_mb} MB RSS, ${m.simulator.rss_bytes_per_connected_agent ?? "-"} B per connected agent\n\n`
      )
    }
  }
  process.stdout.write(`written ${file}\n`)
  // Worker and Engine processes are gone; don't wait on stray handles.
  process.exit(0)
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:connections failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`)
  abort(`failed: ${error instanceof Error ? error.message : String(error)}`)
})
