// Schema pieces for request bodies and socket payloads read the way the original reads them: Python's
// `str(x or "").strip()`, `int(x)`, truthiness, "must be a string". Each piece is a schema from
// `unknown` (an absent key arrives as `undefined`) to a typed value, failing with the wire code the
// spec names (`hostname_required`, `invalid_request`…). A `lenientStruct` of pieces is the one schema
// per payload: the API declares it (`setPayload`, so the OpenAPI document shows its typed side) and
// the edge decodes with it; the first failing field, in declaration order, gives the answer.
import * as Either from "effect/Either"
import * as JSONSchema from "effect/JSONSchema"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Record from "effect/Record"
import * as Schema from "effect/Schema"
import * as SchemaAST from "effect/SchemaAST"
import { isRecord, type JsonRecord, pyInt, pyStrOrEmpty, pyText, pyTruthy } from "./pyValues.ts"

/** How a piece reads one value: `Right` the typed value, `Left` the wire code it fails with. */
export type Reader<A> = (value: unknown) => Either.Either<A, string>

/**
 * A piece: `read` applied to whatever the key holds (`undefined` when absent). `to` is what the value
 * is once read, and what the OpenAPI document shows (annotate it with a description).
 */
export const piece = <A>(to: Schema.Schema<A>, read: Reader<A>): Schema.Schema<A, unknown> =>
  Schema.transformOrFail(Schema.Unknown, Schema.typeSchema(to), {
    strict: true,
    decode: (value, _, ast) =>
      Either.match(read(value), {
        onLeft: (code) => ParseResult.fail(new ParseResult.Type(ast, value, code)),
        onRight: ParseResult.succeed
      }),
    encode: ParseResult.succeed
  })

const ok = Either.right
const no = Either.left

/** A reader that then checks its value: `undefined` from `check` accepts, a string is the wire code. */
export const checked = <A>(read: Reader<A>, check: (a: A) => string | undefined): Reader<A> => (value) =>
  Either.flatMap(read(value), (a) => {
    const code = check(a)
    return code === undefined ? ok(a) : no(code)
  })

/** Readers, for composing with `checked` before they become pieces. */
export const read = {
  /** `str(x or "").strip()`. */
  text: (value: unknown) => ok(pyText(value)),
  /** `str(x or "")`, untrimmed. */
  str: (value: unknown) => ok(pyStrOrEmpty(value)),
  /** `str(x or "").strip()`, failing with `code` when that is empty. */
  requiredText: (code: string): Reader<string> => (value) => {
    const text = pyText(value)
    return text === "" ? no(code) : ok(text)
  },
  /** A JSON string as sent (not trimmed), failing with `code` for anything else, absent included. */
  string: (code: string): Reader<string> => (value) => (typeof value === "string" ? ok(value) : no(code)),
  /** A JSON string if one was sent; anything else is `undefined`. */
  stringOrUndefined: (value: unknown) => ok(typeof value === "string" ? value : undefined),
  /** Python truthiness. */
  truthy: (value: unknown) => ok(pyTruthy(value)),
  /** Exactly JSON `true` (`rotate: "yes"` is not a request to rotate). */
  isTrue: (value: unknown) => ok(value === true),
  /** Python `int(x)` if it would succeed, else `undefined`. */
  int: (value: unknown) => ok(pyInt(value)),
  /** A JSON object, else `{}`. */
  record: (value: unknown): Either.Either<JsonRecord, string> => ok(isRecord(value) ? value : {}),
  /** Whatever was sent, untouched (for values the service reads further, such as inventory blobs). */
  any: (value: unknown) => ok(value)
} as const

const Unknown = Schema.Unknown
const UnknownRecord = Schema.Record({ key: Schema.String, value: Schema.Unknown })

/** Ready-made pieces for the common readings. */
export const Lenient = {
  text: piece(Schema.String, read.text),
  str: piece(Schema.String, read.str),
  requiredText: (code: string, doc?: Schema.Annotations.Schema<string>) => piece(Schema.String.annotations(doc ?? {}), read.requiredText(code)),
  string: (code: string, doc?: Schema.Annotations.Schema<string>) => piece(Schema.String.annotations(doc ?? {}), read.string(code)),
  stringOrUndefined: piece(Schema.UndefinedOr(Schema.String), read.stringOrUndefined),
  truthy: piece(Schema.Boolean, read.truthy),
  isTrue: piece(Schema.Boolean, read.isTrue),
  int: piece(Schema.UndefinedOr(Schema.Number), read.int),
  record: piece(UnknownRecord, read.record),
  any: piece(Unknown, read.any)
} as const

/** A struct field read by a piece whether or not the key is present. */
export const field = <A>(p: Schema.Schema<A, unknown>) =>
  Schema.optionalToRequired(Schema.Unknown, p, { decode: Option.getOrUndefined, encode: Option.some })

type Pieces = Readonly<Record<string, Schema.Schema<any, unknown>>>
type Fields<P extends Pieces> = { readonly [K in keyof P]: ReturnType<typeof field<Schema.Schema.Type<P[K]>>> }

/**
 * The payload schema of a lenient body: each piece under its key, decoded in declaration order. Its
 * OpenAPI document is its typed side: a field is listed as required when its piece refuses absence,
 * and extra keys are allowed (they are ignored, as the original ignores them).
 */
export const lenientStruct = <P extends Pieces>(pieces: P, identifier: string) => {
  // One property signature per piece; TypeScript cannot follow a mapped type through Record.map.
  const fields = Record.map(pieces, field) as Fields<P>
  const struct = Schema.Struct(fields)
  const typed = JSONSchema.make(Schema.typeSchema(struct)) as { properties?: Record<string, unknown> }
  const required = Object.entries(pieces)
    .filter(([, p]) => Either.isLeft(Schema.decodeUnknownEither(p)(undefined)))
    .map(([k]) => k)
  return struct.annotations({
    identifier,
    jsonSchema: { type: "object", required, properties: typed.properties ?? {} }
  })
}

/**
 * A lenient body whose fields, once each is read by its piece, are settled together by `rule`: an
 * alias (`ttl_hours`, else `ttl`), or a check that needs two fields (a hash, else a password). `rule`
 * answers the typed value or the wire code; it runs only when every field's own piece has passed, so
 * field codes still win in declaration order. The OpenAPI document stays the struct's.
 */
export const lenientRule = <A, I, B>(struct: Schema.Schema<A, I>, to: Schema.Schema<B>, rule: (fields: A) => Either.Either<B, string>) =>
  Schema.transformOrFail(struct, Schema.typeSchema(to), {
    strict: true,
    decode: (fields, _, ast) =>
      Either.match(rule(fields), {
        onLeft: (code) => ParseResult.fail(new ParseResult.Type(ast, fields, code)),
        onRight: ParseResult.succeed
      }),
    encode: (value, _, ast) => ParseResult.fail(new ParseResult.Forbidden(ast, value, "a request body is only decoded"))
  })

/**
 * A lenient body's OpenAPI document listing `keys` as required: fields whose pieces accept absence
 * (they read it as empty) but that the service then requires, so the document says what a client
 * must send. Decoding is unchanged.
 */
export const documentRequired = <S extends Schema.Schema.Any>(schema: S, keys: ReadonlyArray<string>): S => {
  const doc = Option.getOrElse(SchemaAST.getJSONSchemaAnnotation(schema.ast), () => ({}))
  // the identifier is set again: the document names a re-annotated schema only when it is
  const identifier = Option.getOrUndefined(SchemaAST.getIdentifierAnnotation(schema.ast))
  return schema.annotations({ ...(identifier === undefined ? {} : { identifier }), jsonSchema: { ...doc, required: keys } }) as S
}

/** The wire code of a failed decode: the message of its first issue. */
export const wireCode = (error: ParseResult.ParseError): string =>
  ParseResult.ArrayFormatter.formatErrorSync(error)[0]?.message ?? "invalid_request"

/**
 * A decoder compiled once: the typed value, or the wire code of the first failing field. Build it at
 * module or layer level, never per call.
 */
export const lenientDecoder = <A, I>(schema: Schema.Schema<A, I>): ((value: unknown) => Either.Either<A, string>) => {
  const decode = Schema.decodeUnknownEither(schema, { errors: "first" })
  return (value) => Either.mapLeft(decode(value), wireCode)
}
