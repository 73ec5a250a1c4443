// The raw Engine.IO/Socket.IO client against the real `socket.io` server (plain HTTP and TLS with a
// generated CA), against a bare `ws` server for what a socket.io server will not do on demand, and
// frame-for-frame against `socket.io-client`.
import { afterEach, describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as http from "node:http"
import * as https from "node:https"
import type { AddressInfo } from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import * as tls from "node:tls"
import { Server as IoServer, type Socket as ServerSocket } from "socket.io"
import { io as ioClient } from "socket.io-client"
import { WebSocketServer } from "ws"
import { ensureTlsMaterial } from "../../src/layers/keys/tls.ts"
import { type CloseInfo, RawSocketIoClient, type RawSocketConfig, type RawSocketHandlers } from "../../src/tools/simulator/rawSocket.ts"

class Recorder implements RawSocketHandlers {
  connected = 0
  readonly events: Array<{ name: string; args: ReadonlyArray<unknown>; ackId: number | undefined }> = []
  readonly acks: Array<{ id: number; args: ReadonlyArray<unknown> }> = []
  readonly closes: Array<CloseInfo> = []
  /** Answer every ack-requesting server event with these args. */
  ackWith: ReadonlyArray<unknown> = ["pong"]
  private readonly waiters: Array<() => void> = []

  onConnect(): void {
    this.connected++
    this.notify()
  }
  onEvent(client: RawSocketIoClient, name: string, args: ReadonlyArray<unknown>, ackId: number | undefined): void {
    this.events.push({ name, args, ackId })
    if (ackId !== undefined) client.ack(ackId, ...this.ackWith)
    this.notify()
  }
  onAck(_client: RawSocketIoClient, id: number, args: ReadonlyArray<unknown>): void {
    this.acks.push({ id, args })
    this.notify()
  }
  onClose(_client: RawSocketIoClient, info: CloseInfo): void {
    this.closes.push(info)
    this.notify()
  }
  until(predicate: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
    return new Promise((resolve, reject) => {
      if (predicate()) return resolve()
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs)
      const check = () => {
        if (!predicate()) return this.waiters.push(check)
        clearTimeout(timer)
        resolve()
      }
      this.waiters.push(check)
    })
  }
  private notify(): void {
    for (const w of this.waiters.splice(0)) w()
  }
}

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

const listen = (server: http.Server): Promise<number> =>
  new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)))

const startIo = async (options: { readonly server?: http.Server; readonly pingInterval?: number; readonly pingTimeout?: number } = {}) => {
  const server = options.server ?? http.createServer()
  const io = new IoServer(server, { pingInterval: options.pingInterval ?? 25_000, pingTimeout: options.pingTimeout ?? 20_000 })
  const port = await listen(server)
  cleanups.push(() => new Promise<void>((resolve) => void io.close(() => resolve())))
  return { io, port }
}

const openClient = (config: RawSocketConfig, headers: Record<string, string> = {}) => {
  const recorder = new Recorder()
  const client = new RawSocketIoClient(config, recorder)
  client.open(headers)
  cleanups.push(() => client.close(false))
  return { client, recorder }
}

describe("RawSocketIoClient against a socket.io server", () => {
  it("connects over websocket with the agent's headers, emits, and times acks both ways", async () => {
    const { io, port } = await startIo()
    const seen: Array<{ headers: Record<string, unknown>; transport: string; query: Record<string, unknown> }> = []
    const received: Array<[string, unknown]> = []
    let serverSocket: ServerSocket | undefined
    io.on("connection", (socket) => {
      serverSocket = socket
      seen.push({ headers: socket.handshake.headers, transport: socket.conn.transport.name, query: socket.handshake.query })
      socket.on("connect_agent", (p: unknown) => received.push(["connect_agent", p]))
      socket.on("agent_heartbeat", (p: unknown, ack: (v: unknown) => void) => {
        received.push(["agent_heartbeat", p])
        ack({ status: "ok" })
      })
    })
    const { client, recorder } = openClient({ url: `http://127.0.0.1:${port}` }, {
      Authorization: "Bearer token-123",
      "X-Borealis-Agent-Context": "SYSTEM"
    })
    await recorder.until(() => recorder.connected === 1, "connect")
    expect(client.connected).toBe(true)
    expect(client.socketId).toBe(serverSocket?.id)
    expect(seen[0]?.transport).toBe("websocket")
    expect(seen[0]?.query).toMatchObject({ EIO: "4", transport: "websocket" })
    expect(seen[0]?.headers["authorization"]).toBe("Bearer token-123")
    expect(seen[0]?.headers["x-borealis-agent-context"]).toBe("SYSTEM")
    expect(seen[0]?.headers["origin"]).toBeUndefined()

    expect(client.emit("connect_agent", { agent_id: "HOST_GUID_SYSTEM", hostname: "HOST", service_mode: "system" })).toBe(true)
    const id = client.emitWithAck("agent_heartbeat", { agent_id: "HOST_GUID_SYSTEM", last_seen: 1 })
    await recorder.until(() => recorder.acks.length === 1, "heartbeat ack")
    expect(recorder.acks[0]).toEqual({ id, args: [{ status: "ok" }] })
    expect(received).toEqual([
      ["connect_agent", { agent_id: "HOST_GUID_SYSTEM", hostname: "HOST", service_mode: "system" }],
      ["agent_heartbeat", { agent_id: "HOST_GUID_SYSTEM", last_seen: 1 }]
    ])

    serverSocket?.emit("agent_config", { roles: [], agent_id: "HOST_GUID_SYSTEM" })
    const answer = await serverSocket?.timeout(2_000).emitWithAck("list_agent_windows", { agent_id: "x" })
    expect(answer).toEqual("pong")
    expect(recorder.events.map((e) => e.name)).toEqual(["agent_config", "list_agent_windows"])
    expect(recorder.events[0]?.args).toEqual([{ roles: [], agent_id: "HOST_GUID_SYSTEM" }])
    expect(recorder.events[0]?.ackId).toBeUndefined()

    client.close()
    await recorder.until(() => recorder.closes.length === 1, "close")
    expect(recorder.closes[0]).toMatchObject({ kind: "client_close", wasConnected: true })
  })

  it("answers Engine.IO pings, so the server keeps it across many ping intervals", async () => {
    const { io, port } = await startIo({ pingInterval: 60, pingTimeout: 60 })
    const reasons: Array<string> = []
    io.on("connection", (socket) => socket.on("disconnect", (reason) => reasons.push(reason)))
    const { client, recorder } = openClient({ url: `http://127.0.0.1:${port}` })
    await recorder.until(() => recorder.connected === 1, "connect")
    expect(client.pingInterval).toBe(60)
    await new Promise((r) => setTimeout(r, 700))
    expect(reasons).toEqual([])
    expect(client.connected).toBe(true)
    expect(client.checkDeadline()).toBe(false)
  })

  it("reports a middleware refusal as connect_error with its message and data", async () => {
    const { io, port } = await startIo()
    io.use((_socket, next) => next(Object.assign(new Error("unauthorized"), { data: { error: "invalid_token" } })))
    const { recorder } = openClient({ url: `http://127.0.0.1:${port}` })
    await recorder.until(() => recorder.closes.length === 1, "close")
    expect(recorder.connected).toBe(0)
    expect(recorder.closes[0]).toMatchObject({ kind: "connect_error", message: "unauthorized", data: { error: "invalid_token" }, wasConnected: false })
  })

  it("reports a server-side disconnect, a refused upgrade and a closed port by kind", async () => {
    const { io, port } = await startIo()
    io.on("connection", (socket) => setTimeout(() => socket.disconnect(true), 20))
    const first = openClient({ url: `http://127.0.0.1:${port}` })
    await first.recorder.until(() => first.recorder.closes.length === 1, "server disconnect")
    expect(first.recorder.closes[0]).toMatchObject({ kind: "server_disconnect", wasConnected: true })

    const refusing = http.createServer()
    const io2 = new IoServer(refusing, { allowRequest: (_req, cb) => cb("Not an accepted origin.", false) })
    const port2 = await listen(refusing)
    cleanups.push(() => new Promise<void>((resolve) => void io2.close(() => resolve())))
    const second = openClient({ url: `http://127.0.0.1:${port2}` })
    await second.recorder.until(() => second.recorder.closes.length === 1, "refused upgrade")
    expect(second.recorder.closes[0]?.kind).toBe("handshake_http")
    expect(second.recorder.closes[0]?.status).toBeGreaterThanOrEqual(400)

    const closed = http.createServer()
    const port3 = await listen(closed)
    await new Promise<void>((r) => closed.close(() => r()))
    const third = openClient({ url: `http://127.0.0.1:${port3}` })
    await third.recorder.until(() => third.recorder.closes.length === 1, "refused connect")
    expect(third.recorder.closes[0]).toMatchObject({ kind: "refused", code: "ECONNREFUSED", wasConnected: false })
  })

  it("speaks TLS trusting a given CA through one shared secure context, and refuses an unknown CA", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "raw-socket-tls-"))
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }))
    const material = await ensureTlsMaterial({ dir, legacyDir: path.join(dir, "legacy"), names: ["localhost", "127.0.0.1"] })
    const server = https.createServer({ key: material.keyPem, cert: material.bundlePem })
    const { port } = await startIo({ server })
    const secureContext = tls.createSecureContext({ ca: material.caCertPem })
    const trusted = openClient({ url: `https://127.0.0.1:${port}`, secureContext })
    await trusted.recorder.until(() => trusted.recorder.connected === 1, "TLS connect")
    const other = openClient({ url: `https://127.0.0.1:${port}`, secureContext })
    await other.recorder.until(() => other.recorder.connected === 1, "second TLS connect")

    const untrusted = openClient({ url: `https://127.0.0.1:${port}` })
    await untrusted.recorder.until(() => untrusted.recorder.closes.length === 1, "TLS refusal")
    expect(untrusted.recorder.closes[0]?.kind).toBe("tls")
  })
})

describe("RawSocketIoClient against a bare Engine.IO peer", () => {
  const bare = async (onFrame: (frame: string, send: (f: string) => void) => void) => {
    const wss = new WebSocketServer({ port: 0, host: "127.0.0.1" })
    await new Promise<void>((r) => wss.once("listening", () => r()))
    cleanups.push(() => new Promise<void>((r) => wss.close(() => r())))
    const urls: Array<string> = []
    wss.on("connection", (ws, req) => {
      urls.push(req.url ?? "")
      ws.send('0{"sid":"bare","upgrades":[],"pingInterval":50,"pingTimeout":50,"maxPayload":1000000}')
      ws.on("message", (data) => onFrame(data.toString(), (f) => ws.send(f)))
    })
    return { port: (wss.address() as AddressInfo).port, urls }
  }

  it("closes with ping_timeout when the server stops pinging, and drops frames it cannot decode", async () => {
    const { port, urls } = await bare((frame, send) => {
      if (frame === "40") {
        send('40{"sid":"s-bare"}')
        for (const junk of ["4", "49", "42", '42["x"', "45", "7", "43"]) send(junk)
        send('42["after_junk",1]')
      }
    })
    const { client, recorder } = openClient({ url: `http://127.0.0.1:${port}` })
    await recorder.until(() => recorder.events.length === 1, "event after junk")
    expect(urls[0]).toBe("/socket.io/?EIO=4&transport=websocket")
    expect(recorder.events[0]).toEqual({ name: "after_junk", args: [1], ackId: undefined })
    expect(client.socketId).toBe("s-bare")
    // The deadline is lastPacketAt + pingInterval + pingTimeout (+ grace); check it from a later clock.
    expect(client.checkDeadline(client.lastPacketAt + 10)).toBe(false)
    expect(client.checkDeadline(client.deadline() + 1)).toBe(true)
    await recorder.until(() => recorder.closes.length === 1, "close")
    expect(recorder.closes[0]).toMatchObject({ kind: "ping_timeout", wasConnected: true })
  })

  it("times out a session whose Socket.IO CONNECT is never answered", async () => {
    const { port } = await bare(() => {})
    const { client, recorder } = openClient({ url: `http://127.0.0.1:${port}`, connectTimeoutMs: 1_000 })
    await new Promise((r) => setTimeout(r, 100))
    expect(client.connected).toBe(false)
    expect(client.checkDeadline(client.startedAt + 1_001)).toBe(true)
    await recorder.until(() => recorder.closes.length === 1, "close")
    expect(recorder.closes[0]).toMatchObject({ kind: "timeout", wasConnected: false })
  })

  it("sends the same frames and handshake as socket.io-client for connect, emit and emit-with-ack", async () => {
    const run = async (drive: (port: number) => Promise<void>) => {
      const frames: Array<string> = []
      const { port, urls } = await bare((frame, send) => {
        if (frame === "40") send('40{"sid":"s"}')
        else if (frame !== "3") {
          frames.push(frame)
          const ack = /^42(\d+)\[/.exec(frame)
          if (ack !== null) send(`43${ack[1]}["ok"]`)
        }
      })
      await drive(port)
      return { frames, url: urls[0]?.replace(/&t=[^&]*/, "") }
    }
    const payload = { agent_id: "H_G_SYSTEM", hostname: "H", agent_operating_system: "-", last_seen: 5 }
    const reference = await run((port) =>
      new Promise<void>((resolve) => {
        const socket = ioClient(`http://127.0.0.1:${port}`, { transports: ["websocket"], reconnection: false })
        socket.on("connect", () => {
          socket.emit("connect_agent", { agent_id: "H_G_SYSTEM" })
          socket.emit("agent_heartbeat", payload, () => {
            socket.close()
            resolve()
          })
        })
      })
    )
    const ours = await run(async (port) => {
      const { client, recorder } = openClient({ url: `http://127.0.0.1:${port}` })
      await recorder.until(() => recorder.connected === 1, "connect")
      client.emit("connect_agent", { agent_id: "H_G_SYSTEM" })
      client.emitWithAck("agent_heartbeat", payload)
      await recorder.until(() => recorder.acks.length === 1, "ack")
      expect(recorder.acks[0]?.args).toEqual(["ok"])
      client.close()
      await recorder.until(() => recorder.closes.length === 1, "close")
    })
    // socket.io-client says goodbye with `41` on close, as ours does.
    expect(reference.frames).toEqual(['42["connect_agent",{"agent_id":"H_G_SYSTEM"}]', `420${JSON.stringify(["agent_heartbeat", payload])}`, "41"])
    expect(ours.frames).toEqual(reference.frames)
    expect(ours.url).toBe(reference.url)
  })
})
