// Query parameters as Flask's `request.args.get` reads them: the first value when a name repeats, or
// nothing. Declared optional so that a missing parameter reaches the service, which answers in the
// spec's words (e.g. `{"error":"reason is required"}`), never the router's decode error.
import * as Schema from "effect/Schema"

export const FirstParam = Schema.optional(
  Schema.transform(Schema.Union(Schema.String, Schema.Array(Schema.String)), Schema.UndefinedOr(Schema.String), {
    strict: true,
    decode: (value) => (typeof value === "string" ? value : value[0]),
    encode: (value) => value ?? []
  })
)
