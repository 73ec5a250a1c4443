// Cross-cutting HTTP behaviour: error bodies that need headers, CORS (stricter than the original's
// Flask-CORS, spec: config-bootstrap-tests.md §3.3), security headers, request logging with a request id.
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpMiddleware from "@effect/platform/HttpMiddleware"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { randomUUID } from "node:crypto"
import { RateLimited, ServiceUnavailable } from "../services/errors.ts"
import { M } from "../layers/metrics.ts"
import { ALL_METHODS, corsGrant, corsHeaders, runsAsPage, securityHeadersFor } from "../layers/webPolicy.ts"

/** `Retry-After` is whole seconds, at least 1 (spec: auth-enrollment.md §1.1). */
export const retryAfterHeader = (seconds: number): string => String(Math.max(1, Math.ceil(seconds)))

export const rateLimitedResponse = (error: RateLimited) =>
  HttpServerResponse.unsafeJson(
    { error: error.error, retry_after: error.retry_after, ...(error.detail === undefined ? {} : { detail: error.detail }) },
    { status: 429, headers: { "retry-after": retryAfterHeader(error.retry_after) } }
  )

export const unavailableResponse = (error: ServiceUnavailable) =>
  HttpServerResponse.unsafeJson(
    { error: error.error, retry_after: error.retry_after },
    { status: 503, headers: { "retry-after": retryAfterHeader(error.retry_after) } }
  )

const isStorageDefect = (defect: unknown): boolean =>
  typeof defect === "object" && defect !== null && (defect as { _tag?: unknown })._tag === "SqlError"

/**
 * Inside the API (before errors are encoded): 429/503 get their `Retry-After` header; a failing or
 * busy database becomes 503 (never a 401 that would make an agent drop its credentials); any other
 * defect is logged and answered 500 `{"error":"internal_error"}`.
 */
export const ApiErrorsLive = HttpApiBuilder.middleware((app) =>
  app.pipe(
    Effect.catchAll((error: unknown) => {
      if (error instanceof RateLimited) return Effect.succeed(rateLimitedResponse(error))
      if (error instanceof ServiceUnavailable) return Effect.succeed(unavailableResponse(error))
      return Effect.fail(error)
    }),
    Effect.catchAllCause((cause) => {
      if (Cause.isInterruptedOnly(cause) || Cause.isFailType(cause) || !Cause.isDie(cause)) return Effect.failCause(cause)
      const defect = Option.getOrUndefined(Cause.dieOption(cause))
      if (isStorageDefect(defect)) {
        return Effect.as(
          Effect.logWarning("http-storage-unavailable", cause),
          unavailableResponse(ServiceUnavailable.storage())
        )
      }
      return Effect.as(
        Effect.logError("http-internal-error", cause),
        HttpServerResponse.unsafeJson({ error: "internal_error" }, { status: 500 })
      )
    })
  ) as typeof app)

/** {@link corsGrant} as HTTP middleware; preflights of a granted origin are answered directly. */
export const cors = (allowedOrigins: ReadonlyArray<string>) =>
  HttpMiddleware.make((app) =>
    Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const grant = corsGrant(allowedOrigins, request.headers["origin"])
      if (grant._tag === "None") return yield* app
      const headers = corsHeaders(allowedOrigins, grant)
      const requestedMethod = request.headers["access-control-request-method"]
      if (request.method === "OPTIONS" && requestedMethod !== undefined) {
        const requestedHeaders = request.headers["access-control-request-headers"]
        return HttpServerResponse.empty({
          status: 200,
          headers: {
            ...headers,
            "access-control-allow-methods": ALL_METHODS,
            ...(requestedHeaders === undefined ? {} : { "access-control-allow-headers": requestedHeaders })
          }
        })
      }
      const response = yield* app
      return HttpServerResponse.setHeaders(response, headers)
    })
  )

/**
 * Security headers on every answer of the app (API, static files, SPA fallback, 404/405, errors).
 * `hsts` per {@link reachedOverHttps}.
 */
export const securityHeaders = (options: { readonly hsts: boolean }) => {
  // Two fixed sets, built once: this runs on every answer, agents' hot paths included.
  const page = securityHeadersFor("text/html", options)
  const resource = securityHeadersFor(undefined, options)
  return HttpMiddleware.make((app) =>
    Effect.map(app, (response) =>
      HttpServerResponse.setHeaders(response, runsAsPage(response.headers["content-type"]) ? page : resource))
  )
}

const sanitiseRequestId = (value: string | undefined): string | undefined =>
  value !== undefined && /^[A-Za-z0-9._:-]{1,128}$/.test(value) ? value : undefined

/**
 * One log line per request — method, path, status, duration, request id — and the id echoed in
 * `X-Request-Id` (a sane client-supplied one is kept). Handler logs carry the same id. Request count
 * and latency go to the metrics under the matched route template.
 */
export const requestLog = (routeOf: (method: string, path: string) => string) => HttpMiddleware.make((app) =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const requestId = sanitiseRequestId(request.headers["x-request-id"]) ?? randomUUID()
    const started = performance.now()
    const path = request.url.split("?")[0] ?? request.url
    const respond = (status: number) =>
      Effect.suspend(() => {
        const seconds = (performance.now() - started) / 1000
        const route = routeOf(request.method, path)
        M.httpRequests.inc({ method: request.method, route, status: String(status) })
        M.httpDuration.observe({ method: request.method, route }, seconds)
        return Effect.logInfo("http-request").pipe(
          Effect.annotateLogs({ method: request.method, path, status, duration_ms: Math.round(seconds * 100_000) / 100 })
        )
      })
    return yield* app.pipe(
      Effect.tap((response) => respond(response.status)),
      Effect.tapErrorCause((cause) => (Cause.isInterruptedOnly(cause) ? Effect.void : respond(500))),
      Effect.map((response) => HttpServerResponse.setHeader(response, "x-request-id", requestId)),
      // The platform's `http.server <METHOD>` span already covers the request.
      Effect.annotateLogs({ request_id: requestId })
    )
  })
)
