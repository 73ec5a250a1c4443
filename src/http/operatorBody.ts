// Operator routes read bodies as the original's Flask handlers do: `get_json(silent=True)` — a body
// counts only when the Content-Type is JSON (`application/json` or `application/*+json`) and it parses
// to an object; anything else is `{}`. Unlike the agent routes (force=True), a text/plain or form
// post never reaches the handler as data, so a cross-site form cannot forge operator input.
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as Effect from "effect/Effect"
import type { PayloadTooLarge } from "../services/errors.ts"
import { bodyText, type JsonObject, parseJsonObject } from "./body.ts"

export const isJsonContentType = (header: string | undefined): boolean => {
  const mime = (header ?? "").split(";")[0]?.trim().toLowerCase() ?? ""
  return mime === "application/json" || (mime.startsWith("application/") && mime.endsWith("+json"))
}

export const operatorJson: Effect.Effect<JsonObject, PayloadTooLarge, HttpServerRequest.HttpServerRequest> = Effect.gen(
  function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const text = yield* bodyText
    return isJsonContentType(request.headers["content-type"]) ? parseJsonObject(text) : {}
  }
)
