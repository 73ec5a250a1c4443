// `backup <file>` and `restore <file>`: an online, consistent copy of the database plus the key and
// certificate material, and its restore (refused while an Engine runs on the target files).
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import { EngineConfig } from "../layers/Config.ts"
import { backup, restore } from "../services/backup/Backup.ts"
import { reportFailures } from "./runtime.ts"

const file = Args.text({ name: "file" }).pipe(Args.withDescription("backup file"))

export const backupCommand = Command.make("backup", { file }, ({ file }) =>
  reportFailures(Effect.gen(function*() {
    const config = yield* EngineConfig
    const summary = yield* backup(config, file)
    yield* Console.log(`backup written: ${summary.file} (${summary.bytes} bytes, ${summary.pages} pages, ${summary.files} key/certificate files)`)
    yield* Console.log(`rows: ${Object.entries(summary.tables).map(([t, n]) => `${t}=${n}`).join(" ")}`)
    yield* Console.log("it holds private keys: keep it as safe as the server itself (mode 0600)")
  }))).pipe(
  Command.withDescription("Copy the live database (SQLite backup API, safe while the server runs) and its keys and certificates into one file"),
  Command.provide(EngineConfig.fromEnv())
)

export const restoreCommand = Command.make("restore", { file }, ({ file }) =>
  reportFailures(Effect.gen(function*() {
    const config = yield* EngineConfig
    const summary = yield* restore(config, file)
    yield* Console.log(`restored ${summary.database} and ${summary.files} key/certificate files`)
    for (const aside of summary.keptAside) yield* Console.log(`previous file kept as ${aside}`)
  }))).pipe(
  Command.withDescription("Restore a backup onto the files BOREALIS_* names (refused while an Engine runs on them)"),
  Command.provide(EngineConfig.fromEnv())
)
