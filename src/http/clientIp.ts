// The client address as the original sees it behind Werkzeug's ProxyFix (one trusted hop): the last
// `X-Forwarded-For` entry when present, else the socket peer. spec: config-bootstrap-tests.md §3.3
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"

/** IPv4-mapped IPv6 addresses (`::ffff:127.0.0.1`) are reported as the IPv4 address. */
export const unmapIpv4 = (address: string): string =>
  address.startsWith("::ffff:") && address.includes(".") ? address.slice(7) : address

export const clientIpFrom = (forwardedFor: string | undefined, remote: Option.Option<string>): string => {
  const hops = (forwardedFor ?? "").split(",").map((p) => p.trim()).filter((p) => p !== "")
  const forwarded = hops[hops.length - 1]
  return unmapIpv4(forwarded ?? Option.getOrElse(remote, () => "unknown"))
}

export const clientIp: Effect.Effect<string, never, HttpServerRequest.HttpServerRequest> = Effect.map(
  HttpServerRequest.HttpServerRequest,
  (request) => clientIpFrom(request.headers["x-forwarded-for"], request.remoteAddress)
)
