// The URL a client addressed, as DPoP's `htu` must name it: BOREALIS_PUBLIC_BASE_URL when set, else the
// forwarded (one trusted hop, like Werkzeug's ProxyFix) or direct scheme and host, plus the path.
// spec: auth-enrollment.md §4
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { unmapIpv4 } from "./clientIp.ts"

const firstHop = (value: string | undefined): string | undefined => {
  const v = value?.split(",")[0]?.trim()
  return v === undefined || v === "" ? undefined : v
}

export const publicRequestUrl = (
  request: { readonly url: string; readonly headers: Readonly<Record<string, string | undefined>> },
  publicBase: Option.Option<string>,
  tls: boolean
): string => {
  const path = request.url.split("?")[0]!.split("#")[0]!
  if (Option.isSome(publicBase)) return `${publicBase.value}${path}`
  const proto = firstHop(request.headers["x-forwarded-proto"]) ?? (tls ? "https" : "http")
  const host = firstHop(request.headers["x-forwarded-host"]) ?? request.headers["host"] ?? "localhost"
  return `${proto}://${host}${path}`
}

/** `DPoP` header values (several headers arrive joined by commas; a compact JWS has none). */
export const dpopHeaderValues = (header: string | undefined): ReadonlyArray<string> =>
  header === undefined ? [] : header.split(",").map((s) => s.trim()).filter((s) => s !== "")

/** The client address for enrollment rate limits: first `X-Forwarded-For` entry, else the peer. */
export const enrollmentRemoteAddr = Effect.map(HttpServerRequest.HttpServerRequest, (request) => {
  const forwarded = firstHop(request.headers["x-forwarded-for"])
  if (forwarded !== undefined) return forwarded
  return unmapIpv4(Option.getOrElse(request.remoteAddress, () => "unknown").trim())
})
