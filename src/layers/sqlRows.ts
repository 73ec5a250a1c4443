// Column schemas for decoding SQL rows the same way whatever the dialect returns: SQLite hands back
// numbers and 0/1, PostgreSQL bigint columns as strings, booleans as booleans, bytea as Buffers.
// Repositories build their row schemas from these and read through `SqlSchema` (findAll / findOne /
// single / void), so a row that is not what the code expects is a loud defect, not a silent `undefined`.
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type * as SchemaAST from "effect/SchemaAST"

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

/**
 * A column its reader takes leniently, kept as the driver returns it: SQLite's dynamic typing lets a
 * column hold another type than it declares (an INTEGER column holding text an older writer left).
 */
export const Scalar = Schema.Union(Schema.String, Schema.Number, Schema.BigIntFromSelf, Schema.Boolean)

/** The same column, NULL allowed. */
export const Nullable = Schema.NullOr

/** `count(*) AS n` and friends. */
export const CountRow = Schema.Struct({ n: Num })

const isNumber = (value: unknown) => typeof value === "number"
const isString = (value: unknown) => typeof value === "string"
const isBoolean = (value: unknown) => typeof value === "boolean"

/** A plain test that a column value already has the decoded type (the common SQLite case). */
const decodedTest = (ast: SchemaAST.AST): ((value: unknown) => boolean) => {
  switch (ast._tag) {
    case "NumberKeyword":
      return isNumber
    case "StringKeyword":
      return isString
    case "BooleanKeyword":
      return isBoolean
    case "Literal": {
      const literal = ast.literal
      return (value) => value === literal
    }
    case "Union": {
      const [first, second, ...rest] = ast.types.map(decodedTest)
      // NULL-able columns, the common union, without a loop
      if (first !== undefined && second !== undefined && rest.length === 0) return (value) => first(value) || second(value)
      const members = ast.types.map(decodedTest)
      return (value) => members.some((test) => test(value))
    }
    default:
      return Schema.is(Schema.make(ast))
  }
}

/**
 * The rows of a query that returns thousands of them on a hot path (the scheduler reads every enabled
 * job every minute), as one schema: when every column of every row already has its decoded type
 * (SQLite's numbers and text), the rows are taken as they are after plain type tests; any other result
 * (PostgreSQL's int8 strings, 0/1 for a boolean column) is decoded row by row with `row`. Decode with
 * `Schema.decodeUnknown(BulkRows(row))` built once (`SqlSchema.findAll` decodes element by element,
 * which costs more than such a query itself).
 */
export const BulkRows = <Fields extends Readonly<Record<string, Schema.Schema.AnyNoContext>>>(row: Schema.Struct<Fields>) => {
  const rows = Schema.Array(row)
  const names = Object.keys(row.fields)
  const tests = Object.values(row.fields).map((column) => decodedTest(Schema.typeSchema(column).ast))
  const alreadyDecoded = (value: unknown): value is ReadonlyArray<Schema.Struct.Type<Fields>> => {
    if (!Array.isArray(value)) return false
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i]
      if (typeof item !== "object" || item === null) return false
      const columns = item as Record<string, unknown>
      for (let c = 0; c < names.length; c++) {
        const test = tests[c]
        const name = names[c]
        if (test === undefined || name === undefined || !test(columns[name])) return false
      }
    }
    return true
  }
  return Schema.declare([rows], {
    decode: (schema) => {
      const decodeRows = ParseResult.decodeUnknown(schema)
      return (value, options) => (alreadyDecoded(value) ? ParseResult.succeed(value) : decodeRows(value, options))
    },
    encode: (schema) => ParseResult.encodeUnknown(schema)
  }).annotations({ identifier: "SqlBulkRows" })
}
