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

/**
 * How to tell that a column value already has its decoded type (the common SQLite case): a `typeof`
 * answer, NULL allowed or not; any other column type is tested with `Schema.is`.
 */
interface DecodedColumn {
  readonly name: string
  readonly type: "number" | "string" | "boolean" | undefined
  readonly nullable: boolean
  readonly is: (value: unknown) => boolean
}

const keywordType = (ast: SchemaAST.AST): DecodedColumn["type"] =>
  ast._tag === "NumberKeyword" ? "number" : ast._tag === "StringKeyword" ? "string" : ast._tag === "BooleanKeyword" ? "boolean" : undefined

const decodedColumn = (name: string, ast: SchemaAST.AST): DecodedColumn => {
  const is = Schema.is(Schema.make(ast))
  const plain = keywordType(ast)
  if (plain !== undefined) return { name, type: plain, nullable: false, is }
  if (ast._tag === "Union" && ast.types.length === 2) {
    const [a, b] = ast.types
    const isNull = (member: SchemaAST.AST | undefined) => member?._tag === "Literal" && member.literal === null
    const other = isNull(a) ? b : isNull(b) ? a : undefined
    const type = other === undefined ? undefined : keywordType(other)
    if (type !== undefined) return { name, type, nullable: true, is }
  }
  return { name, type: undefined, nullable: false, is }
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
  const columns = Object.entries(row.fields).map(([name, column]) => decodedColumn(name, Schema.typeSchema(column).ast))
  const alreadyDecoded = (value: unknown): value is ReadonlyArray<Schema.Struct.Type<Fields>> => {
    if (!Array.isArray(value)) return false
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i]
      if (typeof item !== "object" || item === null) return false
      const record = item as Record<string, unknown>
      for (let c = 0; c < columns.length; c++) {
        const column = columns[c]
        if (column === undefined) continue
        const cell = record[column.name]
        const decoded = column.type === undefined
          ? column.is(cell)
          : typeof cell === column.type || (cell === null && column.nullable)
        if (!decoded) return false
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
