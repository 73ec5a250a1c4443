// Column schemas for decoding SQL rows the same way whatever the dialect returns: SQLite hands back
// numbers and 0/1, PostgreSQL bigint columns as strings, booleans as booleans, bytea as Buffers.
// Repositories build their row schemas from these and read through `SqlSchema` (findAll / findOne /
// single / void), so a row that is not what the code expects is a loud defect, not a silent `undefined`.
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"

const NUMERIC = /^\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*$/

/** An integer or real column: a number, a bigint, or a numeric string (PostgreSQL int8 / numeric). */
export const Num = Schema.transformOrFail(Schema.Union(Schema.Number, Schema.BigIntFromSelf, Schema.String), Schema.Number, {
  strict: true,
  decode: (value, _, ast) => {
    if (typeof value === "number") return ParseResult.succeed(value)
    if (typeof value === "bigint") return ParseResult.succeed(Number(value))
    return NUMERIC.test(value) ? ParseResult.succeed(Number(value)) : ParseResult.fail(new ParseResult.Type(ast, value, `not a number: ${JSON.stringify(value)}`))
  },
  encode: ParseResult.succeed
}).annotations({ identifier: "SqlNumber" })

/** A boolean column: SQLite's 0/1, PostgreSQL's true/false (or its text forms). */
export const Bool = Schema.transformOrFail(Schema.Union(Schema.Boolean, Schema.Number, Schema.BigIntFromSelf, Schema.String), Schema.Boolean, {
  strict: true,
  decode: (value, _, ast) => {
    if (typeof value === "boolean") return ParseResult.succeed(value)
    if (typeof value === "number" || typeof value === "bigint") return ParseResult.succeed(Number(value) !== 0)
    switch (value.trim().toLowerCase()) {
      case "t":
      case "true":
      case "1":
        return ParseResult.succeed(true)
      case "f":
      case "false":
      case "0":
        return ParseResult.succeed(false)
      default:
        return ParseResult.fail(new ParseResult.Type(ast, value, `not a boolean: ${JSON.stringify(value)}`))
    }
  },
  encode: ParseResult.succeed
}).annotations({ identifier: "SqlBoolean" })

/** A text column. */
export const Text = Schema.String

/** A text column holding a timestamp: kept as text; a driver's `Date` becomes its ISO form. */
export const TimestampText = Schema.transform(Schema.Union(Schema.String, Schema.DateFromSelf), Schema.String, {
  strict: true,
  decode: (value) => (typeof value === "string" ? value : value.toISOString()),
  encode: (value) => value
}).annotations({ identifier: "SqlTimestampText" })

/** A blob / bytea column (Node's Buffer is a Uint8Array). */
export const Bytes = Schema.Uint8ArrayFromSelf

/** The same column, NULL allowed. */
export const Nullable = Schema.NullOr

/** `count(*) AS n` and friends. */
export const CountRow = Schema.Struct({ n: Num })
