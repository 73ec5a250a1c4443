// npm run bench:jobs [-- options]
//
// Jobs at scale (issue 7, "Benchmark"):
// 1. Scheduler tick time with N enabled jobs (default 10,000), in-process on a real SQLite file with
//    the real scheduler, dispatch and fabricator (deliveries go to a counting stub): the tick that
//    dispatches every job at once (run rows, activity rows, signed payloads), then the steady-state
//    tick where nothing is due — what every minute costs. Target: < 100 ms.
// 2. Dispatch latency with M connected simulated agents (default 10,000): `node src/main.ts` as a
//    child process on a temp root and loopback port (TLS unless --plain), devices and tokens seeded,
//    the agent simulator connected (answering jobs), then `POST /api/scripts/quick_run` for one
//    random host at a time, timing each from the request until that agent received its
//    `quick_job_run`; and one fan-out request to many hosts. Target: p99 < 1 s.
// Loopback only (the simulator refuses anything else), bounded by --max-minutes; prints the figures
// and writes bench/results/jobs-<time>.json (and jobs.json).
import Sqlite from "better-sqlite3"
import * as SqlClient from "@effect/sql/SqlClient"
import * as SqlSchema from "@effect/sql/SqlSchema"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as fs from "node:fs"
import * as path from "node:path"
import { parseArgs } from "node:util"
import { EngineConfig } from "../src/layers/Config.ts"
import { applyMigrations } from "../src/layers/Migrations.ts"
import { SqlLive } from "../src/layers/Sql.ts"
import * as Row from "../src/layers/sqlRows.ts"
import { Scheduler, type TickReport } from "../src/scheduler/Scheduler.ts"
import { Assemblies } from "../src/services/assemblies/Assemblies.ts"
import { Audit } from "../src/services/audit/Audit.ts"
import { JobChannels } from "../src/services/jobs/JobChannels.ts"
import { JobsCore } from "../src/app/capabilities.ts"
import { KeyMaterial } from "../src/layers/keys/KeyMaterial.ts"
import type { EventReceipt } from "../src/tools/simulator/stats.ts"
import { Fleet } from "../src/tools/simulator/fleet.ts"
import { RestClient } from "../src/tools/simulator/rest.ts"
import { runSeed } from "../src/tools/simulator/seed.ts"
import { cpuSeconds, type EngineProcess, installAbort, machine, round, sleep, startEngineProcess, table, tempRoot, writeResult } from "./support/engineProcess.ts"

const { values } = parseArgs({
  options: {
    jobs: { type: "string", default: "10000" },
    "steady-ticks": { type: "string", default: "20" },
    agents: { type: "string", default: "10000" },
    dispatches: { type: "string", default: "300" },
    interval: { type: "string", default: "20" },
    fanout: { type: "string", default: "1000" },
    plain: { type: "boolean", default: false },
    "skip-tick": { type: "boolean", default: false },
    "skip-dispatch": { type: "boolean", default: false },
    "max-minutes": { type: "string", default: "20" },
    "keep-root": { type: "boolean", default: false },
    help: { type: "boolean", default: false }
  }
})

if (values.help) {
  process.stdout.write(
    "npm run bench:jobs -- [--jobs 10000] [--steady-ticks 20] [--agents 10000] [--dispatches 300] [--interval ms] [--fanout 1000]\n" +
      "  [--plain] [--skip-tick] [--skip-dispatch] [--max-minutes 20] [--keep-root]\n"
  )
  process.exit(0)
}

const bounded = (name: string, raw: string | undefined, min: number, max: number): number => {
  const n = Number(raw)
  if (!Number.isInteger(n) || n < min || n > max) {
    process.stderr.write(`bench:jobs: --${name} must be an integer in [${min}, ${max}]\n`)
    process.exit(2)
  }
  return n
}

const jobsCount = bounded("jobs", values.jobs, 1, 100_000)
const steadyTicks = bounded("steady-ticks", values["steady-ticks"], 1, 1_000)
const agentsCount = bounded("agents", values.agents, 1, 19_500)
const dispatches = bounded("dispatches", values.dispatches, 1, 10_000)
const intervalMs = bounded("interval", values.interval, 0, 10_000)
const fanout = Math.min(bounded("fanout", values.fanout, 0, 10_000), agentsCount)
const maxMinutes = bounded("max-minutes", values["max-minutes"], 1, 24 * 60)

const log = (line: string) => process.stderr.write(`${line}\n`)

const quantile = (sorted: ReadonlyArray<number>, q: number): number | null => {
  if (sorted.length === 0) return null
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? null
}
const stats = (xs: ReadonlyArray<number>) => {
  const sorted = [...xs].sort((a, b) => a - b)
  return {
    count: sorted.length,
    p50: round(quantile(sorted, 0.5) ?? 0, 2),
    p90: round(quantile(sorted, 0.9) ?? 0, 2),
    p99: round(quantile(sorted, 0.99) ?? 0, 2),
    max: round(sorted.at(-1) ?? 0, 2),
    mean: round(sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length), 2)
  }
}

const hostName = (i: number, width: number) => `BENCH-${String(i + 1).padStart(width, "0")}`

const SCRIPT = { name: "bench", type: "powershell", script: "Write-Output \"bench $env:RUN\"", variables: [{ name: "run", type: "string", default: "1" }] }

// ---------------------------------------------------------------------------------------------
// 1. Scheduler tick

const SCHEDULES: ReadonlyArray<readonly [string, number, string | null]> = [
  // [type, share of jobs in percent, zone]
  ["every_5_minutes", 15, null],
  ["every_10_minutes", 5, null],
  ["every_15_minutes", 10, null],
  ["every_30_minutes", 5, null],
  ["every_hour", 10, null],
  ["daily", 15, "UTC"],
  ["daily", 10, "Europe/Berlin"],
  ["daily", 5, "America/New_York"],
  ["weekly", 10, "Australia/Sydney"],
  ["monthly", 8, "Asia/Kolkata"],
  ["yearly", 2, null],
  ["once", 5, null]
]

const tickBench = async () => {
  const root = tempRoot("bench-jobs-tick-")
  fs.mkdirSync(path.join(root, "Assemblies", "Scripts"), { recursive: true })
  fs.writeFileSync(path.join(root, "Assemblies", "Scripts", "bench.json"), JSON.stringify(SCRIPT))
  const width = Math.max(5, String(jobsCount).length)
  const hosts = Array.from({ length: jobsCount }, (_, i) => hostName(i, width))
  const online = new Set(hosts.map((h) => h.toLowerCase()))
  const delivered = { count: 0 }
  // Deliveries are counted; the device lookup each one makes in production runs for real.
  const channels = Layer.effect(
    JobChannels,
    Effect.map(SqlClient.SqlClient, (sql) => {
      const guidOf = SqlSchema.findOne({
        Request: Schema.String,
        Result: Schema.Struct({ guid: Row.Nullable(Row.Text) }),
        execute: (hostname) => sql`SELECT guid FROM devices WHERE LOWER(hostname) = LOWER(${hostname}) LIMIT 1`
      })
      return JobChannels.make({
        onlineHostnames: Effect.succeed(online),
        resolveHost: (hostname) =>
          guidOf(hostname).pipe(
            Effect.map((row) => ({ hostname, guid: Option.getOrNull(row)?.guid ?? null })),
            Effect.orDie
          ),
        toTarget: () => Effect.sync(() => ++delivered.count && 1),
        toOperators: () => Effect.void
      })
    })
  )
  const layer = JobsCore.pipe(
    Layer.provideMerge(channels),
    Layer.provideMerge(Assemblies.at(path.join(root, "Assemblies"))),
    Layer.provideMerge(KeyMaterial.Test),
    Layer.provideMerge(Audit.Default),
    Layer.provideMerge(Layer.effectDiscard(applyMigrations)),
    Layer.provideMerge(SqlLive),
    Layer.provideMerge(EngineConfig.forRoot(root)),
    Layer.provideMerge(Logger.minimumLogLevel(LogLevel.Error)),
    Layer.orDie
  )
  const program = Effect.gen(function*() {
    const scheduler = yield* Scheduler
    // Jobs straight into the table (the REST path is not what is measured), all starting this minute.
    const now = Date.now()
    const minute = Math.floor(now / 60_000) * 60_000
    const db = new Sqlite(path.join(root, "database.db"))
    const insert = db.prepare(`INSERT INTO scheduled_jobs (name, components_json, targets_json, schedule_type, start_ts, duration_stop_enabled,
      expiration, execution_context, credential_id, use_service_account, enabled, created_at, updated_at, timezone)
      VALUES (?, ?, ?, ?, ?, 0, '1h', 'system', NULL, 0, 1, ?, ?, ?)`)
    const components = JSON.stringify([{ type: "script", path: "Scripts/bench.json", name: "bench" }])
    const mix: Array<readonly [string, string | null]> = []
    for (const [type, share, zone] of SCHEDULES) for (let i = 0; i < share; i++) mix.push([type, zone])
    db.transaction(() => {
      for (let i = 0; i < jobsCount; i++) {
        const [type, zone] = mix[i % mix.length] ?? ["daily", null]
        insert.run(`bench-${i}`, components, JSON.stringify([hosts[i]]), type, minute / 1000, minute / 1000 - 60, minute / 1000 - 60, zone)
      }
    })()
    db.close()
    log(`tick: ${jobsCount} enabled jobs inserted`)
    const at = minute + 5_000
    // The minute where every job's first slot is due: runs, activity rows, signed payloads.
    const due = yield* scheduler.tick(at)
    log(`tick: all due — ${due.started} runs started, ${delivered.count} payloads delivered in ${round(due.durationMs)} ms`)
    // Results for all of them, so every occurrence is complete, as on a normal day.
    const db2 = new Sqlite(path.join(root, "database.db"))
    db2.exec(`UPDATE scheduled_job_runs SET status = 'Success', finished_ts = ${Math.floor(at / 1000)}; UPDATE activity_history SET status = 'Success'`)
    db2.close()
    // The first tick after that minute re-learns every job's next slot (their latest occurrence changed).
    const relearn = yield* scheduler.tick(minute + 60_000)
    log(`tick: first tick after, re-learning ${jobsCount} next slots: ${round(relearn.durationMs)} ms`)
    // Steady state: the following minutes, where nothing is due (the 5-minute jobs are next due at +5).
    const steady: Array<TickReport> = []
    for (let i = 0; i < steadyTicks; i++) {
      steady.push(yield* scheduler.tick(minute + 60_000 + Math.floor((i * 180_000) / steadyTicks)))
    }
    const durations = steady.map((r) => r.durationMs)
    const phaseNames = Object.keys(steady[0]?.phasesMs ?? {})
    const phases = Object.fromEntries(phaseNames.map((name) => [name, stats(steady.map((r) => r.phasesMs[name] ?? 0)).p50]))
    log(`tick: steady phases p50 ${JSON.stringify(phases)} ms`)
    log(`tick: steady ${JSON.stringify(stats(durations))} ms (due ${steady.reduce((n, r) => n + r.due, 0)})`)
    // The 5-minute boundary: the every-5/10/15/30-minute jobs fire again.
    const fiveMinutes = yield* scheduler.tick(minute + 5 * 60_000 + 5_000)
    log(`tick: +5 min — ${fiveMinutes.started} started in ${round(fiveMinutes.durationMs)} ms`)
    return {
      jobs: jobsCount,
      schedule_mix_percent: SCHEDULES.map(([type, share, zone]) => ({ type, zone, share })),
      all_due_tick: { ms: due.durationMs, started: due.started, delivered: delivered.count, ms_per_dispatch: round(due.durationMs / Math.max(1, due.started), 3) },
      first_tick_after_ms: relearn.durationMs,
      steady_tick_ms: stats(durations),
      steady_phase_ms_p50: phases,
      steady_due: steady.reduce((n, r) => n + r.due, 0),
      five_minute_tick: { ms: fiveMinutes.durationMs, started: fiveMinutes.started }
    }
  })
  try {
    return await Effect.runPromise(Effect.scoped(Effect.provide(program, layer)))
  } finally {
    if (!values["keep-root"]) fs.rmSync(root, { recursive: true, force: true })
  }
}

// ---------------------------------------------------------------------------------------------
// 2. Dispatch latency with connected agents

const live: { engine: EngineProcess | undefined; fleet: Fleet | undefined } = { engine: undefined, fleet: undefined }

const dispatchBench = async () => {
  const tls = !values.plain
  const root = tempRoot("bench-jobs-dispatch-")
  fs.mkdirSync(path.join(root, "Assemblies", "Scripts"), { recursive: true })
  fs.writeFileSync(path.join(root, "Assemblies", "Scripts", "bench.json"), JSON.stringify(SCRIPT))
  const engine = await startEngineProcess({ root, tls })
  live.engine = engine
  log(`dispatch: engine pid ${engine.pid} at ${engine.url}`)
  const tokensFile = path.join(root, "bench-tokens.json")
  try {
    await runSeed({ root, agents: agentsCount, out: tokensFile, tokenTtlSeconds: 6 * 3600, hostnamePrefix: "BENCH" })
    const width = Math.max(5, String(agentsCount).length)
    const fleet = await Fleet.start({
      url: engine.url,
      ...(engine.ca !== undefined ? { ca: engine.ca } : {}),
      agents: agentsCount,
      credentials: { kind: "tokens", file: tokensFile },
      behaviour: { heartbeatMs: 60_000, jitter: 0.1, answerJobs: true, recordEvents: ["quick_job_run"], backoffInitialMs: 1_000, backoffMaxMs: 5_000 },
      rampPerSecond: 1_000,
      reportMs: 100,
      durationMs: maxMinutes * 60_000,
      log
    })
    live.fleet = fleet
    const rampStarted = Date.now()
    const all = await fleet.waitFor((f) => f.gauges.connected >= agentsCount, Math.max(180_000, agentsCount * 30))
    const rampSeconds = round((Date.now() - rampStarted) / 1000)
    const rampErrors = Object.fromEntries(fleet.totals.errors)
    log(`dispatch: ${fleet.gauges.connected}/${agentsCount} agents connected in ${rampSeconds} s; errors ${JSON.stringify(rampErrors)}`)
    // A straggler or two still reconnecting does not invalidate the figures: quick runs to a host
    // without a socket answer Failed at once and are counted apart.
    if (!all && fleet.gauges.connected < agentsCount * 0.9) throw new Error(`only ${fleet.gauges.connected} of ${agentsCount} agents connected`)
    await sleep(3_000)
    const connectedForRun = fleet.gauges.connected

    const rest = new RestClient({ baseUrl: engine.url, ...(engine.ca !== undefined ? { ca: engine.ca } : {}), maxSockets: 4, timeoutMs: 60_000 })
    // Stragglers may still be reconnecting: wait until the Engine answers promptly again.
    const settleUntil = Date.now() + 120_000
    for (;;) {
      const t = Date.now()
      const ok = await rest.request("GET", "/health").then((r) => r.status === 200, () => false)
      if (ok && Date.now() - t < 500) break
      if (Date.now() > settleUntil) throw new Error("the Engine did not settle after the ramp")
      await sleep(1_000)
    }
    const login = await rest.request("POST", "/api/auth/login", { username: "admin", password: "Password" })
    if (login.status !== 200) throw new Error(`login failed: ${login.status} ${login.text}`)
    const cpu0 = cpuSeconds(engine.pid)
    const measureStarted = Date.now()
    const cookie = (login.headers["set-cookie"] ?? []).map((c) => c.split(";")[0]).join("; ")

    const receipts = new Map<string, number>()
    fleet.onEvents((events: ReadonlyArray<EventReceipt>) => {
      for (const e of events) if (e.name === "quick_job_run" && e.key !== null && !receipts.has(e.key)) receipts.set(e.key, e.at)
    })
    const quickRun = (hostnames: ReadonlyArray<string>) =>
      rest.request("POST", "/api/scripts/quick_run", { script_path: "Scripts/bench.json", hostnames, run_mode: "system", variable_values: { run: "x" } }, { cookie })

    // a) one host per request, one request at a time
    const sent: Array<{ readonly at: number; readonly answeredAt: number; readonly jobId: string }> = []
    let failures = 0
    let notConnected = 0
    for (let i = 0; i < dispatches; i++) {
      const host = hostName(Math.floor(Math.random() * agentsCount), width)
      const at = Date.now()
      const reply = await quickRun([host])
      const answeredAt = Date.now()
      const result = (reply.json as { results?: Array<{ job_id: number; status: string }> } | undefined)?.results?.[0]
      if (reply.status === 200 && result?.status === "Failed") notConnected++
      else if (reply.status !== 200 || result?.status !== "Running") failures++
      else sent.push({ at, answeredAt, jobId: String(result.job_id) })
      if (intervalMs > 0) await sleep(intervalMs)
    }
    await fleet.waitFor(() => sent.every((s) => receipts.has(s.jobId)), 30_000)
    const latencies = sent.flatMap((s) => (receipts.has(s.jobId) ? [(receipts.get(s.jobId) ?? 0) - s.at] : []))
    const restMs = sent.map((s) => s.answeredAt - s.at)
    log(`dispatch: single-host ${JSON.stringify(stats(latencies))} ms (REST answer ${JSON.stringify(stats(restMs))} ms), ${failures} failed, ${notConnected} to hosts not connected, ${sent.length - latencies.length} never received`)

    // b) one request to many hosts
    let fan: Record<string, unknown> | null = null
    if (fanout > 0) {
      const hosts = Array.from({ length: fanout }, (_, i) => hostName(Math.floor((i * agentsCount) / fanout), width))
      const at = Date.now()
      const reply = await quickRun(hosts)
      const answeredAt = Date.now()
      const results = (reply.json as { results?: Array<{ job_id: number; status: string }> } | undefined)?.results ?? []
      const ids = results.filter((r) => r.status === "Running").map((r) => String(r.job_id))
      await fleet.waitFor(() => ids.every((id) => receipts.has(id)), 60_000)
      const fanLatencies = ids.flatMap((id) => (receipts.has(id) ? [(receipts.get(id) ?? 0) - at] : []))
      fan = { hosts: fanout, dispatched: ids.length, received: fanLatencies.length, rest_answer_ms: answeredAt - at, receipt_ms_after_request: stats(fanLatencies) }
      log(`dispatch: fan-out to ${fanout} hosts — REST answered in ${answeredAt - at} ms, receipts ${JSON.stringify(stats(fanLatencies))} ms`)
    }
    const engineCpuPercent = round(((cpuSeconds(engine.pid) - cpu0) / ((Date.now() - measureStarted) / 1000)) * 100)
    await sleep(2_000)
    const summary = fleet.summary()
    await fleet.stop()
    live.fleet = undefined
    return {
      tls,
      agents: agentsCount,
      connected: connectedForRun,
      ramp_seconds: rampSeconds,
      engine_cpu_percent_of_one_core_while_measuring: engineCpuPercent,
      ramp_errors: rampErrors,
      simulator_totals: summary.totals,
      single_host: {
        requests: dispatches,
        interval_ms: intervalMs,
        failed: failures,
        host_not_connected: notConnected,
        received: latencies.length,
        receipt_latency_ms: stats(latencies),
        rest_answer_ms: stats(restMs)
      },
      fan_out: fan
    }
  } finally {
    if (live.fleet !== undefined) await live.fleet.stop()
    await engine.stop()
    live.engine = undefined
    if (!values["keep-root"]) fs.rmSync(root, { recursive: true, force: true })
  }
}

// ---------------------------------------------------------------------------------------------

const startedAt = new Date()
const startMachine = machine()
const result: Record<string, unknown> = {}

const document = (aborted: string | null) => ({
  benchmark: "jobs",
  started_at: startedAt.toISOString(),
  finished_at: new Date().toISOString(),
  ...(aborted !== null ? { aborted } : {}),
  machine: startMachine,
  targets: { steady_tick_ms: 100, dispatch_p99_ms: 1000 },
  ...result
})

const abort = installAbort("jobs", live, document, maxMinutes)

const main = async () => {
  if (!values["skip-tick"]) result["tick"] = await tickBench()
  if (!values["skip-dispatch"]) result["dispatch"] = await dispatchBench()
  const file = writeResult("jobs", document(null))
  const tick = result["tick"] as Awaited<ReturnType<typeof tickBench>> | undefined
  const dispatch = result["dispatch"] as Awaited<ReturnType<typeof dispatchBench>> | undefined
  const rows: Array<Record<string, string | number | null>> = []
  if (tick !== undefined) {
    rows.push({ measure: `steady tick, ${tick.jobs} enabled jobs (ms)`, p50: tick.steady_tick_ms.p50, p99: tick.steady_tick_ms.p99, max: tick.steady_tick_ms.max, target: "< 100" })
    rows.push({ measure: `tick dispatching all ${tick.all_due_tick.started} (ms)`, p50: tick.all_due_tick.ms, p99: null, max: null, target: "-" })
    rows.push({ measure: `tick at +5 min, ${tick.five_minute_tick.started} due (ms)`, p50: tick.five_minute_tick.ms, p99: null, max: null, target: "-" })
  }
  if (dispatch !== undefined) {
    const l = dispatch.single_host.receipt_latency_ms
    rows.push({ measure: `quick_run → agent receipt, ${dispatch.agents} agents${dispatch.tls ? ", TLS" : ""} (ms)`, p50: l.p50, p99: l.p99, max: l.max, target: "p99 < 1000" })
    const f = dispatch.fan_out as { hosts: number; receipt_ms_after_request: ReturnType<typeof stats> } | null
    if (f !== null) rows.push({ measure: `fan-out to ${f.hosts} hosts, receipt after request (ms)`, p50: f.receipt_ms_after_request.p50, p99: f.receipt_ms_after_request.p99, max: f.receipt_ms_after_request.max, target: "-" })
  }
  process.stdout.write(`\n${table(rows)}\n\nresults: ${file}\n`)
  process.exit(0)
}

main().catch((error: unknown) => abort(`failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}`))
