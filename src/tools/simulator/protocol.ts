// Engine.IO v4 / Socket.IO v5 packet codec for the websocket transport, JSON (non-binary) packets only.
// One websocket text frame carries exactly one Engine.IO packet (no `\x1e` batching on websocket).
// Pure functions: the raw client and its tests share them, and test/tools checks them against
// socket.io-parser so both sides of the wire agree.

/** Engine.IO packet types (first character of a frame). */
export const EIO_OPEN = "0"
export const EIO_CLOSE = "1"
export const EIO_PING = "2"
export const EIO_PONG = "3"
export const EIO_MESSAGE = "4"
export const EIO_UPGRADE = "5"
export const EIO_NOOP = "6"

/** Socket.IO packet types (first character after the Engine.IO `4`). */
export const SIO_CONNECT = 0
export const SIO_DISCONNECT = 1
export const SIO_EVENT = 2
export const SIO_ACK = 3
export const SIO_CONNECT_ERROR = 4
export const SIO_BINARY_EVENT = 5
export const SIO_BINARY_ACK = 6

/** The Engine.IO `open` packet's payload. */
export interface EngineOpen {
  readonly sid: string
  readonly pingInterval: number
  readonly pingTimeout: number
  readonly maxPayload: number
}

export type SocketPacket =
  | { readonly type: typeof SIO_CONNECT; readonly nsp: string; readonly data: unknown }
  | { readonly type: typeof SIO_DISCONNECT; readonly nsp: string }
  | { readonly type: typeof SIO_EVENT; readonly nsp: string; readonly id: number | undefined; readonly name: string; readonly args: ReadonlyArray<unknown> }
  | { readonly type: typeof SIO_ACK; readonly nsp: string; readonly id: number; readonly args: ReadonlyArray<unknown> }
  | { readonly type: typeof SIO_CONNECT_ERROR; readonly nsp: string; readonly message: string; readonly data: unknown }
  | { readonly type: typeof SIO_BINARY_EVENT | typeof SIO_BINARY_ACK; readonly nsp: string; readonly attachments: number }

/** Why a frame could not be decoded; the client drops such frames and counts them. */
export class ProtocolError extends Error {
  override readonly name = "ProtocolError"
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** Parse the Engine.IO `open` payload (`0{"sid":…}`), or throw ProtocolError. */
export const decodeOpen = (payload: string): EngineOpen => {
  let parsed: unknown
  try {
    parsed = JSON.parse(payload)
  } catch {
    throw new ProtocolError("open packet is not JSON")
  }
  if (!isRecord(parsed)) throw new ProtocolError("open packet is not an object")
  const { sid, pingInterval, pingTimeout, maxPayload } = parsed
  if (typeof sid !== "string" || typeof pingInterval !== "number" || typeof pingTimeout !== "number") {
    throw new ProtocolError("open packet lacks sid/pingInterval/pingTimeout")
  }
  return { sid, pingInterval, pingTimeout, maxPayload: typeof maxPayload === "number" ? maxPayload : 1_000_000 }
}

const isDigit = (code: number) => code >= 48 && code <= 57

/**
 * Decode a Socket.IO packet: the text after the Engine.IO `4`. Format:
 * `<type>[<attachments>-][<nsp>,][<id>][<json>]`.
 */
export const decodeSocketPacket = (text: string): SocketPacket => {
  const typeCode = text.charCodeAt(0) - 48
  if (!(typeCode >= SIO_CONNECT && typeCode <= SIO_BINARY_ACK)) throw new ProtocolError(`unknown packet type ${JSON.stringify(text.charAt(0))}`)
  let i = 1
  let attachments = 0
  if (typeCode === SIO_BINARY_EVENT || typeCode === SIO_BINARY_ACK) {
    const dash = text.indexOf("-", i)
    if (dash === -1) throw new ProtocolError("binary packet without attachment count")
    attachments = Number(text.slice(i, dash))
    if (!Number.isSafeInteger(attachments)) throw new ProtocolError("bad attachment count")
    i = dash + 1
  }
  let nsp = "/"
  if (text.charAt(i) === "/") {
    const comma = text.indexOf(",", i)
    const end = comma === -1 ? text.length : comma
    nsp = text.slice(i, end)
    i = comma === -1 ? text.length : comma + 1
  }
  let id: number | undefined
  const idStart = i
  while (i < text.length && isDigit(text.charCodeAt(i))) i++
  if (i > idStart) {
    id = Number(text.slice(idStart, i))
    if (!Number.isSafeInteger(id)) throw new ProtocolError("bad ack id")
  }
  let data: unknown
  if (i < text.length) {
    try {
      data = JSON.parse(text.slice(i))
    } catch {
      throw new ProtocolError("payload is not JSON")
    }
  }
  switch (typeCode) {
    case SIO_CONNECT:
      return { type: SIO_CONNECT, nsp, data }
    case SIO_DISCONNECT:
      return { type: SIO_DISCONNECT, nsp }
    case SIO_EVENT: {
      if (!Array.isArray(data) || data.length === 0 || typeof data[0] !== "string") throw new ProtocolError("event payload is not [name, ...args]")
      return { type: SIO_EVENT, nsp, id, name: data[0], args: data.slice(1) }
    }
    case SIO_ACK: {
      if (id === undefined) throw new ProtocolError("ack without id")
      if (!Array.isArray(data)) throw new ProtocolError("ack payload is not an array")
      return { type: SIO_ACK, nsp, id, args: data }
    }
    case SIO_CONNECT_ERROR: {
      // v5 sends {message, data?}; v4 servers sent a bare string.
      if (typeof data === "string") return { type: SIO_CONNECT_ERROR, nsp, message: data, data: undefined }
      if (isRecord(data)) {
        return { type: SIO_CONNECT_ERROR, nsp, message: typeof data["message"] === "string" ? data["message"] : "", data: data["data"] }
      }
      return { type: SIO_CONNECT_ERROR, nsp, message: "", data }
    }
    default:
      return { type: typeCode === SIO_BINARY_EVENT ? SIO_BINARY_EVENT : SIO_BINARY_ACK, nsp, attachments }
  }
}

const nspPrefix = (nsp: string): string => (nsp === "/" ? "" : `${nsp},`)

/** Full websocket frame for a Socket.IO CONNECT (`40` or `40{auth}`). */
export const encodeConnect = (nsp: string, auth: unknown): string =>
  `${EIO_MESSAGE}${SIO_CONNECT}${nspPrefix(nsp)}${auth === undefined ? "" : JSON.stringify(auth)}`

/** Full websocket frame for a Socket.IO DISCONNECT (`41`). */
export const encodeDisconnect = (nsp: string): string => `${EIO_MESSAGE}${SIO_DISCONNECT}${nspPrefix(nsp)}`

/** Full websocket frame for an EVENT, with an ack id when one is asked for (`42<id>["name",...]`). */
export const encodeEvent = (nsp: string, name: string, args: ReadonlyArray<unknown>, id?: number): string =>
  `${EIO_MESSAGE}${SIO_EVENT}${nspPrefix(nsp)}${id === undefined ? "" : id}${JSON.stringify([name, ...args])}`

/** Full websocket frame answering the server's ack request (`43<id>[...]`). */
export const encodeAck = (nsp: string, id: number, args: ReadonlyArray<unknown>): string =>
  `${EIO_MESSAGE}${SIO_ACK}${nspPrefix(nsp)}${id}${JSON.stringify(args)}`

/** The handshake URL: `<base>/socket.io/?EIO=4&transport=websocket`, http(s) mapped to ws(s). */
export const handshakeUrl = (base: string, path = "/socket.io/", query: Readonly<Record<string, string>> = {}): string => {
  const url = new URL(base)
  if (url.protocol === "https:") url.protocol = "wss:"
  else if (url.protocol === "http:") url.protocol = "ws:"
  else if (url.protocol !== "ws:" && url.protocol !== "wss:") throw new Error(`unsupported scheme ${url.protocol}`)
  url.pathname = path.endsWith("/") ? path : `${path}/`
  url.search = ""
  url.searchParams.set("EIO", "4")
  url.searchParams.set("transport", "websocket")
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v)
  url.hash = ""
  return url.toString()
}
