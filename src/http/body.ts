// Request bodies read the way the original reads them: Flask `get_json(force=True, silent=True)` —
// the Content-Type is ignored and an unparseable (or non-object) body counts as `{}`.
// spec: auth-enrollment.md §1
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as IncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { EngineConfig } from "../layers/Config.ts"
import { PayloadTooLarge } from "../services/errors.ts"

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

/** The body as a JSON object, leniently (anything else is `{}`). */
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
