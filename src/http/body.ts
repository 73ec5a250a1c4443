// Request bodies read the way the original reads them, then decoded with the route's payload schema
// (the one its API declares). Agent routes read as Flask `get_json(force=True, silent=True)`: the
// Content-Type is ignored and an unparseable (or non-object) body counts as `{}`. Operator routes read
// as `get_json(silent=True)`: a body counts only when the Content-Type is JSON (`application/json` or
// `application/*+json`), so a cross-site text/plain or form post never reaches a handler as data.
// spec: auth-enrollment.md §1
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as IncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type * as Schema from "effect/Schema"
import { EngineConfig } from "../layers/Config.ts"
import { BadRequest, PayloadTooLarge } from "../services/errors.ts"
import { lenientDecoder } from "../services/lenientSchema.ts"

export type JsonObject = Readonly<Record<string, unknown>>

const tooLarge = new PayloadTooLarge({ error: "payload_too_large" })

/** The raw body text, refusing bodies above the configured limit before reading them. */
export const bodyText: Effect.Effect<string, PayloadTooLarge, HttpServerRequest.HttpServerRequest> = Effect.gen(function*() {
  const request = yield* HttpServerRequest.HttpServerRequest
  const limit = yield* IncomingMessage.MaxBodySize
  const declared = Number(request.headers["content-length"] ?? "0")
  if (Option.isSome(limit) && Number.isFinite(declared) && declared > Number(limit.value)) return yield* tooLarge
  return yield* request.text.pipe(
    Effect.catchAll((error) =>
      String((error as { cause?: unknown }).cause).includes("maxBytes") ? Effect.fail(tooLarge) : Effect.succeed("")
    )
  )
})

export const parseJsonObject = (text: string): JsonObject => {
  if (text.trim() === "") return {}
  try {
    const value: unknown = JSON.parse(text)
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as JsonObject) : {}
  } catch {
    return {}
  }
}

/** The body as a JSON object, leniently (anything else is `{}`): agent routes. */
export const jsonObject: Effect.Effect<JsonObject, PayloadTooLarge, HttpServerRequest.HttpServerRequest> = Effect.map(
  bodyText,
  parseJsonObject
)

/**
 * A route that takes no credentials (enrollment, refresh, login, MFA, recap reports) reads its body
 * under the lower BOREALIS_MAX_UNAUTHENTICATED_BODY_BYTES limit: nobody can make the server buffer
 * megabytes before saying who they are.
 */
export const beforeAuthentication = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R | EngineConfig> =>
  Effect.flatMap(EngineConfig, (config) =>
    Effect.provideService(
      effect,
      IncomingMessage.MaxBodySize,
      // Never above the general limit (BOREALIS_MAX_BODY_BYTES) when that one is set lower.
      Option.some(Math.min(config.http.maxUnauthenticatedBodyBytes, config.maxBodyBytes) as never)
    ))

export const isJsonContentType = (header: string | undefined): boolean => {
  const mime = (header ?? "").split(";")[0]?.trim().toLowerCase() ?? ""
  return mime === "application/json" || (mime.startsWith("application/") && mime.endsWith("+json"))
}

/** The body as a JSON object when it is declared JSON, else `{}`: operator routes. */
export const operatorJson: Effect.Effect<JsonObject, PayloadTooLarge, HttpServerRequest.HttpServerRequest> = Effect.gen(
  function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const text = yield* bodyText
    return isJsonContentType(request.headers["content-type"]) ? parseJsonObject(text) : {}
  }
)

const decodedWith = <A, I, E>(body: Effect.Effect<JsonObject, E, HttpServerRequest.HttpServerRequest>, schema: Schema.Schema<A, I>) => {
  const decode = lenientDecoder(schema)
  return Effect.flatMap(body, (value) =>
    Either.match(decode(value), {
      onLeft: (code) => Effect.fail(new BadRequest({ error: code })),
      onRight: Effect.succeed
    }))
}

/**
 * An agent route's body decoded with its payload schema: the typed payload, or 400 `{"error": code}`
 * with the code of the first failing field. Call at module or layer level (the decoder is compiled once).
 */
export const agentPayload = <A, I>(schema: Schema.Schema<A, I>): Effect.Effect<A, BadRequest | PayloadTooLarge, HttpServerRequest.HttpServerRequest> =>
  decodedWith(jsonObject, schema)

/** An operator route's body decoded with its payload schema, as {@link agentPayload}. */
export const operatorPayload = <A, I>(schema: Schema.Schema<A, I>): Effect.Effect<A, BadRequest | PayloadTooLarge, HttpServerRequest.HttpServerRequest> =>
  decodedWith(operatorJson, schema)
