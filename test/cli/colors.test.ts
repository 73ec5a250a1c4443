// The operator CLI prints ANSI colours only to a terminal: plain text into pipes and files, and
// under NO_COLOR (no-color.org); FORCE_COLOR forces them. The help and usage errors are rendered by
// @effect/cli with ANSI codes, so these tests run the real CLI (`npm run cli -- …` and
// `node src/cli.ts …`) with piped output, and on a pseudo-terminal made by util-linux `script`.
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { execFile, execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { colorAwareConsole, colorsEnabled, stripAnsi } from "../../src/cli/runtime.ts"

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..")
const CLI = path.join(REPO, "src", "cli.ts")
const ESC = "\u001b"

interface Run {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** The environment of a run: nothing colour-related inherited from the test runner. */
const envWith = (root: string, extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = { ...process.env, BOREALIS_ROOT: root, BOREALIS_STATIC_ROOT: path.join(root, "static"), TERM: "xterm" }
  for (const name of ["NO_COLOR", "FORCE_COLOR", "NODE_DISABLE_COLORS", "CI"]) delete env[name]
  return { ...env, ...extra }
}

const run = (file: string, args: ReadonlyArray<string>, env: NodeJS.ProcessEnv) =>
  Effect.promise(() =>
    new Promise<Run>((resolve) => {
      const child = execFile(file, args, { cwd: REPO, env, timeout: 120_000 }, (error, stdout, stderr) =>
        resolve({ code: error === null ? 0 : Number((error as { code?: number }).code ?? 1), stdout, stderr }))
      child.stdin?.end()
    })
  )

/** `npm run -s cli -- …` with stdout and stderr piped (npm puts Node 24 from node_modules/.bin first). */
const npmCli = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv) => run("npm", ["run", "-s", "cli", "--", ...args], env)

/** `node src/cli.ts …` with stdout and stderr piped. */
const nodeCli = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv) => run(process.execPath, [CLI, ...args], env)

const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`

/**
 * `node src/cli.ts …` on a pseudo-terminal (`script -qec`): stdout and stderr are both the terminal
 * and arrive together, unless `redirect` sends one of them to a file.
 */
const ttyCli = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv, redirect = "") =>
  run("script", ["-qec", `${[process.execPath, CLI, ...args].map(quote).join(" ")}${redirect}`, "/dev/null"], env)

const hasScript = (() => {
  try {
    execFileSync("script", ["-qec", "true", "/dev/null"], { stdio: "ignore", timeout: 10_000 })
    return true
  } catch {
    return false
  }
})()

const root = () => fs.mkdtempSync(path.join(os.tmpdir(), "borealis-cli-colors-"))

/** Each run is a fresh Node process (one to several seconds under a full test run). */
const TIMEOUT = 240_000

describe("CLI colours: the decision", () => {
  it("NO_COLOR (non-empty) turns them off, FORCE_COLOR forces them, else only a TTY (not TERM=dumb) gets them", () => {
    const tty = { isTTY: true }
    const pipe = { isTTY: false }
    expect(colorsEnabled(tty, { TERM: "xterm" })).toBe(true)
    expect(colorsEnabled(pipe, { TERM: "xterm" })).toBe(false)
    expect(colorsEnabled({}, {})).toBe(false)
    expect(colorsEnabled(tty, { TERM: "dumb" })).toBe(false)
    expect(colorsEnabled(tty, { NO_COLOR: "1" })).toBe(false)
    expect(colorsEnabled(tty, { NO_COLOR: "0" })).toBe(false)
    // no-color.org: an empty NO_COLOR does not count.
    expect(colorsEnabled(tty, { NO_COLOR: "" })).toBe(true)
    expect(colorsEnabled(pipe, { FORCE_COLOR: "1" })).toBe(true)
    expect(colorsEnabled(pipe, { FORCE_COLOR: "3" })).toBe(true)
    expect(colorsEnabled(pipe, { FORCE_COLOR: "" })).toBe(false)
    expect(colorsEnabled(tty, { FORCE_COLOR: "0" })).toBe(false)
    expect(colorsEnabled(tty, { FORCE_COLOR: "false" })).toBe(false)
    expect(colorsEnabled(pipe, { FORCE_COLOR: "1", NO_COLOR: "1" })).toBe(false)
  })

  it("stripAnsi removes SGR, cursor and OSC sequences and nothing else", () => {
    expect(stripAnsi("\u001b[0;1m\u001b[0;37;1mborealis\u001b[0;1m\u001b[0m")).toBe("borealis")
    expect(stripAnsi("a\u001b[2Kb\u001b[1Ac")).toBe("abc")
    expect(stripAnsi("\u001b]8;;https://x\u0007link\u001b]8;;\u001b\\")).toBe("link")
    expect(stripAnsi("plain [0;1m text\n")).toBe("plain [0;1m text\n")
  })

  it.effect("the Console strips only on the streams without colours", () =>
    Effect.gen(function*() {
      const seen: Array<[string, ReadonlyArray<unknown>]> = []
      const base = yield* Effect.console
      const recording = {
        ...base,
        log: (...args: ReadonlyArray<unknown>) => Effect.sync(() => void seen.push(["log", args])),
        error: (...args: ReadonlyArray<unknown>) => Effect.sync(() => void seen.push(["error", args]))
      }
      const red = "\u001b[31mred\u001b[0m"
      const plainOut = colorAwareConsole(recording, { stdout: false, stderr: true })
      yield* plainOut.log(red, 1)
      yield* plainOut.error(red)
      expect(seen).toEqual([["log", ["red", 1]], ["error", [red]]])
      expect(colorAwareConsole(recording, { stdout: true, stderr: true })).toBe(recording)
    }))
})

describe("CLI colours: the real CLI", () => {
  it.effect("piped: `npm run cli -- --help` and failing commands print no ESC byte", () =>
    Effect.gen(function*() {
      const env = envWith(root())
      const help = yield* npmCli(["--help"], env)
      expect(help.code).toBe(0)
      expect(help.stdout).toContain("USAGE")
      expect(help.stdout).toContain("borealis 0.1.0")
      expect(help.stdout).not.toContain(ESC)
      expect(help.stderr).not.toContain(ESC)

      const sub = yield* nodeCli(["users", "--help"], env)
      expect(sub.code).toBe(0)
      expect(sub.stdout).toContain("COMMANDS")
      expect(sub.stdout + sub.stderr).not.toContain(ESC)

      const missing = yield* npmCli(["users", "add"], env)
      expect(missing.code).toBe(1)
      expect(missing.stderr).toContain("Missing argument <username>")
      expect(missing.stdout + missing.stderr).not.toContain(ESC)

      const unknown = yield* nodeCli(["users", "frobnicate"], env)
      expect(unknown.code).toBe(1)
      expect(unknown.stderr).toMatch(/Invalid subcommand|unknown argument/)
      expect(unknown.stdout + unknown.stderr).not.toContain(ESC)

      // A service refusal (not a usage error) goes through the CLI's own error line.
      const refused = yield* nodeCli(["users", "role", "ghost", "User"], env)
      expect(refused.code).toBe(1)
      expect(refused.stderr).toContain("error: ")
      expect(refused.stdout + refused.stderr).not.toContain(ESC)
    }), TIMEOUT)

  it.effect("piped: FORCE_COLOR forces colours, NO_COLOR wins over it", () =>
    Effect.gen(function*() {
      const dir = root()
      const forced = yield* nodeCli(["--help"], envWith(dir, { FORCE_COLOR: "1" }))
      expect(forced.code).toBe(0)
      expect(forced.stdout).toContain(`${ESC}[`)
      const both = yield* nodeCli(["--help"], envWith(dir, { FORCE_COLOR: "1", NO_COLOR: "1" }))
      expect(both.code).toBe(0)
      expect(both.stdout).toContain("USAGE")
      expect(both.stdout).not.toContain(ESC)
    }), TIMEOUT)

  it.effect.skipIf(!hasScript)("on a terminal: colours, unless NO_COLOR is set (an empty NO_COLOR does not count)", () =>
    Effect.gen(function*() {
      const dir = root()
      const tty = yield* ttyCli(["--help"], envWith(dir))
      expect(tty.code).toBe(0)
      expect(tty.stdout).toContain("USAGE")
      expect(tty.stdout).toContain(`${ESC}[`)

      const noColor = yield* ttyCli(["--help"], envWith(dir, { NO_COLOR: "1" }))
      expect(noColor.code).toBe(0)
      expect(noColor.stdout).toContain("USAGE")
      expect(noColor.stdout).not.toContain(ESC)

      const empty = yield* ttyCli(["--help"], envWith(dir, { NO_COLOR: "" }))
      expect(empty.stdout).toContain(`${ESC}[`)

      const dumb = yield* ttyCli(["--help"], envWith(dir, { TERM: "dumb" }))
      expect(dumb.stdout).toContain("USAGE")
      expect(dumb.stdout).not.toContain(ESC)

      // Decided per stream: stdout into a file stays plain while stderr is the terminal.
      const file = path.join(dir, "help.txt")
      const redirected = yield* ttyCli(["--help"], envWith(dir), ` > ${quote(file)}`)
      expect(redirected.code).toBe(0)
      const written = fs.readFileSync(file, "utf8")
      expect(written).toContain("USAGE")
      expect(written).not.toContain(ESC)

      const failing = yield* ttyCli(["users", "add"], envWith(dir, { NO_COLOR: "1" }))
      expect(failing.code).toBe(1)
      expect(failing.stdout).toContain("Missing argument <username>")
      expect(failing.stdout).not.toContain(ESC)
    }), TIMEOUT)
})
