// The simulator and benchmarks generate load only against this machine's loopback interface.
import { isIPv4 } from "node:net"

const LOOPBACK_NAMES = new Set(["localhost", "127.0.0.1", "::1", "[::1]"])

export const isLoopbackHost = (hostname: string): boolean =>
  LOOPBACK_NAMES.has(hostname.toLowerCase()) || (isIPv4(hostname) && hostname.startsWith("127."))

/** Parse a base URL (http/https/ws/wss) and refuse anything that is not loopback. */
export const assertLoopbackUrl = (raw: string): URL => {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw new Error(`not a URL: ${raw}`)
  }
  if (!["http:", "https:", "ws:", "wss:"].includes(url.protocol)) throw new Error(`unsupported scheme in ${raw}`)
  if (!isLoopbackHost(url.hostname)) throw new Error(`refusing to generate load against ${url.hostname}: only loopback addresses (127.0.0.1, localhost, ::1) are allowed`)
  return url
}

/**
 * Source address for worker `w` when the target is an IPv4 loopback literal: 127.0.0.(2+w), so every
 * worker has its own ephemeral port range (about 28k ports each) and a restart's TIME_WAIT sockets
 * never starve reconnects. Null for other targets (IPv6, names).
 */
export const sourceAddressFor = (url: URL, worker: number): string | null =>
  isIPv4(url.hostname) && url.hostname.startsWith("127.") && worker >= 0 && worker < 250 ? `127.0.0.${2 + worker}` : null
