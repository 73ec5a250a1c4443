// How many connections each client address holds open before authenticating, so one address cannot
// exhaust the server's file descriptors. A connection stops counting once it authenticates: a whole
// site's agents share one NAT address. Foundation module: Node only, no service imports.
import type * as net from "node:net"
import type * as tls from "node:tls"

/** A counted connection; the raw socket and (under TLS) its TLS socket both point at it. */
interface Tracked {
  counted: boolean
  readonly release: () => void
}

// Module-wide so `markAuthenticated` needs nothing but the socket a request arrived on; weak, so a
// closed socket is forgotten with it.
const tracked = new WeakMap<object, Tracked>()

/**
 * The connection a request arrived on (`request.socket`: the raw TCP socket, or under HTTPS the TLS
 * socket) has authenticated: it no longer counts against its address's cap. Idempotent; a socket
 * the guard never saw (no cap configured, another listener) is ignored.
 */
export const markAuthenticated = (socket: net.Socket | tls.TLSSocket): void => {
  const entry = tracked.get(socket)
  if (entry !== undefined && entry.counted) {
    entry.counted = false
    entry.release()
  }
}

/** Whether the guard counts this connection as not yet authenticated. */
export const isCountedUnauthenticated = (socket: net.Socket | tls.TLSSocket): boolean => tracked.get(socket)?.counted === true

const expandIpv6 = (address: string): ReadonlyArray<string> | undefined => {
  const [head, tail, ...rest] = address.split("::")
  if (rest.length > 0 || head === undefined) return undefined
  const left = head === "" ? [] : head.split(":")
  const right = tail === undefined || tail === "" ? [] : tail.split(":")
  const last = right.length > 0 ? right[right.length - 1] : left[left.length - 1]
  // An embedded dotted IPv4 tail takes two groups.
  const groups = 8 - (last !== undefined && last.includes(".") ? 1 : 0)
  const fill = tail === undefined ? 0 : groups - left.length - right.length
  if (fill < 0) return undefined
  return [...left, ...Array<string>(fill).fill("0"), ...right]
}

/**
 * The key a client's connections are counted under: the IPv4 address (IPv4-mapped IPv6 unmapped), or
 * the /64 prefix of an IPv6 address — one subscriber usually holds a whole /64, so counting single
 * IPv6 addresses would cap nothing.
 */
export const clientKey = (remoteAddress: string): string => {
  const address = remoteAddress.split("%")[0] ?? remoteAddress
  if (address.startsWith("::ffff:") && address.includes(".")) return address.slice(7)
  if (!address.includes(":")) return address
  const groups = expandIpv6(address.toLowerCase())
  if (groups === undefined) return address
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, "")).join(":")}::/64`
}

const connectionId = (socket: net.Socket): string =>
  `${socket.remoteAddress}|${socket.remotePort}|${socket.localAddress}|${socket.localPort}`

export interface ConnectionGuardOptions {
  /** Unauthenticated connections allowed per client key; 0 = no cap (nothing is tracked). */
  readonly maxUnauthenticatedPerAddress: number
  /** Peers never counted (trusted reverse proxies: every client behind them shares their address). */
  readonly exempt?: (remoteAddress: string) => boolean
  /** The listener speaks TLS: request sockets are TLS sockets to be linked with `linkTls`. */
  readonly tls?: boolean
}

/** One listener's accounting. */
export interface ConnectionGuard {
  /**
   * Count a new raw connection (`'connection'` event). False when its client key already holds the
   * maximum of unauthenticated connections: the caller destroys the socket.
   */
  readonly admit: (socket: net.Socket) => boolean
  /** Under TLS (`'secureConnection'`): make the TLS socket mark the same connection as its raw socket. */
  readonly linkTls: (socket: tls.TLSSocket) => void
  /** Unauthenticated connections currently counted for a remote address. */
  readonly unauthenticated: (remoteAddress: string) => number
}

export const makeConnectionGuard = (options: ConnectionGuardOptions): ConnectionGuard => {
  const max = options.maxUnauthenticatedPerAddress
  const counts = new Map<string, number>()
  // Raw connections whose TLS socket is not linked yet, by their 4-tuple (public on both sockets).
  const awaitingTls = new Map<string, Tracked>()
  const admit = (socket: net.Socket): boolean => {
    const remote = socket.remoteAddress
    // Already gone (reset before the listener ran), or no cap: nothing to count.
    if (max === 0 || remote === undefined) return true
    if (options.exempt?.(remote) === true) return true
    const key = clientKey(remote)
    const open = counts.get(key) ?? 0
    if (open >= max) return false
    counts.set(key, open + 1)
    const id = connectionId(socket)
    const entry: Tracked = {
      counted: true,
      release: () => {
        const n = (counts.get(key) ?? 1) - 1
        if (n <= 0) counts.delete(key)
        else counts.set(key, n)
      }
    }
    tracked.set(socket, entry)
    if (options.tls === true) awaitingTls.set(id, entry)
    socket.once("close", () => {
      if (awaitingTls.get(id) === entry) awaitingTls.delete(id)
      if (entry.counted) {
        entry.counted = false
        entry.release()
      }
    })
    return true
  }
  const linkTls = (socket: tls.TLSSocket): void => {
    const id = connectionId(socket)
    const entry = awaitingTls.get(id)
    if (entry === undefined) return
    awaitingTls.delete(id)
    tracked.set(socket, entry)
  }
  return {
    admit,
    linkTls,
    unauthenticated: (remoteAddress) => counts.get(clientKey(remoteAddress)) ?? 0
  }
}
