import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import {
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
