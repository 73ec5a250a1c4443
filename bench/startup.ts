// npm run bench:startup — time from spawn to a healthy /health, and idle RSS, for `node src/main.ts`
// on a fresh temp root (first start generates keys and certificates) and on a warm one (reuses them).
// Prints the figures and writes bench/results/startup.json.
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as https from "node:https"
import * as os from "node:os"
import * as path from "node:path"

const repo = path.resolve(import.meta.dirname, "..")
const runs = Number(process.argv[2] ?? 5)

const get = (url: string, ca: string) =>
  new Promise<number>((resolve) => {
    const req = https.get(url, { ca, agent: false }, (res) => {
      res.resume()
      res.on("end", () => resolve(res.statusCode ?? 0))
    })
    req.on("error", () => resolve(0))
    req.setTimeout(1000, () => req.destroy())
  })

const rssKb = (pid: number): number => {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8")
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0)
}

const once = async (root: string) => {
  const started = performance.now()
  const child = spawn(process.execPath, [path.join(repo, "src", "main.ts")], {
    env: { ...process.env, BOREALIS_ROOT: root, BOREALIS_PORT: "0", BOREALIS_LOG_STDERR: "false" },
    stdio: ["ignore", "ignore", "pipe"]
  })
  const logFile = path.join(root, "Logs", "Server", "engine.log")
  let url: string | undefined
  while (url === undefined) {
    if (performance.now() - started > 30_000) throw new Error("engine did not start in 30 s")
    const log = fs.existsSync(logFile) ? fs.readFileSync(logFile, "utf8") : ""
    const all = [...log.matchAll(/bootstrap-complete url=(\S+)/g)]
    const last = all.at(-1)
    if (last !== undefined && all.length > (once.seen.get(root) ?? 0)) {
      once.seen.set(root, all.length)
      url = last[1]!.replace("127.0.0.1", "localhost")
    } else await new Promise((r) => setTimeout(r, 5))
  }
  const ca = fs.readFileSync(path.join(root, "Certificates", "Server", "borealis-root-ca.pem"), "utf8")
  while ((await get(`${url}/health`, ca)) !== 200) await new Promise((r) => setTimeout(r, 5))
  const healthyMs = performance.now() - started
  await new Promise((r) => setTimeout(r, 2000))
  const idleRssKb = rssKb(child.pid!)
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)))
  const stopAt = performance.now()
  child.kill("SIGTERM")
  const code = await exited
  return { healthyMs, idleRssKb, shutdownMs: performance.now() - stopAt, exitCode: code }
}
once.seen = new Map<string, number>()

const median = (xs: Array<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

const main = async () => {
  const cold: Array<Awaited<ReturnType<typeof once>>> = []
  const warm: Array<Awaited<ReturnType<typeof once>>> = []
  for (let i = 0; i < runs; i++) {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "bench-startup-"))
    cold.push(await once(root))
    warm.push(await once(root))
    fs.rmSync(root, { recursive: true, force: true })
  }
  const summarise = (xs: typeof cold) => ({
    healthy_ms_median: Math.round(median(xs.map((x) => x.healthyMs))),
    healthy_ms_max: Math.round(Math.max(...xs.map((x) => x.healthyMs))),
    idle_rss_mb_median: Math.round(median(xs.map((x) => x.idleRssKb)) / 102.4) / 10,
    shutdown_ms_max: Math.round(Math.max(...xs.map((x) => x.shutdownMs))),
    exit_codes: [...new Set(xs.map((x) => x.exitCode))]
  })
  const result = {
    benchmark: "startup",
    at: new Date().toISOString(),
    node: process.version,
    runs,
    cold_start: summarise(cold),
    warm_start: summarise(warm)
  }
  console.log(JSON.stringify(result, null, 2))
  const out = path.join(repo, "bench", "results")
  fs.mkdirSync(out, { recursive: true })
  fs.writeFileSync(path.join(out, "startup.json"), JSON.stringify(result, null, 2) + "\n")
}

await main()
