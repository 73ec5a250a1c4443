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
import type { Server as IoServer, ServerOptions as IoServerOptions } from "socket.io"
import { RateLimited, ServiceUnavailable } from "../services/errors.ts"
import { M } from "../services/metrics/metrics.ts"

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

export const ALL_METHODS = "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT"

/**
 * Who may read answers cross-origin. An origin listed in BOREALIS_CORS_ALLOWED_ORIGINS is echoed with
 * credentials (`Vary: Origin`); with `*` configured any other origin gets `*` and never credentials;
 * `null` (sandboxed frames, `file:` pages, some redirects) is never echoed. Flask-CORS echoed any
 * origin with credentials under `*`, so other pages could read answers made with an operator's cookies.
 */
export type CorsGrant =
  | { readonly _tag: "None" }
  | { readonly _tag: "Any" }
  | { readonly _tag: "Credentialed"; readonly origin: string }

export const corsGrant = (allowedOrigins: ReadonlyArray<string>, origin: string | undefined): CorsGrant => {
  if (origin === undefined) return { _tag: "None" }
  if (origin !== "null" && origin !== "*" && allowedOrigins.includes(origin)) return { _tag: "Credentialed", origin }
  return allowedOrigins.includes("*") ? { _tag: "Any" } : { _tag: "None" }
}

/** The `Access-Control-*` (and `Vary`) headers of a grant; none for `None`. */
export const corsHeaders = (allowedOrigins: ReadonlyArray<string>, grant: CorsGrant): Record<string, string> => {
  switch (grant._tag) {
    case "None":
      return {}
    case "Credentialed":
      return { "access-control-allow-origin": grant.origin, "access-control-allow-credentials": "true", vary: "Origin" }
    case "Any":
      // with listed origins too, the answer still depends on Origin, so caches must key on it
      return allowedOrigins.some((o) => o !== "*")
        ? { "access-control-allow-origin": "*", vary: "Origin" }
        : { "access-control-allow-origin": "*" }
  }
}

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
 * The same rule for Socket.IO's own answers (engine.io runs the `cors` package per request):
 * pass as `new Server({ cors: socketIoCors(origins) })`.
 */
export const socketIoCors = (allowedOrigins: ReadonlyArray<string>): NonNullable<IoServerOptions["cors"]> =>
  (request, callback) => {
    const grant = corsGrant(allowedOrigins, request.headers.origin)
    switch (grant._tag) {
      case "None":
        return callback(null, { origin: false })
      case "Any":
        return callback(null, { origin: "*", credentials: false })
      case "Credentialed":
        return callback(null, { origin: grant.origin, credentials: true })
    }
  }

/**
 * Policy for pages and scripts the server serves (the web console): no inline or foreign script;
 * Socket.IO over same-origin websockets (`'self'` covers wss: in CSP3); screenshots as data:/blob:
 * images; inline styles (React UI kits set them); data: fonts (Vite inlines small assets).
 */
export const PAGE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'self'",
  "img-src 'self' data: blob:",
  "style-src 'self' 'unsafe-inline'",
  "font-src 'self' data:",
  "connect-src 'self'"
].join("; ")

/** Every other answer (JSON, images, SVG, text): nothing may run or load if one is opened as a page. */
export const RESOURCE_CSP = "default-src 'none'; frame-ancestors 'none'"

export const HSTS = "max-age=31536000"

/**
 * Console URLs name devices, GUIDs and approvals, and the server's own address is internal: none of
 * it goes to sites the console links to. Same-origin fetch, XHR and websockets still send `Origin`
 * (Socket.IO's origin check needs it); nothing here reads `Referer`.
 */
export const REFERRER_POLICY = "no-referrer"

/** Documents run script, and a script loaded as a worker runs under its own answer's policy. */
const runsAsPage = (contentType: string | undefined): boolean =>
  contentType !== undefined && /^\s*(text\/html|application\/xhtml\+xml|text\/javascript|application\/javascript)\s*(;|$)/i.test(contentType)

export const securityHeadersFor = (contentType: string | undefined, options: { readonly hsts: boolean }): Record<string, string> => ({
  "x-content-type-options": "nosniff",
  "referrer-policy": REFERRER_POLICY,
  "x-frame-options": "DENY",
  "content-security-policy": runsAsPage(contentType) ? PAGE_CSP : RESOURCE_CSP,
  ...(options.hsts ? { "strict-transport-security": HSTS } : {})
})

/** Whether browsers reach us over HTTPS: our own TLS listener, or a TLS-terminating proxy in front. */
export const reachedOverHttps = (listenerTls: boolean, publicBaseUrl: Option.Option<string>): boolean =>
  listenerTls || Option.exists(publicBaseUrl, (url) => url.toLowerCase().startsWith("https:"))

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

/**
 * The same headers on Socket.IO's own answers (polling responses, the websocket handshake), which
 * never reach the Effect app. Call after `io.attach(server)`: engine.io exists only from then on.
 */
export const addSocketIoSecurityHeaders = (io: IoServer, options: { readonly hsts: boolean }): void => {
  const headers = securityHeadersFor(undefined, options)
  io.engine.on("headers", (responseHeaders: Record<string, unknown>) => {
    Object.assign(responseHeaders, headers)
  })
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
