// The operator CLI: `npm run cli -- <command> …`. It works on the Engine's database through the same
// services as the HTTP API (not over HTTP), so an operator on the server can manage accounts and
// enroll a first device without a browser. Add a command: write `src/cli/<name>.ts` exporting a
// Command and list it in `subcommands` below.
import * as Command from "@effect/cli/Command"
import * as ValidationError from "@effect/cli/ValidationError"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Effect from "effect/Effect"
import { approvalsCommand } from "./cli/approvals.ts"
import { backupCommand, restoreCommand } from "./cli/backup.ts"
import { codesCommand } from "./cli/codes.ts"
import { devicesCommand } from "./cli/devices.ts"
import { cliColors, CliServicesLive, stripAnsi, withCliColors } from "./cli/runtime.ts"
import { usersCommand } from "./cli/users.ts"

// Built only when one of these runs, so `--help` never opens (or creates) a database.
const operatorCommands = [
  usersCommand.pipe(Command.provide(CliServicesLive)),
  codesCommand.pipe(Command.provide(CliServicesLive)),
  approvalsCommand.pipe(Command.provide(CliServicesLive)),
  devicesCommand.pipe(Command.provide(CliServicesLive))
] as const

export const borealis = Command.make("borealis").pipe(
  Command.withDescription("Borealis Engine operator CLI (uses BOREALIS_* variables to find the database)"),
  // backup/restore work on the files themselves and never migrate the live database.
  Command.withSubcommands([...operatorCommands, backupCommand, restoreCommand])
)

export const runCli = Command.run(borealis, { name: "borealis", version: "0.1.0" })

// Help and usage errors are coloured on a terminal only (NO_COLOR, FORCE_COLOR, pipes: see cliColors).
const colors = cliColors()

runCli(process.argv).pipe(
  (cli) => withCliColors(cli, colors),
  Effect.provide(NodeContext.layer),
  Effect.tapErrorCause((cause) =>
    Effect.sync(() => {
      process.exitCode = 1
      // Usage errors were already printed with the help text.
      if (cause._tag === "Fail" && ValidationError.isValidationError(cause.error)) return
      const text = `borealis: ${String(cause)}\n`
      process.stderr.write(colors.stderr ? text : stripAnsi(text))
    })),
  Effect.ignore,
  NodeRuntime.runMain({ disableErrorReporting: true, disablePrettyLogger: true })
)
