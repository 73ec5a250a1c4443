// What operators send to the agents directory: `POST /api/agent/provision`, its one schema that the
// API declares and the HTTP edge decodes with. spec: realtime-jobs.md §3.2
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { lenientStruct, piece } from "../lenientSchema.ts"

/** The original answers every shape problem with this one message. */
const MISSING = "Missing agent_id or roles[] in provision payload."

export const ProvisionRequest = lenientStruct({
  agent_id: piece(
    Schema.String.annotations({ description: "the agent to configure (its sockets only receive `agent_config`)" }),
    (value) => (typeof value === "string" && value !== "" ? Either.right(value) : Either.left(MISSING))
  ),
  roles: piece(
    Schema.Array(Schema.Unknown).annotations({ description: "role configurations, passed to the agent as sent; default []" }),
    (value) => (value === undefined ? Either.right([]) : Array.isArray(value) ? Either.right(value) : Either.left(MISSING))
  )
}, "ProvisionRequest")
export type ProvisionRequest = typeof ProvisionRequest.Type
