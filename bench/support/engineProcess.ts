// Shared benchmark helpers: run the Engine as a child process (`node src/main.ts`) on a temp root and a
// loopback port with a raised fd limit, read its RSS and CPU from /proc, and restart it on the same
// root and port. Used by bench:connections; meant for bench:enroll and bench:jobs too.
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as http from "node:http"
import * as https from "node:https"
import * as os from "node:os"
import * as path from "node:path"

export const REPO_ROOT = path.resolve(import.meta.dirname, "..", "..")

export interface EngineProcessOptions {
  /** Project root (BOREALIS_ROOT); reuse it to restart on the same database, keys and certificates. */
  readonly root: string
  /** In-process TLS (default) or plain HTTP behind a notional TLS-terminating proxy. */
  readonly tls: boolean
  /** 0 (default) picks a free port; pass the previous port to restart in place. */
  readonly port?: number
  /** Open-files limit for the Engine (default 20,000, the hard limit here). */
  readonly fdLimit?: number
  /** Extra environment (BOREALIS_*). */
  readonly env?: Readonly<Record<string, string>>
  /** Give up waiting for `/health` after this long (default 60 s). */
  readonly startTimeoutMs?: number
  /** Entry point relative to the repository (default `src/main.ts`; `bench/support/bareSocketIo.ts` for the library baseline). */
  readonly script?: string
}

export interface EngineProcess {
  readonly pid: number
  readonly root: string
  readonly port: number
  /** `https://127.0.0.1:<port>` or `http://127.0.0.1:<port>` */
  readonly url: string
  /** PEM of the root CA (TLS mode). */
  readonly ca: string | undefined
  /** ms epoch when `/health` first answered 200. */
  readonly readyAt: number
  /** ms from spawn to a healthy `/health`. */
  readonly startMs: number
  readonly child: ChildProcess
  /** Resolves with the exit code/signal. */
  readonly exited: Promise<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>
  /** SIGTERM (graceful), SIGKILL after `timeoutMs`; resolves with how long it took. */
  readonly stop: (timeoutMs?: number) => Promise<{ readonly ms: number; readonly code: number | null; readonly signal: NodeJS.Signals | null }>
  /** Last lines of the Engine's stderr (crash messages). */
  readonly stderrTail: () => string
}

export const tempRoot = (prefix = "bench-"): string => fs.mkdtempSync(path.join(os.tmpdir(), prefix))

export const caFileOf = (root: string): string => path.join(root, "Certificates", "Server", "borealis-root-ca.pem")
export const engineLogOf = (root: string): string => path.join(root, "Logs", "Server", "engine.log")

let clockTicks: number | undefined
/** `getconf CLK_TCK` (the unit of /proc/<pid>/stat times), 100 when unknown. */
export const clockTicksPerSecond = (): number => {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100
    } catch {
      clockTicks = 100
    }
  }
  return clockTicks
}

/** VmRSS of a process in KiB (0 when it is gone). */
export const rssKb = (pid: number): number => {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0)
  } catch {
    return 0
  }
}

/** utime + stime of a process in seconds (0 when it is gone). */
export const cpuSeconds = (pid: number): number => {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th overall.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return (Number(fields[11]) + Number(fields[12])) / clockTicksPerSecond()
  } catch {
    return 0
  }
}

/** Open file descriptors of a process (0 when unreadable). */
export const openFds = (pid: number): number => {
  try {
    return fs.readdirSync(`/proc/${pid}/fd`).length
  } catch {
    return 0
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

const healthy = (url: string, ca: string | undefined): Promise<boolean> =>
  new Promise((resolve) => {
    const target = new URL("/health", url)
    const done = (ok: boolean) => resolve(ok)
    const req = target.protocol === "https:"
      ? https.get(target, { ca, agent: false }, (res) => {
        res.resume()
        res.on("end", () => done(res.statusCode === 200))
      })
      : http.get(target, { agent: false }, (res) => {
        res.resume()
        res.on("end", () => done(res.statusCode === 200))
      })
    req.on("error", () => done(false))
    req.setTimeout(2_000, () => req.destroy())
  })

/**
 * Spawn the Engine through `bash -c 'ulimit -n N && exec node src/main.ts'` (exec keeps the pid, so
 * /proc figures are the Engine's), wait for its `http-listening … url=…` line in engine.log (after
 * the offset it had at spawn), then for `/health` to answer 200.
 */
export const startEngineProcess = async (options: EngineProcessOptions): Promise<EngineProcess> => {
  const logFile = engineLogOf(options.root)
  const offset = fs.existsSync(logFile) ? fs.statSync(logFile).size : 0
  const fdLimit = options.fdLimit ?? 20_000
  const spawnedAt = Date.now()
  const child = spawn(
    "bash",
    ["-c", 'ulimit -n "$1" 2>/dev/null || ulimit -n "$(ulimit -Hn)"; shift; exec "$@"', "bash", String(fdLimit), process.execPath, path.join(REPO_ROOT, options.script ?? path.join("src", "main.ts"))],
    {
      cwd: REPO_ROOT,
      stdio: ["ignore", "ignore", "pipe"],
      env: {
        ...process.env,
        // e.g. BENCH_ENGINE_NODE_OPTIONS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the Engine under load
        NODE_OPTIONS: process.env["BENCH_ENGINE_NODE_OPTIONS"] ?? "",
        BOREALIS_ROOT: options.root,
        BOREALIS_HOST: "127.0.0.1",
        BOREALIS_PORT: String(options.port ?? 0),
        BOREALIS_TLS_ENABLED: options.tls ? "true" : "false",
        // The log file is enough; mirroring every line to a pipe would cost the Engine CPU under load.
        BOREALIS_LOG_STDERR: "false",
        ...options.env
      }
    }
  )
  let stderr = ""
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString("utf8")).slice(-8_000)
  })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal }))
  )
  let gone = false
  void exited.then(() => (gone = true))
  const deadline = spawnedAt + (options.startTimeoutMs ?? 60_000)
  let url: string | undefined
  while (url === undefined) {
    if (gone) throw new Error(`engine exited before listening: ${stderr.trim().slice(-2_000)}`)
    if (Date.now() > deadline) {
      child.kill("SIGKILL")
      throw new Error(`engine did not log http-listening within ${options.startTimeoutMs ?? 60_000} ms: ${stderr.trim().slice(-2_000)}`)
    }
    if (fs.existsSync(logFile)) {
      const fd = fs.openSync(logFile, "r")
      try {
        const size = fs.fstatSync(fd).size
        const buffer = Buffer.alloc(Math.max(0, size - offset))
        fs.readSync(fd, buffer, 0, buffer.length, offset)
        url = /http-listening\b[^\n]*?\burl=(\S+)/.exec(buffer.toString("utf8"))?.[1]
      } finally {
        fs.closeSync(fd)
      }
    }
    if (url === undefined) await sleep(20)
  }
  const ca = url.startsWith("https:") ? fs.readFileSync(caFileOf(options.root), "utf8") : undefined
  while (!(await healthy(url, ca))) {
    if (gone || Date.now() > deadline) {
      child.kill("SIGKILL")
      throw new Error(`engine at ${url} never became healthy: ${stderr.trim().slice(-2_000)}`)
    }
    await sleep(20)
  }
  const readyAt = Date.now()
  const pid = child.pid
  if (pid === undefined) throw new Error("engine has no pid")
  const stop = async (timeoutMs = 15_000) => {
    const t0 = Date.now()
    if (!gone) {
      child.kill("SIGTERM")
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs)
      const result = await exited
      clearTimeout(timer)
      return { ms: Date.now() - t0, ...result }
    }
    return { ms: 0, ...(await exited) }
  }
  return {
    pid,
    root: options.root,
    port: Number(new URL(url).port),
    url,
    ca,
    readyAt,
    startMs: readyAt - spawnedAt,
    child,
    exited,
    stop,
    stderrTail: () => stderr
  }
}

/** Sample a process's RSS every `everyMs` for `forMs`; returns the samples (KiB). */
export const sampleRss = async (pid: number, forMs: number, everyMs = 1_000): Promise<ReadonlyArray<number>> => {
  const samples: Array<number> = []
  const until = Date.now() + forMs
  for (;;) {
    samples.push(rssKb(pid))
    if (Date.now() + everyMs > until) break
    await sleep(everyMs)
  }
  return samples
}

export const median = (xs: ReadonlyArray<number>): number => {
  if (xs.length === 0) return 0
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2
}

export const round = (n: number, digits = 1): number => {
  const f = 10 ** digits
  return Math.round(n * f) / f
}

/** Write `bench/results/<name>-<timestamp>.json` and `bench/results/<name>.json` (latest); returns the first. */
export const writeResult = (name: string, data: unknown): string => {
  const dir = path.join(REPO_ROOT, "bench", "results")
  fs.mkdirSync(dir, { recursive: true })
  const stamp = new Date().toISOString().replace(/[:.]/g, "-")
  const file = path.join(dir, `${name}-${stamp}.json`)
  const text = `${JSON.stringify(data, null, 2)}\n`
  fs.writeFileSync(file, text)
  fs.writeFileSync(path.join(dir, `${name}.json`), text)
  return file
}

/** The code the Engine ran: HEAD and how many files differed from it (the tree is shared while people work). */
export const codeVersion = (): { readonly commit: string; readonly dirty_files: number } => {
  try {
    const commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: REPO_ROOT, encoding: "utf8" }).trim()
    const status = execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], { cwd: REPO_ROOT, encoding: "utf8" })
    return { commit, dirty_files: status.split("\n").filter((l) => l.trim() !== "").length }
  } catch {
    return { commit: "unknown", dirty_files: -1 }
  }
}

/** The machine the figures came from (they mean little without it). */
export const machine = () => ({
  code: codeVersion(),
  node: process.version,
  cpus: os.cpus().length,
  cpu_model: os.cpus()[0]?.model ?? "unknown",
  memory_gb: round(os.totalmem() / 1024 ** 3, 1),
  load_average_at_start: os.loadavg().map((n) => round(n, 2))
})

/** Render rows as an aligned text table. */
export const table = (rows: ReadonlyArray<Record<string, string | number | null>>): string => {
  if (rows.length === 0) return ""
  const keys = Object.keys(rows[0] ?? {})
  const cell = (v: string | number | null | undefined) => (v === null || v === undefined ? "-" : String(v))
  const widths = keys.map((k) => Math.max(k.length, ...rows.map((r) => cell(r[k]).length)))
  const line = (values: ReadonlyArray<string>) => values.map((v, i) => v.padStart(widths[i] ?? 0)).join("  ")
  return [line(keys), ...rows.map((r) => line(keys.map((k) => cell(r[k]))))].join("\n")
}

/** What a benchmark has running, so an abort can stop it. */
export interface LiveRun {
  engine: EngineProcess | undefined
  fleet: { readonly stop: () => Promise<unknown> } | undefined
}

/**
 * The abort every benchmark needs: on the watchdog (`maxMinutes`), Ctrl-C/SIGTERM or a failure, kill
 * the Engine (it is not ours to outlive), write the partial figures, stop the simulator, exit 1.
 * Returns the abort for the failure path.
 */
export const installAbort = (
  name: string,
  live: LiveRun,
  document: (reason: string) => unknown,
  maxMinutes: number
): ((reason: string) => void) => {
  const abort = (reason: string) => {
    process.stderr.write(`bench:${name}: ${reason}; stopping\n`)
    if (live.engine !== undefined) live.engine.child.kill("SIGKILL")
    const file = writeResult(name, document(reason))
    process.stderr.write(`partial results written to ${file}\n`)
    // Simulator workers exit when their IPC channel closes with us.
    const stopping = live.fleet?.stop() ?? Promise.resolve()
    void Promise.race([stopping, sleep(5_000)]).finally(() => process.exit(1))
  }
  const watchdog = setTimeout(() => abort(`over --max-minutes ${maxMinutes}`), maxMinutes * 60_000)
  watchdog.unref()
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => abort(`interrupted (${signal})`))
  return abort
}
