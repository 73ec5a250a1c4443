// The raw client's codec against socket.io-parser (the library the socket.io server decodes with):
// what we encode, they decode to the same packet, and the other way round.
import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import { Decoder, Encoder, type Packet, PacketType } from "socket.io-parser"
import {
  decodeOpen,
  decodeSocketPacket,
  encodeAck,
  encodeConnect,
  encodeDisconnect,
  encodeEvent,
  handshakeUrl,
  ProtocolError
} from "../../src/tools/simulator/protocol.ts"

const theirs = (packet: Packet): string => {
  const out = new Encoder().encode(packet)
  expect(out).toHaveLength(1)
  return `4${String(out[0])}`
}

const decodeTheirs = (frame: string): Packet => {
  expect(frame.charAt(0)).toBe("4")
  const decoder = new Decoder()
  let decoded: Packet | undefined
  decoder.on("decoded", (p: Packet) => (decoded = p))
  decoder.add(frame.slice(1))
  if (decoded === undefined) throw new Error("socket.io-parser decoded nothing")
  return decoded
}

// JSON values socket.io-parser treats as plain JSON (no Buffers, no undefined inside arrays).
const jsonValue = fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.parse(JSON.stringify(v)) as unknown)

describe("Socket.IO packet encoding", () => {
  it("encodes events, acks, connect and disconnect exactly as socket.io-parser", () => {
    const payload = { agent_id: "HOST_0C5E…_SYSTEM", hostname: "höst", last_seen: 1_700_000_000, nested: { a: [1, null, "x"] } }
    expect(encodeEvent("/", "agent_heartbeat", [payload])).toBe(theirs({ type: PacketType.EVENT, nsp: "/", data: ["agent_heartbeat", payload] }))
    expect(encodeEvent("/", "agent_heartbeat", [payload], 42)).toBe(
      theirs({ type: PacketType.EVENT, nsp: "/", id: 42, data: ["agent_heartbeat", payload] })
    )
    expect(encodeEvent("/admin", "x", [1, "two"], 7)).toBe(theirs({ type: PacketType.EVENT, nsp: "/admin", id: 7, data: ["x", 1, "two"] }))
    expect(encodeAck("/", 3, [{ ok: true }])).toBe(theirs({ type: PacketType.ACK, nsp: "/", id: 3, data: [{ ok: true }] }))
    expect(encodeAck("/", 0, [])).toBe(theirs({ type: PacketType.ACK, nsp: "/", id: 0, data: [] }))
    expect(encodeConnect("/", undefined)).toBe(theirs({ type: PacketType.CONNECT, nsp: "/" }))
    expect(encodeConnect("/", { token: "t" })).toBe(theirs({ type: PacketType.CONNECT, nsp: "/", data: { token: "t" } }))
    expect(encodeConnect("/jobs", undefined)).toBe(theirs({ type: PacketType.CONNECT, nsp: "/jobs" }))
    expect(encodeDisconnect("/")).toBe(theirs({ type: PacketType.DISCONNECT, nsp: "/" }))
  })

  it("round-trips arbitrary JSON arguments both ways", () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 20 }),
        fc.array(jsonValue, { maxLength: 4 }),
        fc.option(fc.nat({ max: 1_000_000 }), { nil: undefined }),
        (name, args, id) => {
          const ours = encodeEvent("/", name, args, id)
          const decoded = decodeTheirs(ours)
          expect(decoded.type).toBe(PacketType.EVENT)
          expect(decoded.id).toBe(id)
          expect(decoded.data).toEqual([name, ...args])
          const back = decodeSocketPacket(theirs({ type: PacketType.EVENT, nsp: "/", data: [name, ...args], ...(id === undefined ? {} : { id }) }).slice(1))
          expect(back).toEqual({ type: PacketType.EVENT, nsp: "/", id, name, args })
        }
      ),
      { numRuns: 300 }
    )
  })
})

describe("Socket.IO packet decoding", () => {
  it("decodes what a socket.io server sends", () => {
    const frame = (p: Packet) => theirs(p).slice(1)
    expect(decodeSocketPacket(frame({ type: PacketType.CONNECT, nsp: "/", data: { sid: "abc" } }))).toEqual({ type: 0, nsp: "/", data: { sid: "abc" } })
    expect(decodeSocketPacket(frame({ type: PacketType.ACK, nsp: "/", id: 12, data: [{ status: "ok" }] }))).toEqual({
      type: 3,
      nsp: "/",
      id: 12,
      args: [{ status: "ok" }]
    })
    expect(decodeSocketPacket(frame({ type: PacketType.CONNECT_ERROR, nsp: "/", data: { message: "unauthorized", data: { code: 1 } } }))).toEqual({
      type: 4,
      nsp: "/",
      message: "unauthorized",
      data: { code: 1 }
    })
    expect(decodeSocketPacket(frame({ type: PacketType.DISCONNECT, nsp: "/" }))).toEqual({ type: 1, nsp: "/" })
    expect(decodeSocketPacket(frame({ type: PacketType.EVENT, nsp: "/ops", id: 5, data: ["agent_config", { roles: [] }] }))).toEqual({
      type: 2,
      nsp: "/ops",
      id: 5,
      name: "agent_config",
      args: [{ roles: [] }]
    })
  })

  it("recognises binary packets (to skip them) and a v4-style string CONNECT_ERROR", () => {
    expect(decodeSocketPacket('51-["upload",{"_placeholder":true,"num":0}]')).toEqual({ type: 5, nsp: "/", attachments: 1 })
    expect(decodeSocketPacket('4"Not authorized"')).toEqual({ type: 4, nsp: "/", message: "Not authorized", data: undefined })
  })

  it("refuses malformed packets with a ProtocolError", () => {
    for (const bad of ["", "9[]", "2", "2{}", "2[1]", "3[]", "3x", "2[\"a\"", "5[]"]) {
      expect(() => decodeSocketPacket(bad), bad).toThrow(ProtocolError)
    }
  })
})

describe("Engine.IO", () => {
  it("parses the open packet and builds the websocket handshake URL", () => {
    expect(decodeOpen('{"sid":"s1","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}')).toEqual({
      sid: "s1",
      pingInterval: 25000,
      pingTimeout: 20000,
      maxPayload: 1000000
    })
    expect(() => decodeOpen("{}")).toThrow(ProtocolError)
    expect(() => decodeOpen("nope")).toThrow(ProtocolError)
    expect(handshakeUrl("https://127.0.0.1:5000")).toBe("wss://127.0.0.1:5000/socket.io/?EIO=4&transport=websocket")
    expect(handshakeUrl("http://localhost:8080/ignored?x=1#y")).toBe("ws://localhost:8080/socket.io/?EIO=4&transport=websocket")
  })
})
