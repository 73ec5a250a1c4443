// What the server tells browsers, in one place for the HTTP app and for the answers Socket.IO and the
// listener write themselves: who may read answers cross-origin (CORS: never a wildcard or `null` with
// credentials), and the security headers every answer carries (a strict CSP on pages).
import * as Option from "effect/Option"
import type { Server as IoServer, ServerOptions as IoServerOptions } from "socket.io"

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
export const runsAsPage = (contentType: string | undefined): boolean =>
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
 * The same headers on Socket.IO's own answers (polling responses, the websocket handshake), which
 * never reach the Effect app. Call after `io.attach(server)`: engine.io exists only from then on.
 */
export const addSocketIoSecurityHeaders = (io: IoServer, options: { readonly hsts: boolean }): void => {
  const headers = securityHeadersFor(undefined, options)
  io.engine.on("headers", (responseHeaders: Record<string, unknown>) => {
    Object.assign(responseHeaders, headers)
  })
}
