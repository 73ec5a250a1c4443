// `approvals list|approve|deny`: devices waiting to enroll, as /api/admin/device-approvals.
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { EnrollmentAdmin } from "../services/enrollment/EnrollmentAdmin.ts"
import { cliActor, printJson, reportFailures, table } from "./runtime.ts"

const id = Args.text({ name: "id" }).pipe(Args.withDescription("The approval id shown by `approvals list`"))

const list = Command.make("list", {
  status: Options.text("status").pipe(Options.withDefault("pending"), Options.withDescription("pending, approved, denied, completed, expired or all")),
  json: Options.boolean("json")
}, ({ status, json }) =>
  reportFailures(Effect.gen(function*() {
    const approvals = yield* (yield* EnrollmentAdmin).listApprovals(status)
    if (json) return yield* printJson(approvals)
    yield* Console.log(table(
      ["ID", "STATUS", "HOSTNAME", "FINGERPRINT", "CONFLICT", "CREATED"],
      approvals.map((a) => [
        a.id,
        a.status,
        a.hostname_claimed,
        a.ssl_key_fingerprint_claimed.slice(0, 16),
        a.hostname_conflict === undefined
          ? ""
          : a.hostname_conflict.fingerprint_match
          ? `same key as ${a.hostname_conflict.guid ?? "?"} (auto-merge)`
          : `hostname held by ${a.hostname_conflict.guid ?? "?"}: --resolution overwrite|coexist`,
        a.created_at ?? ""
      ])
    ))
  }))).pipe(Command.withDescription("List device approvals"))

const approve = Command.make("approve", {
  id,
  resolution: Options.choice("resolution", ["overwrite", "coexist"]).pipe(
    Options.optional,
    Options.withDescription("How to settle a hostname held by another device")
  ),
  guid: Options.text("guid").pipe(Options.optional, Options.withDescription("Bind the device to this GUID"))
}, (opts) =>
  reportFailures(Effect.gen(function*() {
    const result = yield* (yield* EnrollmentAdmin).approve(opts.id, {
      guid: Option.getOrUndefined(opts.guid),
      conflictResolution: Option.getOrUndefined(opts.resolution)
    }, cliActor())
    yield* Console.log("conflict_resolution" in result ? `approved (${result.conflict_resolution})` : "approved")
  }))).pipe(Command.withDescription("Approve a pending device; the agent finishes enrolling on its next poll"))

const deny = Command.make("deny", { id }, ({ id }) =>
  reportFailures(Effect.gen(function*() {
    yield* (yield* EnrollmentAdmin).deny(id, cliActor())
    yield* Console.log("denied")
  }))).pipe(Command.withDescription("Deny a pending device"))

export const approvalsCommand = Command.make("approvals").pipe(
  Command.withDescription("Device approvals"),
  Command.withSubcommands([list, approve, deny])
)
