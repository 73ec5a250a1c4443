// `devices list`: the enrolled devices; `devices revoke|quarantine|restore|delete <guid> --reason`:
// the same operator controls as the HTTP API, audited as `cli:<os user>`. A running Engine reads the
// revocation from the database within seconds and cuts the device's sockets.
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import { DeviceControl } from "../services/devices/DeviceControl.ts"
import { DeviceDirectory } from "../services/devices/DeviceDirectory.ts"
import { cliActor, printJson, reportFailures, table } from "./runtime.ts"

const list = Command.make("list", { json: Options.boolean("json") }, ({ json }) =>
  reportFailures(Effect.gen(function*() {
    const devices = yield* (yield* DeviceDirectory).brief()
    if (json) return yield* printJson(devices)
    yield* Console.log(table(
      ["GUID", "HOSTNAME", "STATUS", "OS", "LAST SEEN"],
      devices.map((d) => [
        d.guid,
        d.hostname ?? "",
        d.status ?? "",
        d.operating_system ?? "",
        d.last_seen ? new Date(d.last_seen * 1000).toISOString() : "never"
      ])
    ))
  }))).pipe(Command.withDescription("List devices"))

const guid = Args.text({ name: "guid" }).pipe(Args.withDescription("The device's GUID (see `devices list`)"))
const reason = Options.text("reason").pipe(Options.withDescription("Why (required; kept in the audit trail)"))

const control = (name: "revoke" | "quarantine" | "restore" | "delete", description: string) =>
  Command.make(name, { guid, reason }, (opts) =>
    reportFailures(Effect.gen(function*() {
      const answer = yield* (yield* DeviceControl)[name](opts.guid, opts.reason, cliActor())
      yield* Console.log(`${answer.hostname} (${answer.guid}) is now ${answer.status}`)
    }))).pipe(Command.withDescription(description))

export const devicesCommand = Command.make("devices").pipe(
  Command.withDescription("Devices"),
  Command.withSubcommands([
    list,
    control("revoke", "Revoke a device: refresh tokens revoked, access tokens refused from the next request"),
    control("quarantine", "Quarantine a device: its sockets are refused, so nothing is dispatched to it"),
    control("restore", "Make a revoked or quarantined device active again"),
    control("delete", "Delete a device: its row goes and a purge barrier refuses its tokens")
  ])
)
