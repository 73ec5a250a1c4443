// `codes create|list|delete`: install codes for enrolling agents, as /api/admin/enrollment-codes.
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { DEFAULT_MAX_USES } from "../services/enrollment/adminRecords.ts"
import { EnrollmentAdmin } from "../services/enrollment/EnrollmentAdmin.ts"
import { cliActor, printJson, reportFailures, table } from "./runtime.ts"

const json = Options.boolean("json").pipe(Options.withDescription("Print JSON instead of text"))

const create = Command.make("create", {
  ttl: Options.integer("ttl").pipe(Options.withDefault(1), Options.withDescription("Hours the code stays valid: 1, 3, 6, 12 or 24")),
  maxUses: Options.integer("max-uses").pipe(Options.withDefault(DEFAULT_MAX_USES), Options.withDescription("Enrollments allowed, 1..10")),
  json
}, ({ ttl, maxUses, json }) =>
  reportFailures(Effect.gen(function*() {
    const record = yield* (yield* EnrollmentAdmin).createCode(ttl, maxUses, cliActor())
    if (json) return yield* printJson(record)
    yield* Console.log(record.code)
    yield* Console.error(`id ${record.id}, ${record.max_uses} use(s), expires ${record.expires_at}`)
  }))).pipe(Command.withDescription("Create an install code (prints the code)"))

const list = Command.make("list", {
  status: Options.choice("status", ["active", "expired", "used"]).pipe(Options.optional),
  json
}, ({ status, json }) =>
  reportFailures(Effect.gen(function*() {
    const codes = yield* (yield* EnrollmentAdmin).listCodes(Option.getOrUndefined(status))
    if (json) return yield* printJson(codes)
    yield* Console.log(table(
      ["ID", "CODE", "STATUS", "USES", "EXPIRES"],
      codes.map((c) => [c.id, c.code, c.status, `${c.use_count}/${c.max_uses}`, c.expires_at ?? ""])
    ))
  }))).pipe(Command.withDescription("List install codes"))

const remove = Command.make("delete", { id: Args.text({ name: "id" }) }, ({ id }) =>
  reportFailures(Effect.gen(function*() {
    yield* (yield* EnrollmentAdmin).deleteCode(id, cliActor())
    yield* Console.log(`deleted ${id}`)
  }))).pipe(Command.withDescription("Delete an unused install code"))

export const codesCommand = Command.make("codes").pipe(
  Command.withDescription("Install codes"),
  Command.withSubcommands([create, list, remove])
)
