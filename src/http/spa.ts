// What answers a request no API route matched: the web UI's static files with the original's SPA
// fallback rules, or a JSON 404/405. spec: config-bootstrap-tests.md §3.3 (SRV-SPA)
import type * as HttpPlatform from "@effect/platform/HttpPlatform"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as path from "node:path"

export const notFoundResponse = () => HttpServerResponse.unsafeJson({ error: "not_found" }, { status: 404 })

const realpathOf = (p: string): string | undefined => {
  try {
    return fs.realpathSync(p)
  } catch {
    return undefined
  }
}

const isRegularFile = (p: string): boolean => {
  try {
    return fs.statSync(p).isFile()
  } catch {
    return false
  }
}

/**
 * The static file a URL path names: its real path (symbolic links followed), which must be a
 * regular file strictly inside the static root's real path. A link inside the root pointing out of
 * it, a FIFO or a device is never served, whatever the lexical path says.
 */
export const staticFileFor = (root: string, urlPath: string): string | undefined => {
  let decoded: string
  try {
    decoded = decodeURIComponent(urlPath)
  } catch {
    return undefined
  }
  if (decoded.includes("\0")) return undefined
  const segments = decoded.split("/").filter((s) => s !== "")
  if (segments.length === 0 || segments.some((s) => s === "..")) return undefined
  const full = path.resolve(root, ...segments)
  if (!full.startsWith(path.resolve(root) + path.sep)) return undefined
  const realRoot = realpathOf(root)
  const real = realpathOf(full)
  if (realRoot === undefined || real === undefined || !real.startsWith(realRoot + path.sep)) return undefined
  // serve the resolved path, so what is opened is what was checked (not the lexical path's links again)
  return isRegularFile(real) ? real : undefined
}

export type SpaOutcome =
  | { readonly _tag: "File"; readonly file: string }
  | { readonly _tag: "NotFound" }
  | { readonly _tag: "MethodNotAllowed" }
  | { readonly _tag: "Options" }

/** The fallback decision as a pure function of method, path and the static root's contents. */
export const spaDecision = (root: string, method: string, urlPath: string): SpaOutcome => {
  const indexOr404 = (): SpaOutcome => {
    const index = staticFileFor(root, "/index.html")
    return index !== undefined ? { _tag: "File", file: index } : { _tag: "NotFound" }
  }
  if (urlPath === "/api" || urlPath.startsWith("/api/")) return { _tag: "NotFound" }
  if (method === "OPTIONS") return { _tag: "Options" }
  if (method !== "GET" && method !== "HEAD") return { _tag: "MethodNotAllowed" }
  if (urlPath.startsWith("/socket.io")) return { _tag: "NotFound" }
  if (urlPath === "/" || urlPath === "") return indexOr404()
  const file = staticFileFor(root, urlPath)
  if (file !== undefined) return { _tag: "File", file }
  const last = urlPath.split("/").filter((s) => s !== "").pop() ?? ""
  if (last.includes(".")) return { _tag: "NotFound" }
  return indexOr404()
}

export const spaResponse = (
  root: string
): Effect.Effect<HttpServerResponse.HttpServerResponse, never, HttpServerRequest.HttpServerRequest | HttpPlatform.HttpPlatform> =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const urlPath = request.url.split("?")[0] ?? "/"
    const outcome = spaDecision(root, request.method, urlPath)
    switch (outcome._tag) {
      case "NotFound":
        return notFoundResponse()
      case "MethodNotAllowed":
        return HttpServerResponse.unsafeJson({ error: "method_not_allowed" }, { status: 405, headers: { allow: "GET, HEAD, OPTIONS" } })
      case "Options":
        return HttpServerResponse.empty({ status: 200, headers: { allow: "GET, HEAD, OPTIONS" } })
      case "File":
        return yield* HttpServerResponse.file(outcome.file).pipe(Effect.catchAll(() => Effect.succeed(notFoundResponse())))
    }
  })
