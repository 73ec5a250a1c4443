// What every operator CLI command runs on: the Engine's own configuration (BOREALIS_* variables), its
// database with the same migrations, and the same services the HTTP handlers call — never HTTP.
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as os from "node:os"
import { EngineConfig } from "../layers/Config.ts"
import { escapeControls } from "../layers/Logging.ts"
import { MigrationsLive } from "../layers/Migrations.ts"
import { SqlLive } from "../layers/Sql.ts"
import { Audit } from "../services/audit/Audit.ts"
import { Revocations } from "../services/revocations/Revocations.ts"
import { KeyMaterial } from "../layers/keys/KeyMaterial.ts"
import type { Actor } from "../services/actor.ts"
import { OperatorsLive } from "../app/capabilities.ts"

/**
 * Warnings and errors only, one line each on stderr; the audit trail still goes to the database.
 * Control characters are escaped: values may come from agents (hostnames) and this is a terminal.
 */
const cliLogger = Logger.make(({ logLevel, message, annotations }) => {
  const text = (Array.isArray(message) ? message : [message]).map(String).join(" ")
  const extra = [...annotations].map(([k, v]) => ` ${k}=${typeof v === "string" ? v : JSON.stringify(v)}`).join("")
  process.stderr.write(`${logLevel.label.toLowerCase()}: ${escapeControls(text + extra)}\n`)
})

/**
 * Colours are for terminals. @effect/cli renders help, usage and its error messages with ANSI SGR
 * codes (@effect/printer-ansi has no plain mode), so the CLI's Console strips them from what goes to
 * a stream that should stay plain. Per stream: NO_COLOR set and non-empty (no-color.org) → plain;
 * else FORCE_COLOR set and non-empty → colours, unless it is `0` or `false`; else colours only on a
 * TTY whose TERM is not `dumb`.
 */
export const colorsEnabled = (stream: { readonly isTTY?: boolean | undefined }, env: NodeJS.ProcessEnv = process.env): boolean => {
  const noColor = env["NO_COLOR"]
  if (noColor !== undefined && noColor !== "") return false
  const force = env["FORCE_COLOR"]
  if (force !== undefined && force !== "") return force !== "0" && force.toLowerCase() !== "false"
  return stream.isTTY === true && env["TERM"] !== "dumb"
}

/** CSI sequences (SGR colours, cursor moves) and OSC sequences (hyperlinks, titles). */
const ANSI_SEQUENCE = /\u001b\[[0-?]*[ -\/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)/g

export const stripAnsi = (text: string): string => text.replace(ANSI_SEQUENCE, "")

export interface CliColors {
  readonly stdout: boolean
  readonly stderr: boolean
}

/** This process's decision, made once: stdout and stderr each by their own TTY-ness. */
export const cliColors = (): CliColors => ({ stdout: colorsEnabled(process.stdout), stderr: colorsEnabled(process.stderr) })

/**
 * `base` with the ANSI sequences of string arguments removed on the streams without colours
 * (Node's console: log/info/debug → stdout; error/warn/trace → stderr).
 */
export const colorAwareConsole = (base: Console.Console, colors: CliColors): Console.Console => {
  if (colors.stdout && colors.stderr) return base
  const plain = (enabled: boolean) => (args: ReadonlyArray<unknown>): ReadonlyArray<unknown> =>
    enabled ? args : args.map((arg) => (typeof arg === "string" ? stripAnsi(arg) : arg))
  const out = plain(colors.stdout)
  const err = plain(colors.stderr)
  return {
    ...base,
    log: (...args) => base.log(...out(args)),
    info: (...args) => base.info(...out(args)),
    debug: (...args) => base.debug(...out(args)),
    error: (...args) => base.error(...err(args)),
    warn: (...args) => base.warn(...err(args)),
    trace: (...args) => base.trace(...err(args))
  }
}

/** Run `effect` (the whole CLI) with the colour-aware Console. */
export const withCliColors = <A, E, R>(effect: Effect.Effect<A, E, R>, colors: CliColors = cliColors()): Effect.Effect<A, E, R> =>
  Effect.flatMap(Effect.console, (base) => Effect.withConsole(effect, colorAwareConsole(base, colors)))

export const CliLoggingLive = Layer.merge(
  Logger.replace(Logger.defaultLogger, cliLogger),
  Logger.minimumLogLevel(LogLevel.Warning)
)

const database = MigrationsLive.pipe(
  Layer.provideMerge(SqlLive),
  // Operator tokens, TOTP seeds and password hashes use the Engine's own keys.
  Layer.provideMerge(KeyMaterial.Live),
  Layer.provideMerge(EngineConfig.fromEnv())
)

/** The operator services on the Engine's database (created and migrated if needed). */
export const CliServicesLive = OperatorsLive.pipe(
  Layer.provideMerge(Layer.mergeAll(Audit.Default, Revocations.Default)),
  Layer.provideMerge(database),
  Layer.provide(CliLoggingLive)
)

/** Audit records name the operating-system account that ran the CLI. */
export const cliActor = (): Actor => {
  let user = "unknown"
  try {
    user = os.userInfo().username
  } catch {
    // no passwd entry (containers): keep "unknown"
  }
  return { username: `cli:${user}` }
}

/** A service refusal (`{ error }` tagged errors) becomes `error: <message>` and exit status 1. */
export const reportFailures = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A | void, never, R> =>
  effect.pipe(
    Effect.catchAll((e) => {
      const message = typeof e === "object" && e !== null && "error" in e ? String((e as { error: unknown }).error) : String(e)
      return Effect.zipRight(Console.error(`error: ${message}`), Effect.sync(() => {
        process.exitCode = 1
      }))
    })
  )

/** Left-aligned columns for terminal output. */
export const table = (headers: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  ").trimEnd()
  return [line(headers), ...rows.map(line)].join("\n")
}

export const printJson = (value: unknown) => Console.log(JSON.stringify(value, null, 2))
