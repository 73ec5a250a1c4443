// A minimal Socket.IO v5 / Engine.IO v4 client over one `ws` websocket: the wire a real Borealis agent
// (python-socketio, `transports=['websocket']`) speaks. spec: realtime-jobs.md §1.3–§1.4, §2
//
// Plain TypeScript, not Effect: one process holds thousands of these, so each one is a single object
// with a `ws` socket and five listener closures — no fibers, no per-client timers (the owner calls
// `checkDeadline` from a shared timer queue), no per-ack callbacks (acks go to the handler object,
// keyed by the id `emitWithAck` returned). Binary packets are not supported (agents send none).
import type { SecureContext } from "node:tls"
import WebSocket from "ws"
import {
  decodeOpen,
  decodeSocketPacket,
  EIO_CLOSE,
  EIO_MESSAGE,
  EIO_NOOP,
  EIO_OPEN,
  EIO_PING,
  EIO_PONG,
  encodeAck,
  encodeConnect,
  encodeDisconnect,
  encodeEvent,
  handshakeUrl,
  ProtocolError,
  SIO_ACK,
  SIO_BINARY_ACK,
  SIO_BINARY_EVENT,
  SIO_CONNECT,
  SIO_CONNECT_ERROR,
  SIO_DISCONNECT,
  SIO_EVENT
} from "./protocol.ts"

/** How a connection ended (or failed to start); the simulator counts errors by this. */
export type CloseKind =
  | "refused" // TCP connect refused: nobody listening
  | "reset" // connection reset / broken pipe
  | "timeout" // TCP, TLS, upgrade or Socket.IO CONNECT not done by the deadline
  | "tls" // certificate or TLS protocol failure
  | "handshake_http" // the upgrade was answered with an HTTP status (see `status`)
  | "connect_error" // Socket.IO CONNECT_ERROR (middleware refused)
  | "ping_timeout" // no packet from the server within pingInterval + pingTimeout
  | "server_disconnect" // Socket.IO DISCONNECT or Engine.IO close from the server
  | "transport_close" // websocket closed without a protocol-level goodbye
  | "client_close" // `close()` was called
  | "protocol_error" // the server sent something this client cannot decode at a point it must
  | "local_port" // no free local port / address (EADDRNOTAVAIL, EADDRINUSE)
  | "fd_limit" // EMFILE / ENFILE
  | "error" // anything else

export interface CloseInfo {
  readonly kind: CloseKind
  readonly message: string
  /** True when the Socket.IO CONNECT had been acknowledged before the close. */
  readonly wasConnected: boolean
  /** HTTP status of a refused upgrade (`handshake_http`). */
  readonly status?: number
  /** errno / TLS error code, or the websocket close code. */
  readonly code?: string
  /** CONNECT_ERROR `data`. */
  readonly data?: unknown
}

/** What the owner of a client is told; one object per owner, no closures. */
export interface RawSocketHandlers {
  /** Socket.IO CONNECT acknowledged for the namespace. */
  onConnect(client: RawSocketIoClient): void
  /** An EVENT; when `ackId` is set the server waits for `client.ack(ackId, …)`. */
  onEvent(client: RawSocketIoClient, name: string, args: ReadonlyArray<unknown>, ackId: number | undefined): void
  /** The server acknowledged the emit that returned `id`. */
  onAck(client: RawSocketIoClient, id: number, args: ReadonlyArray<unknown>): void
  /** Exactly once per client, whatever ended it. */
  onClose(client: RawSocketIoClient, info: CloseInfo): void
}

/** Connection settings shared by every client of a process (one object, referenced, never copied). */
export interface RawSocketConfig {
  /** `http(s)://host:port` (or ws/wss). */
  readonly url: string
  /** Default `/socket.io/`. */
  readonly path?: string
  /** Build once per process with `tls.createSecureContext({ ca })`: one CA parse and SSL_CTX for all. */
  readonly secureContext?: SecureContext
  /** Used only when no secureContext is given (then every connection parses it again). */
  readonly ca?: string
  readonly rejectUnauthorized?: boolean
  readonly servername?: string
  /** Source address (e.g. `127.0.0.2`): each source IP has its own ephemeral port range. */
  readonly localAddress?: string
  /** Default `/`. */
  readonly namespace?: string
  /** Socket.IO CONNECT payload (`auth`); real agents send none. */
  readonly auth?: unknown
  /** Largest frame accepted from the server (default 100 MB, the legacy ceiling). */
  readonly maxPayload?: number
  /** From the start of the TCP connect to the Socket.IO CONNECT ack (default 20 s). */
  readonly connectTimeoutMs?: number
}

const STATE_OPENING = 0 // TCP/TLS/upgrade/Engine.IO open in progress
const STATE_CONNECTING = 1 // Engine.IO open; Socket.IO CONNECT sent
const STATE_CONNECTED = 2
const STATE_CLOSED = 3
const STATE_CLOSING = 4 // close decided, waiting for the websocket's 'close'

const TLS_CODES = new Set([
  "EPROTO",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_SIGNATURE_FAILURE",
  "CERT_UNTRUSTED",
  "HOSTNAME_MISMATCH"
])

/** Map a `ws`/socket error to a kind (and the HTTP status of a refused upgrade). */
export const classifyError = (error: Error): Pick<CloseInfo, "kind" | "status" | "code" | "message"> => {
  const message = error.message
  const http = /^Unexpected server response: (\d{3})/.exec(message)
  if (http !== null) return { kind: "handshake_http", status: Number(http[1]), message }
  const code = (error as NodeJS.ErrnoException).code
  if (code === undefined) {
    if (message.includes("handshake has timed out")) return { kind: "timeout", message }
    return { kind: "error", message }
  }
  if (code === "ECONNREFUSED") return { kind: "refused", code, message }
  if (code === "ECONNRESET" || code === "EPIPE" || code === "ECONNABORTED") return { kind: "reset", code, message }
  if (code === "ETIMEDOUT") return { kind: "timeout", code, message }
  if (code === "EADDRNOTAVAIL" || code === "EADDRINUSE") return { kind: "local_port", code, message }
  if (code === "EMFILE" || code === "ENFILE") return { kind: "fd_limit", code, message }
  if (code.startsWith("ERR_TLS_") || code.startsWith("ERR_SSL_") || code.startsWith("CERT_") || TLS_CODES.has(code)) {
    return { kind: "tls", code, message }
  }
  return { kind: "error", code, message }
}

const DEFAULT_CONNECT_TIMEOUT_MS = 20_000
/** Slack on top of pingInterval + pingTimeout before the server counts as gone (scheduling jitter). */
const PING_GRACE_MS = 1_000

export class RawSocketIoClient {
  readonly config: RawSocketConfig
  readonly handlers: RawSocketHandlers
  /** Engine.IO session id (from the open packet). */
  sid = ""
  /** Socket.IO session id (from the CONNECT ack). */
  socketId = ""
  /** When `open()` was called (ms epoch). */
  startedAt = 0
  /** Last frame from the server (ms epoch): the liveness clock. */
  lastPacketAt = 0
  pingInterval = 25_000
  pingTimeout = 20_000
  private state = STATE_CLOSED
  private ws: WebSocket | undefined
  private nextAckId = 0
  private pendingClose: Omit<CloseInfo, "wasConnected"> | undefined
  private reported = false

  constructor(config: RawSocketConfig, handlers: RawSocketHandlers) {
    this.config = config
    this.handlers = handlers
  }

  get connected(): boolean {
    return this.state === STATE_CONNECTED
  }

  get closed(): boolean {
    return this.state === STATE_CLOSED
  }

  /** Start the websocket handshake with these headers (e.g. Authorization, X-Borealis-Agent-Context). */
  open(headers: Readonly<Record<string, string>>, now = Date.now()): void {
    if (this.ws !== undefined) throw new Error("RawSocketIoClient.open called twice")
    const c = this.config
    this.state = STATE_OPENING
    this.startedAt = now
    this.lastPacketAt = now
    const options: WebSocket.ClientOptions & { secureContext?: SecureContext; localAddress?: string; servername?: string } = {
      headers: { ...headers },
      perMessageDeflate: false,
      skipUTF8Validation: true,
      followRedirects: false,
      maxPayload: c.maxPayload ?? 100 * 1024 * 1024
    }
    if (c.secureContext !== undefined) options.secureContext = c.secureContext
    else if (c.ca !== undefined) options.ca = c.ca
    if (c.rejectUnauthorized !== undefined) options.rejectUnauthorized = c.rejectUnauthorized
    if (c.servername !== undefined) options.servername = c.servername
    if (c.localAddress !== undefined) options.localAddress = c.localAddress
    let ws: WebSocket
    try {
      ws = new WebSocket(handshakeUrl(c.url, c.path), options)
    } catch (error) {
      this.state = STATE_CLOSED
      this.report({ ...classifyError(error instanceof Error ? error : new Error(String(error))) })
      return
    }
    this.ws = ws
    ws.on("message", (data, isBinary) => {
      if (isBinary) return // attachments of binary packets: unsupported, dropped
      this.onFrame(data.toString())
    })
    ws.on("error", (error) => {
      if (this.pendingClose === undefined) this.pendingClose = classifyError(error)
    })
    ws.on("close", (code, reason) => {
      const pending = this.pendingClose
      this.state = STATE_CLOSED
      this.ws = undefined
      this.report(pending ?? { kind: "transport_close", code: String(code), message: reason.toString() || `websocket closed (${code})` })
    })
    // Nothing to do on 'open': Engine.IO speaks first (the `0{...}` open packet).
  }

  /** Emit an event without acknowledgement. Returns false when not connected (nothing sent). */
  emit(name: string, ...args: ReadonlyArray<unknown>): boolean {
    if (this.state !== STATE_CONNECTED || this.ws === undefined) return false
    this.ws.send(encodeEvent(this.namespace, name, args))
    return true
  }

  /** Emit asking for an ack; returns the ack id (the ack arrives at `handlers.onAck`) or -1 if not connected. */
  emitWithAck(name: string, ...args: ReadonlyArray<unknown>): number {
    if (this.state !== STATE_CONNECTED || this.ws === undefined) return -1
    const id = this.nextAckId++
    this.ws.send(encodeEvent(this.namespace, name, args, id))
    return id
  }

  /** Answer a server emit that asked for an acknowledgement. */
  ack(id: number, ...args: ReadonlyArray<unknown>): void {
    if (this.state !== STATE_CONNECTED || this.ws === undefined) return
    this.ws.send(encodeAck(this.namespace, id, args))
  }

  /** Socket.IO DISCONNECT then a websocket close (graceful), or an immediate socket destroy. */
  close(graceful = true): void {
    this.closeWith({ kind: "client_close", message: "closed by client" }, graceful)
  }

  /**
   * When `checkDeadline` must run next (ms epoch): the CONNECT deadline while connecting, the ping
   * deadline once connected; Infinity when closed.
   */
  deadline(): number {
    // While closing, `ws` guarantees a 'close' event (its own close timer destroys a stuck socket).
    if (this.state === STATE_CLOSED || this.state === STATE_CLOSING) return Infinity
    if (this.state !== STATE_CONNECTED) return this.startedAt + (this.config.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS)
    return this.lastPacketAt + this.pingInterval + this.pingTimeout + PING_GRACE_MS
  }

  /** Close the connection if its deadline has passed; true when it did. */
  checkDeadline(now = Date.now()): boolean {
    if (now < this.deadline()) return false
    if (this.state === STATE_CONNECTED) this.closeWith({ kind: "ping_timeout", message: "no ping from the server in time" }, false)
    else this.closeWith({ kind: "timeout", message: "Socket.IO connection not established in time" }, false)
    return true
  }

  private get namespace(): string {
    return this.config.namespace ?? "/"
  }

  private closeWith(info: Omit<CloseInfo, "wasConnected">, graceful: boolean): void {
    const ws = this.ws
    if (this.state === STATE_CLOSED || this.state === STATE_CLOSING || ws === undefined) return
    const wasConnected = this.state === STATE_CONNECTED
    this.state = STATE_CLOSING
    if (this.pendingClose === undefined) this.pendingClose = info
    if (graceful && ws.readyState === WebSocket.OPEN) {
      // Only our own close says goodbye; answering the server's DISCONNECT with one is pointless.
      if (wasConnected && info.kind === "client_close") ws.send(encodeDisconnect(this.namespace))
      ws.close(1000)
    } else {
      ws.terminate()
    }
  }

  private report(info: Omit<CloseInfo, "wasConnected">): void {
    if (this.reported) return
    this.reported = true
    const wasConnected = this.socketId !== ""
    this.handlers.onClose(this, { ...info, wasConnected })
  }

  private send(frame: string): void {
    if (this.ws !== undefined && this.ws.readyState === WebSocket.OPEN) this.ws.send(frame)
  }

  private onFrame(frame: string): void {
    this.lastPacketAt = Date.now()
    switch (frame.charAt(0)) {
      case EIO_PING:
        // EIO4: the server pings, the client answers (echoing any probe payload).
        this.send(EIO_PONG + frame.slice(1))
        return
      case EIO_MESSAGE:
        this.onSocketPacket(frame.slice(1))
        return
      case EIO_OPEN: {
        if (this.state !== STATE_OPENING) return
        try {
          const open = decodeOpen(frame.slice(1))
          this.sid = open.sid
          this.pingInterval = open.pingInterval
          this.pingTimeout = open.pingTimeout
        } catch (error) {
          this.closeWith({ kind: "protocol_error", message: error instanceof Error ? error.message : String(error) }, false)
          return
        }
        this.state = STATE_CONNECTING
        this.send(encodeConnect(this.namespace, this.config.auth))
        return
      }
      case EIO_CLOSE:
        this.closeWith({ kind: "server_disconnect", message: "engine.io close from server" }, false)
        return
      case EIO_NOOP:
      case EIO_PONG:
        return
      default:
        return // upgrade/unknown: not used on a websocket-only session
    }
  }

  private onSocketPacket(text: string): void {
    let packet
    try {
      packet = decodeSocketPacket(text)
    } catch (error) {
      if (error instanceof ProtocolError) return // a malformed frame is dropped, like socket.io-client
      throw error
    }
    if (packet.nsp !== this.namespace) return
    switch (packet.type) {
      case SIO_EVENT:
        if (this.state === STATE_CONNECTED) this.handlers.onEvent(this, packet.name, packet.args, packet.id)
        return
      case SIO_ACK:
        if (this.state === STATE_CONNECTED) this.handlers.onAck(this, packet.id, packet.args)
        return
      case SIO_CONNECT: {
        if (this.state !== STATE_CONNECTING) return
        const data = packet.data
        this.socketId = typeof data === "object" && data !== null && "sid" in data && typeof data.sid === "string" ? data.sid : this.sid
        this.state = STATE_CONNECTED
        this.handlers.onConnect(this)
        return
      }
      case SIO_CONNECT_ERROR:
        this.closeWith(
          { kind: "connect_error", message: packet.message, ...(packet.data === undefined ? {} : { data: packet.data }) },
          true
        )
        return
      case SIO_DISCONNECT:
        this.closeWith({ kind: "server_disconnect", message: "io server disconnect" }, true)
        return
      case SIO_BINARY_EVENT:
      case SIO_BINARY_ACK:
        return
    }
  }
}
