// The Engine's log: `<root>/Logs/Server/engine.log`, rotated at local midnight, 30 files kept, mirrored to
// stderr. spec: config-bootstrap-tests.md §2
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as FiberRefs from "effect/FiberRefs"
import * as FiberRef from "effect/FiberRef"
import * as HashMap from "effect/HashMap"
import * as Layer from "effect/Layer"
import * as List from "effect/List"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Tracer from "effect/Tracer"
import { createStream, type RotatingFileStream } from "rotating-file-stream"
import * as fs from "node:fs"
import * as path from "node:path"
import { EngineConfig } from "./Config.ts"
import type { LogFormat } from "./configParse.ts"
import { createPrivateFile, formatMode, makePrivateDir, PRIVATE_FILE_MODE, tightenFileMode } from "./fileModes.ts"

export const LOG_FILE_NAME = "engine.log"
export const KEPT_ROTATIONS = 30
const HISTORY_FILE_NAME = `${LOG_FILE_NAME}.history`

const pad = (n: number, width = 2) => String(n).padStart(width, "0")

/** Python's default `asctime`: local time, `YYYY-MM-DD HH:MM:SS,mmm`. */
export const formatAsctime = (d: Date): string =>
  `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
  `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())},${pad(d.getMilliseconds(), 3)}`

/** Rotated files carry the day they cover, as `TimedRotatingFileHandler` names them. */
export const rotatedFileName = (day: Date): string =>
  `${LOG_FILE_NAME}.${day.getFullYear()}-${pad(day.getMonth() + 1)}-${pad(day.getDate())}`

export interface LogRecord {
  readonly date: Date
  readonly level: LogLevel.LogLevel
  readonly message: string
  readonly annotations: ReadonlyArray<readonly [string, unknown]>
  readonly spans: ReadonlyArray<string>
  readonly cause: string | undefined
}

/** C0 controls, DEL, C1 controls, and the line/paragraph separators some viewers break lines at. */
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g
const SHORT_ESCAPES: Readonly<Record<string, string>> = { "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r" }

/**
 * Replace every control character with its JSON escape (`\n`, `\u001b`, `\u0085`, `\u2028`), so an
 * agent-supplied value can neither drive the terminal of an operator reading the log nor forge a line.
 * Applied to JSON text it only touches DEL, C1 and U+2028/2029 (JSON already escapes C0), and keeps it
 * valid JSON, since those characters can only occur inside its strings.
 */
export const escapeControls = (text: string): string =>
  text.replace(CONTROL_CHARS, (c) => SHORT_ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)

/** Values written bare: no whitespace, quote, `=` or control character (`\s` covers U+2028/2029). */
const BARE_VALUE = /^[^\s"=\u0000-\u001f\u007f-\u009f]+$/

const renderValue = (value: unknown): string => {
  if (typeof value === "string") return BARE_VALUE.test(value) ? value : escapeControls(JSON.stringify(value))
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") return String(value)
  return escapeControls(JSON.stringify(value) ?? String(value))
}

const renderMessage = (message: unknown): string => {
  const parts = Array.isArray(message) ? message : [message]
  return parts.map((p) => (typeof p === "string" ? p : JSON.stringify(p) ?? String(p))).join(" ")
}

/**
 * `2025-10-22 14:03:01,123-engine-<message>`, then (only when present) ` level=<LEVEL>` for anything but
 * INFO, annotations as ` key=value`, the span path as ` span=a>b`, and a failure's cause as ` cause="…"`.
 * Control characters anywhere are escaped ({@link escapeControls}); other text is written as it is.
 */
export const formatTextLine = (r: LogRecord): string => {
  let line = `${formatAsctime(r.date)}-engine-${escapeControls(r.message)}`
  if (r.level._tag !== "Info") line += ` level=${r.level.label}`
  for (const [key, value] of r.annotations) line += ` ${escapeControls(key)}=${renderValue(value)}`
  if (r.spans.length > 0) line += ` span=${escapeControls(r.spans.join(">"))}`
  if (r.cause !== undefined) line += ` cause=${escapeControls(JSON.stringify(r.cause))}`
  return line
}

/** One JSON object per line, for log shippers (`BOREALIS_LOG_FORMAT=json`); no raw control character. */
export const formatJsonLine = (r: LogRecord): string =>
  escapeControls(JSON.stringify({
    time: r.date.toISOString(),
    level: r.level.label,
    service: "engine",
    message: r.message,
    ...(r.annotations.length > 0 ? { annotations: Object.fromEntries(r.annotations) } : {}),
    ...(r.spans.length > 0 ? { spans: r.spans } : {}),
    ...(r.cause !== undefined ? { cause: r.cause } : {})
  }))

const currentSpanPath = (refs: FiberRefs.FiberRefs): ReadonlyArray<string> => {
  const ctx = FiberRefs.getOrDefault(refs, FiberRef.currentContext)
  const names: Array<string> = []
  let span: Option.Option<Tracer.AnySpan> = Context.getOption(ctx, Tracer.ParentSpan)
  while (Option.isSome(span)) {
    const s: Tracer.AnySpan = span.value
    if (s._tag === "Span") {
      names.unshift(s.name)
      span = s.parent
    } else {
      break
    }
  }
  return names
}

/** Build a record from what Effect hands a logger. */
export const toLogRecord = (options: Logger.Logger.Options<unknown>): LogRecord => ({
  date: options.date,
  level: options.logLevel,
  message: renderMessage(options.message),
  annotations: Array.from(HashMap.toEntries(options.annotations)),
  spans: [
    ...currentSpanPath(options.context),
    ...List.toArray(options.spans).reverse().map((s) => s.label)
  ],
  cause: Cause.isEmpty(options.cause) ? undefined : Cause.pretty(options.cause, { renderErrorCause: true })
})

export const makeLineLogger = (format: LogFormat, write: (line: string) => void): Logger.Logger<unknown, void> => {
  const render = format === "json" ? formatJsonLine : formatTextLine
  return Logger.make((options) => write(render(toLogRecord(options)) + "\n"))
}

export interface RotatingLogOptions {
  /** Clock consulted for rotation (tests inject one); real time otherwise. */
  readonly now?: () => Date
  /** Longest real wait before the stream re-reads its clock (lets an injected clock jump ahead). */
  readonly recheckMs?: number
}

/**
 * Make the log files already in `dir` (engine.log, its rotations, the rotation history) 0600; returns
 * the ones changed with their previous mode.
 */
export const tightenLogFiles = (dir: string): ReadonlyArray<{ readonly path: string; readonly oldMode: number }> => {
  let names: Array<string>
  try {
    names = fs.readdirSync(dir).filter((name) => name === LOG_FILE_NAME || name.startsWith(`${LOG_FILE_NAME}.`))
  } catch {
    return [] // no directory yet: nothing to tighten
  }
  const changed: Array<{ path: string; oldMode: number }> = []
  for (const name of names) {
    const file = path.join(dir, name)
    const oldMode = tightenFileMode(file)
    if (oldMode !== undefined) changed.push({ path: file, oldMode })
  }
  return changed
}

/**
 * A midnight-rotating stream for `<dir>/engine.log`, keeping {@link KEPT_ROTATIONS} old files. The
 * directory is created 0700, the log and its history 0600 (rotated files keep the log's mode: renamed).
 */
export const openRotatingLog = (dir: string, options: RotatingLogOptions = {}): RotatingFileStream => {
  try {
    makePrivateDir(dir)
    // The library writes its history with writeFile's default mode; an existing file keeps ours.
    createPrivateFile(path.join(dir, HISTORY_FILE_NAME))
  } catch {
    // An unusable directory is reported by the stream's own "error" event, as before.
  }
  const stream = createStream(
    (time) => (time === null || typeof time === "number" ? LOG_FILE_NAME : rotatedFileName(time)),
    {
      path: dir + path.sep,
      interval: "1d",
      intervalBoundary: true,
      maxFiles: KEPT_ROTATIONS,
      history: HISTORY_FILE_NAME,
      encoding: "utf8",
      mode: PRIVATE_FILE_MODE
    }
  )
  // rotating-file-stream reads the time only through `now()` and never waits longer than
  // `maxTimeout` before reading it again: the library's own clock seam.
  const seam = stream as unknown as { now: () => Date; maxTimeout: number }
  if (options.now !== undefined) seam.now = options.now
  if (options.recheckMs !== undefined) seam.maxTimeout = options.recheckMs
  return stream
}

const endStream = (stream: RotatingFileStream) =>
  Effect.async<void>((resume) => {
    if (stream.writableFinished || stream.destroyed) return resume(Effect.void)
    stream.once("error", () => resume(Effect.void))
    stream.end(() => resume(Effect.void))
  })

/**
 * Replace Effect's default logger with the Engine's: file (rotating) + stderr, text or JSON lines,
 * INFO by default and DEBUG when `BOREALIS_DEBUG` is on. The file is flushed when the scope closes.
 */
export const LoggingLive: Layer.Layer<never, never, EngineConfig> = Layer.unwrapScoped(
  Effect.gen(function*() {
    const config = yield* EngineConfig
    // Before the stream opens engine.log: a log left 0644 by an older version stops being world-readable.
    const tightened = yield* Effect.sync(() => {
      try {
        return tightenLogFiles(config.logsRoot)
      } catch (error) {
        process.stderr.write(`log file mode: ${String(error)}\n`)
        return []
      }
    })
    const stream = yield* Effect.acquireRelease(
      Effect.sync(() => openRotatingLog(config.logsRoot)),
      endStream
    )
    stream.on("error", (error) => process.stderr.write(`log file error: ${String(error)}\n`))
    stream.on("warning", (error) => process.stderr.write(`log file warning: ${String(error)}\n`))
    // Lines logged in one turn of the event loop reach the file as one write: the stream writes each
    // chunk with its own fs call, which under load (a line per request) cost more than the request.
    let pending: Array<string> = []
    let scheduled = false
    /** Hand the lines logged so far to `toFile`, and to stderr when mirrored. */
    const drain = (toFile: (chunk: string) => void) => {
      if (pending.length === 0) return
      const chunk = pending.join("")
      pending = []
      toFile(chunk)
      if (config.logToStderr) process.stderr.write(chunk)
    }
    const flush = () => {
      scheduled = false
      drain((chunk) => {
        if (stream.writable) stream.write(chunk)
      })
    }
    yield* Effect.addFinalizer(() => Effect.sync(flush))
    // A process that dies before the next turn (an uncaught exception) still gets its last lines.
    const onExit = () =>
      drain((chunk) => {
        try {
          fs.appendFileSync(path.join(config.logsRoot, LOG_FILE_NAME), chunk, { mode: PRIVATE_FILE_MODE })
        } catch {
          // nothing better to do while exiting
        }
      })
    process.once("exit", onExit)
    yield* Effect.addFinalizer(() => Effect.sync(() => process.off("exit", onExit)))
    const logger = makeLineLogger(config.logFormat, (line) => {
      pending.push(line)
      if (!scheduled) {
        scheduled = true
        setImmediate(flush)
      }
    })
    const installed = Layer.merge(
      Logger.replace(Logger.defaultLogger, logger),
      Logger.minimumLogLevel(config.debug ? LogLevel.Debug : LogLevel.Info)
    )
    // Reported through the new logger, so the line lands in the file it is about.
    const reportTightened = Layer.effectDiscard(Effect.forEach(tightened, (t) =>
      Effect.logWarning("file-mode-tightened").pipe(Effect.annotateLogs({ path: t.path, old_mode: formatMode(t.oldMode) })), { discard: true }))
    return reportTightened.pipe(Layer.provideMerge(installed))
  })
)

/**
 * A DEBUG line for hot paths: below DEBUG nothing is built, not even the annotations (annotating a
 * line copies the fiber's refs twice, which per socket event was a visible share of its cost).
 */
export const logDebugWith = (message: string, annotations: () => Record<string, unknown>, cause?: Cause.Cause<unknown>): Effect.Effect<void> =>
  Effect.flatMap(FiberRef.get(FiberRef.currentMinimumLogLevel), (minimum) =>
    LogLevel.greaterThan(minimum, LogLevel.Debug)
      ? Effect.void
      : (cause === undefined ? Effect.logDebug(message) : Effect.logDebug(message, cause)).pipe(Effect.annotateLogs(annotations())))
