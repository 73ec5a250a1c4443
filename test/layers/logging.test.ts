import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { TestAgent } from "../support/agent.ts"
import { startEngine } from "../support/engine.ts"
import { CliLoggingLive } from "../../src/cli/runtime.ts"
import {
  escapeControls,
  formatAsctime,
  formatJsonLine,
  formatTextLine,
  KEPT_ROTATIONS,
  logDebugWith,
  makeLineLogger,
  openRotatingLog
} from "../../src/layers/Logging.ts"

const capture = (format: "text" | "json", program: Effect.Effect<void>) =>
  Effect.gen(function*() {
    const lines: Array<string> = []
    yield* program.pipe(
      Effect.provide(Logger.replace(Logger.defaultLogger, makeLineLogger(format, (l) => lines.push(l)))),
      Logger.withMinimumLogLevel(LogLevel.Debug)
    )
    return lines
  })

describe("line format (spec §2.1)", () => {
  it("asctime is local YYYY-MM-DD HH:MM:SS,mmm", () => {
    expect(formatAsctime(new Date(2025, 9, 22, 14, 3, 1, 123))).toBe("2025-10-22 14:03:01,123")
    expect(formatAsctime(new Date(2026, 0, 2, 3, 4, 5, 6))).toBe("2026-01-02 03:04:05,006")
  })

  it("a plain INFO message is exactly `<asctime>-engine-<message>`", () => {
    const line = formatTextLine({
      date: new Date(2025, 9, 22, 14, 3, 1, 123),
      level: LogLevel.Info,
      message: "bootstrap-started",
      annotations: [],
      spans: [],
      cause: undefined
    })
    expect(line).toBe("2025-10-22 14:03:01,123-engine-bootstrap-started")
  })

  it.effect("annotations, level and span names appear in the line", () =>
    Effect.gen(function*() {
      const lines = yield* capture(
        "text",
        Effect.logWarning("migrations-index-skipped").pipe(
          Effect.annotateLogs({ table: "devices", reason: "UNIQUE constraint failed" }),
          Effect.withSpan("Migrations.apply")
        )
      )
      expect(lines).toHaveLength(1)
      expect(lines[0]).toMatch(
        /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}-engine-migrations-index-skipped level=WARN (table=devices reason="UNIQUE constraint failed"|reason="UNIQUE constraint failed" table=devices) span=Migrations\.apply\n$/
      )
    }))

  it.effect("nested spans render outermost first; failures carry their cause on the same line", () =>
    Effect.gen(function*() {
      const lines = yield* capture(
        "text",
        Effect.logError("boom", new Error("bad")).pipe(Effect.withSpan("inner"), Effect.withSpan("outer"))
      )
      expect(lines[0]).toContain(" span=outer>inner")
      expect(lines[0]).toContain(" level=ERROR")
      expect(lines[0]!.trimEnd().split("\n")).toHaveLength(1)
    }))

  it.effect("hot-path DEBUG lines carry their annotations at DEBUG and build nothing at INFO", () =>
    Effect.gen(function*() {
      let built = 0
      const line = logDebugWith("agent-heartbeat", () => {
        built++
        return { agent_id: "A-1", host: "pc1" }
      })
      const debugLines = yield* capture("text", line)
      expect(debugLines).toHaveLength(1)
      expect(debugLines[0]).toMatch(/-engine-agent-heartbeat level=DEBUG (agent_id=A-1 host=pc1|host=pc1 agent_id=A-1)\n$/)
      const infoLines = yield* capture("text", line.pipe(Logger.withMinimumLogLevel(LogLevel.Info)))
      expect(infoLines).toHaveLength(0)
      expect(built).toBe(1)
    }))

  it.effect("BOREALIS_LOG_FORMAT=json writes one JSON object per line", () =>
    Effect.gen(function*() {
      const lines = yield* capture("json", Effect.logInfo("http-request").pipe(Effect.annotateLogs({ status: 200 })))
      const record = JSON.parse(lines[0]!)
      expect(record).toMatchObject({ level: "INFO", service: "engine", message: "http-request", annotations: { status: 200 } })
      // Log time comes from Effect's Clock: under the TestClock it is the epoch.
      expect(record.time).toBe("1970-01-01T00:00:00.000Z")
      expect(formatJsonLine({ date: new Date(0), level: LogLevel.Info, message: "m", annotations: [], spans: [], cause: undefined }))
        .toBe('{"time":"1970-01-01T00:00:00.000Z","level":"INFO","service":"engine","message":"m"}')
    }))
})

describe("rotation at local midnight, 30 kept", () => {
  const waitFor = async (predicate: () => boolean, ms = 5000) => {
    const end = Date.now() + ms
    while (!predicate()) {
      if (Date.now() > end) throw new Error("timed out")
      await new Promise((r) => setTimeout(r, 10))
    }
  }
  const write = (stream: NodeJS.WritableStream, text: string) => new Promise<void>((r) => stream.write(text, () => r()))

  it("rotates engine.log to engine.log.YYYY-MM-DD of the day it covers, and keeps 30", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rot-"))
    // The injected clock: 200 ms before a local midnight; each step jumps to the next one.
    let now = new Date(2026, 0, 1, 23, 59, 59, 800).getTime()
    const stream = openRotatingLog(dir, { now: () => new Date(now), recheckMs: 10 })
    await new Promise<void>((r) => stream.once("open", () => r()))
    let rotations = 0
    stream.on("rotated", () => rotations++)
    await write(stream, "day 1\n")
    const days = KEPT_ROTATIONS + 3
    for (let i = 0; i < days; i++) {
      now += 400 // past midnight
      await waitFor(() => rotations === i + 1)
      await write(stream, `day ${i + 2}\n`)
      now = new Date(new Date(now).getFullYear(), new Date(now).getMonth(), new Date(now).getDate(), 23, 59, 59, 800).getTime()
    }
    await new Promise<void>((r) => stream.end(() => r()))
    const rotated = fs.readdirSync(dir).filter((f) => /^engine\.log\.\d{4}-\d\d-\d\d$/.test(f)).sort()
    expect(rotated).toHaveLength(KEPT_ROTATIONS)
    // The oldest three days were removed; the newest rotation covers the last full day.
    expect(rotated[0]).toBe("engine.log.2026-01-04")
    expect(rotated.at(-1)).toBe("engine.log.2026-02-02")
    expect(fs.readFileSync(path.join(dir, "engine.log.2026-01-04"), "utf8")).toBe("day 4\n")
    expect(fs.readFileSync(path.join(dir, "engine.log"), "utf8")).toBe(`day ${days + 1}\n`)
  }, 30_000)
})

describe("LoggingLive writes batches without losing lines", () => {
  const repo = path.resolve(import.meta.dirname, "..", "..")
  const child = (root: string, body: string) => {
    const script = `
      import * as Effect from "effect/Effect"
      import * as Layer from "effect/Layer"
      import { EngineConfig } from ${JSON.stringify(path.join(repo, "src/layers/Config.ts"))}
      import { LoggingLive } from ${JSON.stringify(path.join(repo, "src/layers/Logging.ts"))}
      const layer = LoggingLive.pipe(Layer.provide(EngineConfig.forRoot(${JSON.stringify(root)}, { BOREALIS_LOG_STDERR: "false" })))
      ${body}
    `
    return spawnSync(process.execPath, ["--input-type=module", "-e", script], { cwd: repo, encoding: "utf8", timeout: 20_000 })
  }
  const logOf = (root: string) => fs.readFileSync(path.join(root, "Logs", "Server", "engine.log"), "utf8")

  it("lines logged in one turn all reach the file, in order, when the scope closes", () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "logbatch-"))
    const result = child(root, `
      await Effect.runPromise(Effect.forEach(Array.from({ length: 500 }, (_, i) => i), (i) => Effect.logInfo("line-" + i), { discard: true }).pipe(Effect.provide(layer)))
    `)
    expect(result.status, result.stderr).toBe(0)
    const lines = logOf(root).trimEnd().split("\n")
    expect(lines).toHaveLength(500)
    lines.forEach((line, i) => expect(line.endsWith(`-engine-line-${i}`)).toBe(true))
  })

  it("a process that exits in the same turn as its last log line still writes that line", () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "logexit-"))
    const result = child(root, `
      await Effect.runPromise(Effect.gen(function*() {
        yield* Effect.logInfo("first")
        yield* Effect.sleep(50)
        yield* Effect.logInfo("last-words")
        process.exit(3)
      }).pipe(Effect.scoped, Effect.provide(layer)))
    `)
    expect(result.status, result.stderr).toBe(3)
    const log = logOf(root)
    expect(log).toMatch(/-engine-first\n/)
    expect(log).toMatch(/-engine-last-words\n$/)
  })
})

describe("control characters never reach the log raw (terminal injection)", () => {
  // Every character a terminal or viewer may act on: C0, DEL, C1, U+2028/2029.
  const RAW_CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/
  const hostile = "evil\u001b[31m\u0007\u0000name\u007f\u009b2J\u0085\r\nforged-line\u2028\t."
  const record = (message: string, value: unknown) => ({
    date: new Date(2025, 9, 22, 14, 3, 1, 123),
    level: LogLevel.Warning,
    message,
    annotations: [["hostname", value], ["nested", { name: value }], ["plain", "pc-01"]] as Array<readonly [string, unknown]>,
    spans: ["Enrollment.request", `span\u001b]0;title\u0007`],
    cause: `Error: ${hostile}\n    at somewhere`
  })

  it("escapeControls writes JSON escapes for C0, DEL, C1 and U+2028/2029 and leaves everything else", () => {
    expect(escapeControls(hostile)).toBe("evil\\u001b[31m\\u0007\\u0000name\\u007f\\u009b2J\\u0085\\r\\nforged-line\\u2028\\t.")
    expect(escapeControls("café 名前 \u00a0 \"quoted\" a=b \\ ~")).toBe("café 名前 \u00a0 \"quoted\" a=b \\ ~")
  })

  it("text lines: message, values (also inside objects), spans and cause are escaped; ordinary values keep their form", () => {
    const line = formatTextLine(record(`msg-${hostile}`, hostile))
    expect(line).not.toMatch(RAW_CONTROL)
    expect(line.split("\n")).toHaveLength(1)
    expect(line).toContain(` hostname="evil\\u001b[31m\\u0007\\u0000name\\u007f\\u009b2J\\u0085\\r\\nforged-line\\u2028\\t."`)
    expect(line).toContain(" plain=pc-01")
    expect(line).toContain("-engine-msg-evil\\u001b[31m")
    expect(line).toContain(" span=Enrollment.request>span\\u001b]0;title\\u0007")
    // A value with only a C1 or DEL (not whitespace) is quoted too, not written bare.
    expect(formatTextLine({ ...record("m", "a\u009bb"), annotations: [["v", "a\u009bb"], ["d", "x\u007f"]] })).toContain(' v="a\\u009bb" d="x\\u007f"')
    // Unchanged rendering for ordinary values: bare, quoted for spaces/quotes/`=`, non-ASCII kept.
    expect(formatTextLine({ ...record("m", ""), level: LogLevel.Info, spans: [], cause: undefined, annotations: [["a", "x y"], ["b", "café"], ["c", 'say "hi"'], ["d", "k=v"], ["e", 3], ["f", { g: "名前" }]] }))
      .toBe('2025-10-22 14:03:01,123-engine-m a="x y" b=café c="say \\"hi\\"" d="k=v" e=3 f={"g":"名前"}')
  })

  it("JSON lines: no raw control character, and the record parses back to the original values", () => {
    const r = record(`msg-${hostile}`, hostile)
    const line = formatJsonLine(r)
    expect(line).not.toMatch(RAW_CONTROL)
    expect(line).toContain("\\u009b")
    expect(line).toContain("\\u2028")
    const parsed = JSON.parse(line)
    expect(parsed.message).toBe(r.message)
    expect(parsed.annotations).toEqual({ hostname: hostile, nested: { name: hostile }, plain: "pc-01" })
    expect(parsed.spans).toEqual(r.spans)
    expect(parsed.cause).toBe(r.cause)
  })

  it.effect("through the logger in both formats, with a failure's cause", () =>
    Effect.gen(function*() {
      for (const format of ["text", "json"] as const) {
        const lines = yield* capture(format, Effect.logError(`boom ${hostile}`, new Error(hostile)).pipe(
          Effect.annotateLogs({ hostname: hostile }),
          Effect.withSpan(`span-${hostile}`)
        ))
        expect(lines).toHaveLength(1)
        expect(lines[0]!.slice(0, -1)).not.toMatch(RAW_CONTROL)
        expect(lines[0]!.endsWith("\n")).toBe(true)
      }
    }))

  it.effect("the CLI's stderr logger escapes them too", () =>
    Effect.gen(function*() {
      const written: Array<string> = []
      const original = process.stderr.write
      process.stderr.write = ((chunk: string | Uint8Array) => {
        written.push(String(chunk))
        return true
      }) as typeof process.stderr.write
      yield* Effect.logWarning(`warn ${hostile}`).pipe(
        Effect.annotateLogs({ hostname: hostile, nested: { name: hostile } }),
        Effect.provide(CliLoggingLive),
        Effect.ensuring(Effect.sync(() => {
          process.stderr.write = original
        }))
      )
      expect(written).toHaveLength(1)
      expect(written[0]!.slice(0, -1)).not.toMatch(RAW_CONTROL)
      expect(written[0]).toContain("hostname=evil\\u001b[31m\\u0007\\u0000name")
      expect(written[0]!.startsWith("warn: warn evil\\u001b")).toBe(true)
    }))

  for (const format of ["text", "json"] as const) {
    it.scoped(`a real Engine writes an agent's hostile hostname to engine.log escaped (${format})`, () =>
      Effect.gen(function*() {
        const engine = yield* startEngine({ env: { BOREALIS_LOG_FORMAT: format } })
        // A hostile hostname is refused before anything logs it (issue 19 §8) …
        const hostile = new TestAgent(engine.client(), "evil\u001b[31m\u0007\u0000name\u009b\u2028x")
        const refused = yield* Effect.promise(() => hostile.request("WRONG-CODE-0000"))
        expect([refused.status, refused.json]).toEqual([400, { error: "invalid_hostname" }])
        // … so the hostile bytes ride in on the install code, whose masked ends are logged on rejection.
        const agent = new TestAgent(engine.client(), "plain-host")
        const reply = yield* Effect.promise(() => agent.request("\u001b[3WRONG-CODE\u0007\u0000\u009b"))
        expect(reply.status).toBe(400)
        // Lines reach the file on the next turn of the event loop after they are logged.
        const deadline = Date.now() + 5000
        let log = ""
        while (!log.includes("enrollment-request-rejected") && Date.now() < deadline) {
          yield* Effect.promise(() => new Promise((r) => setTimeout(r, 20)))
          log = fs.readFileSync(engine.logFile, "utf8")
        }
        const rejected = log.split("\n").find((l) => l.includes("enrollment-request-rejected"))
        expect(rejected).toBeDefined()
        expect(rejected).toContain("\\u001b[3***\\u0007\\u0000\\u009b")
        expect(log).not.toContain("evil")
        for (const l of log.split("\n")) expect(l).not.toMatch(RAW_CONTROL)
        const bytes = fs.readFileSync(engine.logFile)
        expect(bytes.includes(0x1b) || bytes.includes(0x07) || bytes.includes(0x00)).toBe(false)
      }), 60_000)
  }
})
