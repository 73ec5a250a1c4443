// The real client address: the socket peer, unless that peer is a configured trusted proxy
// (BOREALIS_TRUSTED_PROXIES, default loopback) — then `X-Forwarded-For` is walked from the right past
// every trusted hop. A client that is not a trusted proxy cannot choose the address that rate limits,
// login back-off and the audit trail see. (The original trusted one hop from anyone, via ProxyFix.)
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import proxyAddr from "proxy-addr"
import { EngineConfig } from "../layers/Config.ts"

/** IPv4-mapped IPv6 addresses (`::ffff:127.0.0.1`) are reported as the IPv4 address. */
export const unmapIpv4 = (address: string): string =>
  address.startsWith("::ffff:") && address.includes(".") ? address.slice(7) : address

type Trust = (address: string, hop: number) => boolean

const compiled = new WeakMap<ReadonlyArray<string>, Trust>()

/** The trust function of a proxy list (compiled once per configuration). */
export const trustOf = (proxies: ReadonlyArray<string>): Trust => {
  let trust = compiled.get(proxies)
  if (trust === undefined) {
    trust = proxies.length === 0 ? () => false : proxyAddr.compile([...proxies])
    compiled.set(proxies, trust)
  }
  return trust
}

/** Is the socket peer a trusted proxy (whose forwarded headers may be believed)? */
export const peerIsTrusted = (remote: Option.Option<string>, proxies: ReadonlyArray<string>): boolean =>
  Option.isSome(remote) && trustOf(proxies)(remote.value, 0)

export const clientIpFrom = (forwardedFor: string | undefined, remote: Option.Option<string>, proxies: ReadonlyArray<string>): string => {
  const peer = Option.getOrUndefined(remote)
  if (peer === undefined) return "unknown"
  const request = { socket: { remoteAddress: peer }, headers: forwardedFor === undefined ? {} : { "x-forwarded-for": forwardedFor } }
  // proxy-addr reads only `socket.remoteAddress` and the `x-forwarded-for` header.
  return unmapIpv4(proxyAddr(request as never, trustOf(proxies)))
}

export const clientIp: Effect.Effect<string, never, HttpServerRequest.HttpServerRequest | EngineConfig> = Effect.gen(function*() {
  const request = yield* HttpServerRequest.HttpServerRequest
  const { trustedProxies } = yield* EngineConfig
  return clientIpFrom(request.headers["x-forwarded-for"], request.remoteAddress, trustedProxies)
})
