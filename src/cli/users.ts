// `users list|add|passwd|role`: operator accounts, with the same rules as /api/users.
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Prompt from "@effect/cli/Prompt"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { BadRequest } from "../services/errors.ts"
import { sha512Hex } from "../services/operators/credentials.ts"
import { OperatorAccounts } from "../services/operators/OperatorAccounts.ts"
import { cliActor, printJson, reportFailures, table } from "./runtime.ts"

const json = Options.boolean("json").pipe(Options.withDescription("Print JSON instead of a table"))
const username = Args.text({ name: "username" })

const passwordOptions = {
  password: Options.redacted("password").pipe(
    Options.optional,
    Options.withDescription("The new password (visible in shell history; prefer --password-stdin or the prompt)")
  ),
  passwordSha512: Options.text("password-sha512").pipe(Options.optional, Options.withDescription("SHA-512 hex of the password")),
  passwordStdin: Options.boolean("password-stdin").pipe(Options.withDescription("Read the password from the first line of stdin"))
}

const readStdinLine = Effect.async<string>((resume) => {
  let data = ""
  process.stdin.setEncoding("utf8")
  process.stdin.on("data", (chunk) => {
    data += String(chunk)
  })
  process.stdin.on("end", () => resume(Effect.succeed(data.split(/\r?\n/)[0] ?? "")))
  process.stdin.resume()
})

/** The password hash from whichever source was given, else an interactive prompt on a terminal. */
const passwordHash = (opts: {
  readonly password: Option.Option<Redacted.Redacted>
  readonly passwordSha512: Option.Option<string>
  readonly passwordStdin: boolean
}) =>
  Effect.gen(function*() {
    if (Option.isSome(opts.passwordSha512)) return opts.passwordSha512.value
    if (Option.isSome(opts.password)) return sha512Hex(Redacted.value(opts.password.value))
    if (opts.passwordStdin) {
      const line = yield* readStdinLine
      if (line === "") return yield* new BadRequest({ error: "an empty password was read from stdin" })
      return sha512Hex(line)
    }
    if (!process.stdin.isTTY) return yield* new BadRequest({ error: "give --password-stdin, --password-sha512 or --password (no terminal to prompt on)" })
    const first = yield* Prompt.password({ message: "New password" })
    const again = yield* Prompt.password({ message: "Repeat it" })
    if (Redacted.value(first) !== Redacted.value(again)) return yield* new BadRequest({ error: "the passwords differ" })
    if (Redacted.value(first) === "") return yield* new BadRequest({ error: "the password is empty" })
    return sha512Hex(Redacted.value(first))
  })

const list = Command.make("list", { json }, ({ json }) =>
  reportFailures(Effect.gen(function*() {
    const accounts = yield* (yield* OperatorAccounts).list()
    if (json) return yield* printJson(accounts)
    yield* Console.log(table(
      ["USERNAME", "ROLE", "DISPLAY NAME", "MFA", "LAST LOGIN"],
      accounts.map((a) => [
        a.username,
        a.role,
        a.display_name,
        a.mfa_enabled ? "on" : "off",
        a.last_login > 0 ? new Date(a.last_login * 1000).toISOString() : "never"
      ])
    ))
  }))).pipe(Command.withDescription("List operator accounts"))

const add = Command.make("add", {
  username,
  role: Options.choice("role", ["Viewer", "User", "Admin"]).pipe(Options.withDefault("User" as const)),
  displayName: Options.text("display-name").pipe(Options.optional),
  ...passwordOptions
}, (opts) =>
  reportFailures(Effect.gen(function*() {
    const hash = yield* passwordHash(opts)
    yield* (yield* OperatorAccounts).create({
      username: opts.username,
      password_sha512: hash,
      role: opts.role,
      display_name: Option.getOrUndefined(opts.displayName)
    }, cliActor())
    yield* Console.log(`created ${opts.username.trim()} (${opts.role})`)
  }))).pipe(Command.withDescription("Create an operator account"))

const passwd = Command.make("passwd", { username, ...passwordOptions }, (opts) =>
  reportFailures(Effect.gen(function*() {
    const hash = yield* passwordHash(opts)
    yield* (yield* OperatorAccounts).resetPassword(opts.username, hash, cliActor())
    yield* Console.log(`password changed for ${opts.username.trim()}; its sessions and tokens were retired`)
  }))).pipe(Command.withDescription("Set an operator's password"))

const role = Command.make("role", { username, role: Args.text({ name: "role" }).pipe(Args.withDescription("Viewer, User or Admin")) }, (opts) =>
  reportFailures(Effect.gen(function*() {
    const updated = yield* (yield* OperatorAccounts).changeRole(opts.username, opts.role, cliActor())
    yield* Console.log(`${updated.username} is now ${updated.role}`)
  }))).pipe(Command.withDescription("Change an operator's role"))

export const usersCommand = Command.make("users").pipe(
  Command.withDescription("Operator accounts"),
  Command.withSubcommands([list, add, passwd, role])
)
