// `npm run simulate -- …`: simulated Borealis agents against a local Engine, or `seed` to pre-create
// devices and tokens for them. See src/tools/simulator/options.ts for every option.
import * as fs from "node:fs"
import * as path from "node:path"
import { Fleet } from "./simulator/fleet.ts"
import { parseRunArgs, parseSeedArgs, UsageError, USAGE } from "./simulator/options.ts"
import { runSeed } from "./simulator/seed.ts"
import type { StatsWindow } from "./simulator/stats.ts"

const fmt = (v: number | null | undefined) => (v === null || v === undefined ? "-" : v < 10 ? v.toFixed(2) : v.toFixed(0))

/** One status line: gauges, heartbeat figures of the last interval, errors so far. */
export const statusLine = (fleet: Fleet, interval: StatsWindow): string => {
  const g = fleet.gauges
  const t = ((Date.now() - fleet.startedAt) / 1000).toFixed(1).padStart(6)
  const hb = interval.latencies.get("heartbeat_ack_ms")
  const errors = [...fleet.totals.errors].sort((a, b) => b[1] - a[1]).slice(0, 6).map(([k, v]) => `${k}=${v}`).join(" ")
  return `[${t}s] connected ${g.connected}/${fleet.options.agents} connecting ${g.connecting} waiting ${g.waiting}` +
    (g.enrolling > 0 ? ` enrolling ${g.enrolling}` : "") +
    ` | hb ${interval.counter("heartbeats")} acked ${interval.counter("heartbeat_acks")} missing ${interval.counter("heartbeat_acks_missing")}` +
    ` rtt p50 ${fmt(hb?.quantile(0.5))} p99 ${fmt(hb?.quantile(0.99))} ms` +
    (errors === "" ? "" : ` | errors ${errors}`)
}

const run = async (argv: ReadonlyArray<string>) => {
  const options = parseRunArgs(argv)
  const log = (line: string) => process.stderr.write(`${line}\n`)
  const fleet = await Fleet.start({ ...options.fleet, log })
  log(`simulate: ${options.fleet.agents} agents in ${fleet.workerCount} workers against ${options.fleet.url} for ${options.fleet.durationMs / 1000} s`)
  let interval = fleet.startPhase()
  const printer = setInterval(() => {
    log(statusLine(fleet, interval))
    interval = fleet.startPhase()
  }, options.reportSeconds * 1000)
  let finished = false
  const finish = async () => {
    if (finished) return
    finished = true
    clearInterval(printer)
    await fleet.stop()
    const summary = { ...fleet.summary(), timeline: fleet.timeline }
    const { timeline: _timeline, ...brief } = summary
    process.stdout.write(`${JSON.stringify(brief, null, 2)}\n`)
    if (options.jsonFile !== undefined) {
      fs.mkdirSync(path.dirname(options.jsonFile), { recursive: true })
      fs.writeFileSync(options.jsonFile, JSON.stringify(summary, null, 2))
      log(`simulate: report written to ${options.jsonFile}`)
    }
  }
  const timer = setTimeout(() => void finish(), options.fleet.durationMs)
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      clearTimeout(timer)
      void finish()
    })
  }
}

const seed = async (argv: ReadonlyArray<string>) => {
  const options = parseSeedArgs(argv)
  const t0 = performance.now()
  const file = await runSeed(options)
  process.stderr.write(
    `seed: ${file.agents.length} devices written to ${file.database}, tokens (ttl ${file.token_ttl_seconds} s) in ${options.out} ` +
      `(${((performance.now() - t0) / 1000).toFixed(1)} s)\n`
  )
}

const main = async () => {
  const argv = process.argv.slice(2)
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(USAGE)
    return
  }
  if (argv[0] === "seed") await seed(argv.slice(1))
  else await run(argv[0] === "run" ? argv.slice(1) : argv)
}

main().catch((error: unknown) => {
  if (error instanceof UsageError || (error instanceof Error && error.name === "TypeError" && "code" in error && String(error.code).startsWith("ERR_PARSE_ARGS"))) {
    process.stderr.write(`simulate: ${error.message}\n\n${USAGE}`)
    process.exit(2)
  }
  process.stderr.write(`simulate: ${error instanceof Error ? error.message : String(error)}\n`)
  process.exit(1)
})
