// `devices list`: the enrolled devices.
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import { DeviceDirectory } from "../services/devices/DeviceDirectory.ts"
import { printJson, reportFailures, table } from "./runtime.ts"

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

export const devicesCommand = Command.make("devices").pipe(
  Command.withDescription("Devices"),
  Command.withSubcommands([list])
)
