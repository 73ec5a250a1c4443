// Connections a trusted server cuts, measured from the server's side: how many connections the
// Engine's listener still holds (`server.getConnections`), against a real server on a real port.
import { describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import type * as http from "node:http"
import * as net from "node:net"
import * as path from "node:path"
import * as tls from "node:tls"
import { io as ioClient } from "socket.io-client"
import { clientKey, markAuthenticated } from "../../src/layers/ConnectionGuard.ts"
import { HttpListener } from "../../src/layers/HttpListener.ts"
import { SocketIo } from "../../src/layers/SocketIo.ts"
import { metricsRegistry } from "../../src/layers/metrics.ts"
import { type RunningEngine, startEngine, tempRoot } from "../support/engine.ts"
import { runPython } from "../support/python.ts"

/** Short limits so each case takes seconds; every timeout differs so a case shows which one acted. */
const SHORT_LIMITS = {
  BOREALIS_HTTP_HEADERS_TIMEOUT_SECONDS: "2",
  BOREALIS_HTTP_REQUEST_TIMEOUT_SECONDS: "3",
  BOREALIS_HTTP_IDLE_TIMEOUT_SECONDS: "2",
  BOREALIS_HTTP_KEEPALIVE_TIMEOUT_SECONDS: "1",
  BOREALIS_TLS_HANDSHAKE_TIMEOUT_SECONDS: "2"
}

const serverOf = (engine: RunningEngine): http.Server => Context.get(engine.context, HttpListener).server

const openConnections = (server: http.Server): Promise<number> =>
  new Promise((resolve, reject) => server.getConnections((error, count) => (error ? reject(error) : resolve(count))))

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Milliseconds until the server holds at most `count` connections; fails after `withinMs`. */
const releasedWithin = (server: http.Server, count: number, withinMs: number) =>
  Effect.promise(async () => {
    const started = performance.now()
    while (performance.now() - started < withinMs) {
      if ((await openConnections(server)) <= count) return performance.now() - started
      await sleep(50)
    }
    const open = await openConnections(server)
    throw new Error(`the server still holds ${open} connection(s) after ${withinMs} ms (expected ≤ ${count})`)
  })

/** A raw client connection (TLS when the Engine speaks it), destroyed when the test's scope closes. */
const connect = (engine: RunningEngine, options: { readonly allowHalfOpen?: boolean; readonly handshake?: boolean } = {}) =>
  Effect.acquireRelease(
    Effect.promise(() =>
      new Promise<net.Socket>((resolve, reject) => {
        const secure = engine.url.startsWith("https:") && options.handshake !== false
        const tcp = net.connect({ host: "127.0.0.1", port: engine.port, allowHalfOpen: options.allowHalfOpen ?? false })
        // A TLS socket built on a TCP socket keeps that socket's allowHalfOpen.
        const socket = secure ? tls.connect({ socket: tcp, servername: "localhost", ca: engine.ca }) : tcp
        socket.on("error", () => undefined)
        socket.once(secure ? "secureConnect" : "connect", () => resolve(socket))
        socket.once("close", () => reject(new Error("closed before connecting")))
      })
    ),
    (socket) => Effect.sync(() => socket.destroy())
  )

/** Collects what a client socket receives and whether the server ended it. */
const received = (socket: net.Socket) => {
  const state = { data: "", ended: false, closed: false }
  socket.on("data", (chunk: Buffer) => (state.data += chunk.toString("latin1")))
  socket.on("end", () => (state.ended = true))
  socket.on("close", () => (state.closed = true))
  return state
}

const trickle = (socket: net.Socket, text: string, everyMs: number) => {
  let i = 0
  const timer = setInterval(() => {
    if (socket.destroyed || i >= text.length) return clearInterval(timer)
    socket.write(text[i++]!)
  }, everyMs)
  socket.once("close", () => clearInterval(timer))
}

describe("connections the server cuts", () => {
  for (const mode of ["https", "http"] as const) {
    it.scoped(`a malformed request from a client keeping its side open is answered 400 and released (${mode})`, () =>
      Effect.gen(function*() {
        const engine = yield* startEngine({ env: mode === "http" ? { BOREALIS_TLS_ENABLED: "false" } : {} })
        const server = serverOf(engine)
        const baseline = yield* Effect.promise(() => openConnections(server))
        const socket = yield* connect(engine, { allowHalfOpen: true })
        const seen = received(socket)
        socket.write("GARBAGE / HTTP/9.9\r\n\r\n")
        const ms = yield* releasedWithin(server, baseline, 1500)
        expect(ms).toBeLessThan(1500)
        expect(seen.data).toMatch(/^HTTP\/1\.1 400 /)
        expect(seen.data).toContain('{"error":"invalid_request"}')
      }))
  }

  it.scoped("slowloris: headers trickled a byte at a time, or never sent, are cut at the headers timeout with 408", () =>
    Effect.gen(function*() {
      // A long idle timeout, so only the headers deadline can end either connection.
      const engine = yield* startEngine({ env: { ...SHORT_LIMITS, BOREALIS_HTTP_IDLE_TIMEOUT_SECONDS: "30" } })
      const server = serverOf(engine)
      const baseline = yield* Effect.promise(() => openConnections(server))
      const socket = yield* connect(engine)
      const seen = received(socket)
      const silent = yield* connect(engine)
      const silentSeen = received(silent)
      socket.write("GET /health HTTP/1.1\r\nHost: localhost\r\n")
      trickle(socket, `X-Slow: ${"a".repeat(200)}\r\n`, 300)
      const ms = yield* releasedWithin(server, baseline, 4500)
      expect(ms).toBeGreaterThan(1500)
      expect(seen.data).toMatch(/^HTTP\/1\.1 408 /)
      expect(seen.data).toContain('{"error":"request_timeout"}')
      expect(silentSeen.data).toMatch(/^HTTP\/1\.1 408 /)
    }))

  it.scoped("a slow body is cut at the request timeout", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine({ env: SHORT_LIMITS })
      const server = serverOf(engine)
      const baseline = yield* Effect.promise(() => openConnections(server))
      const socket = yield* connect(engine)
      const seen = received(socket)
      socket.write("POST /api/agent/enroll/request HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{")
      trickle(socket, " ".repeat(1000), 300)
      const ms = yield* releasedWithin(server, baseline, 5500)
      // Past the 2 s idle and headers timeouts: the 3 s request deadline did it.
      expect(ms).toBeGreaterThan(2500)
      expect(seen.data).toMatch(/^HTTP\/1\.1 408 /)
    }))

  it.scoped("a body that stalls is cut at the idle timeout", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine({ env: { ...SHORT_LIMITS, BOREALIS_HTTP_REQUEST_TIMEOUT_SECONDS: "30" } })
      const server = serverOf(engine)
      const baseline = yield* Effect.promise(() => openConnections(server))
      const socket = yield* connect(engine)
      socket.write("POST /api/agent/enroll/request HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{\"a\":")
      const ms = yield* releasedWithin(server, baseline, 4500)
      expect(ms).toBeGreaterThan(1500)
    }))

  it.scoped("a client that stops reading a 20 MB static file is cut at the idle timeout", () =>
    Effect.gen(function*() {
      const root = tempRoot()
      fs.mkdirSync(path.join(root, "static"), { recursive: true })
      fs.writeFileSync(path.join(root, "static", "big.bin"), Buffer.alloc(20 * 1024 * 1024, 7))
      const engine = yield* startEngine({ root, env: SHORT_LIMITS })
      const server = serverOf(engine)
      const baseline = yield* Effect.promise(() => openConnections(server))
      const socket = yield* connect(engine)
      const firstBytes = yield* Effect.promise(() =>
        new Promise<string>((resolve) => {
          socket.once("data", (chunk: Buffer) => {
            socket.pause()
            resolve(chunk.toString("latin1", 0, 64))
          })
          socket.write("GET /big.bin HTTP/1.1\r\nHost: localhost\r\n\r\n")
        })
      )
      expect(firstBytes).toMatch(/^HTTP\/1\.1 200 /)
      const ms = yield* releasedWithin(server, baseline, 6000)
      expect(ms).toBeGreaterThan(1500)
    }))

  it.scoped("a TLS client that never finishes its handshake is cut at the handshake timeout", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine({ env: { ...SHORT_LIMITS, BOREALIS_HTTP_IDLE_TIMEOUT_SECONDS: "30" } })
      const server = serverOf(engine)
      const baseline = yield* Effect.promise(() => openConnections(server))
      const silent = yield* connect(engine, { handshake: false })
      const partial = yield* connect(engine, { handshake: false })
      // The first bytes of a ClientHello record, then nothing.
      partial.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]))
      expect(yield* Effect.promise(() => openConnections(server))).toBe(baseline + 2)
      const ms = yield* releasedWithin(server, baseline, 4500)
      expect(ms).toBeGreaterThan(1500)
      yield* Effect.promise(() => sleep(100))
      // The clients did nothing: the server ended both.
      expect([silent.destroyed, partial.destroyed]).toEqual([true, true])
    }))

  it.scoped("an idle keep-alive connection is closed after the keep-alive timeout", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine({ env: SHORT_LIMITS })
      const server = serverOf(engine)
      const baseline = yield* Effect.promise(() => openConnections(server))
      const socket = yield* connect(engine)
      const seen = received(socket)
      socket.write("GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
      yield* Effect.promise(() => sleep(300))
      expect(seen.data).toMatch(/^HTTP\/1\.1 200 /)
      const ms = yield* releasedWithin(server, baseline, 4000)
      // 1 s keep-alive (+ Node's 1 s grace), before the 2 s idle timeout would be reached again.
      expect(ms).toBeLessThan(3000)
    }))
})

describe("unauthenticated connections per client address", () => {
  for (const mode of ["https", "http"] as const) {
    it.scoped(`above the cap new connections are cut at once; authenticated ones stop counting (${mode})`, () =>
      Effect.gen(function*() {
        const engine = yield* startEngine({
          env: {
            BOREALIS_MAX_UNAUTHENTICATED_CONNECTIONS_PER_ADDRESS: "3",
            // Loopback is a trusted proxy by default, and proxies are not capped.
            BOREALIS_TRUSTED_PROXIES: "none",
            ...(mode === "http" ? { BOREALIS_TLS_ENABLED: "false" } : {})
          }
        })
        const server = serverOf(engine)
        // What the auth points do once a request has proved who it is.
        server.prependListener("request", (request: http.IncomingMessage) => {
          if (request.headers["x-test-authenticated"] === "yes") markAuthenticated(request.socket)
        })
        const refusedBefore = yield* refusals
        const opened: Array<net.Socket> = []
        yield* Effect.addFinalizer(() => Effect.sync(() => opened.forEach((s) => s.destroy())))
        const tryConnect = Effect.promise(() =>
          new Promise<"accepted" | "cut">((resolve) => {
            const socket = mode === "https"
              ? tls.connect({ host: "127.0.0.1", port: engine.port, servername: "localhost", ca: engine.ca })
              : net.connect({ host: "127.0.0.1", port: engine.port })
            socket.on("error", () => undefined)
            opened.push(socket)
            // Plain TCP: the server's accept is invisible to the client; a request tells.
            socket.once(mode === "https" ? "secureConnect" : "connect", () => {
              if (mode === "https") return resolve("accepted")
              socket.write("GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
              socket.once("data", () => resolve("accepted"))
            })
            socket.once("close", () => resolve("cut"))
          })
        )

        for (let i = 0; i < 3; i++) expect(yield* tryConnect).toBe("accepted")
        expect(yield* tryConnect).toBe("cut")
        expect((yield* refusals) - refusedBefore).toBe(1)

        // The three open ones authenticate (a request each, kept alive): the address is free again.
        for (const socket of opened.slice(0, 3)) {
          yield* Effect.promise(() =>
            new Promise<void>((resolve) => {
              socket.once("data", () => resolve())
              socket.write("GET /health HTTP/1.1\r\nHost: localhost\r\nX-Test-Authenticated: yes\r\n\r\n")
            })
          )
        }
        for (let i = 0; i < 3; i++) expect(yield* tryConnect).toBe("accepted")
        expect(yield* tryConnect).toBe("cut")
        expect((yield* refusals) - refusedBefore).toBe(2)
        // Closing unauthenticated connections frees their places too.
        opened[5]!.destroy()
        yield* Effect.promise(() => sleep(200))
        expect(yield* tryConnect).toBe("accepted")
        // Authenticated connections still answer.
        const answer = yield* Effect.promise(() =>
          new Promise<string>((resolve) => {
            opened[0]!.once("data", (chunk: Buffer) => resolve(chunk.toString("latin1")))
            opened[0]!.write("GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
          })
        )
        expect(answer).toMatch(/^HTTP\/1\.1 200 /)
        yield* Effect.promise(() => sleep(100))
        const refusedLines = fs.readFileSync(engine.logFile, "utf8").split("\n").filter((line) => line.includes("-engine-connection-refused"))
        // Rate-limited: one line for the two refusals.
        expect(refusedLines).toHaveLength(1)
        expect(refusedLines[0]).toContain("address=127.0.0.1")
        expect(refusedLines[0]).toContain("limit=3")
      }))
  }

  it("client keys: IPv4-mapped addresses unmapped, IPv6 grouped by /64", () => {
    expect(clientKey("127.0.0.1")).toBe("127.0.0.1")
    expect(clientKey("::ffff:10.1.2.3")).toBe("10.1.2.3")
    expect(clientKey("2001:db8:0:1:aaaa::1")).toBe("2001:db8:0:1::/64")
    expect(clientKey("2001:0db8:0000:0001:ffff:1:2:3")).toBe("2001:db8:0:1::/64")
    expect(clientKey("2001:db8::1")).toBe("2001:db8:0:0::/64")
    expect(clientKey("::1")).toBe("0:0:0:0::/64")
    expect(clientKey("fe80::1%eth0")).toBe("fe80:0:0:0::/64")
  })
})

const refusals = Effect.promise(async () => {
  const metric = await metricsRegistry.getSingleMetric("borealis_rate_limited_total")?.get()
  return metric?.values.find((v) => v.labels["limiter"] === "unauthenticated_connections")?.value ?? 0
})

describe("agents' Socket.IO connections outlive the HTTP timeouts", () => {
  const ALL_SHORT = {
    BOREALIS_SOCKET_ALLOW_ANONYMOUS: "true",
    BOREALIS_HTTP_HEADERS_TIMEOUT_SECONDS: "1",
    BOREALIS_HTTP_REQUEST_TIMEOUT_SECONDS: "1",
    BOREALIS_HTTP_IDLE_TIMEOUT_SECONDS: "1",
    BOREALIS_HTTP_KEEPALIVE_TIMEOUT_SECONDS: "1",
    BOREALIS_TLS_HANDSHAKE_TIMEOUT_SECONDS: "1"
  }
  for (const transport of ["websocket", "polling"] as const) {
    it.scoped(`an idle ${transport} client stays connected across several idle timeouts`, () =>
      Effect.gen(function*() {
        const engine = yield* startEngine({ env: ALL_SHORT })
        const io = Context.get(engine.context, SocketIo)
        const client = yield* Effect.acquireRelease(
          Effect.sync(() => ioClient(engine.url, { transports: [transport], upgrade: false, ca: engine.ca, reconnection: false, timeout: 5000 } as never)),
          (socket) => Effect.sync(() => socket.close())
        )
        const disconnects: Array<string> = []
        client.on("disconnect", (reason) => disconnects.push(reason))
        yield* Effect.promise(() =>
          new Promise<void>((resolve, reject) => {
            client.once("connect", () => resolve())
            client.once("connect_error", reject)
          })
        )
        expect(client.io.engine.transport.name).toBe(transport)
        // Nothing crosses the wire for 3.5 s (the ping comes every 25 s): over three idle timeouts.
        yield* Effect.promise(() => sleep(3500))
        expect(disconnects).toEqual([])
        expect(client.connected).toBe(true)
        expect(io.of("/").sockets.size).toBe(1)
        // And the channel still carries traffic both ways.
        const echoed = yield* Effect.promise(() =>
          new Promise<string>((resolve) => {
            const serverSocket = [...io.of("/").sockets.values()][0]!
            client.once("connections-test", (text: string) => resolve(text))
            serverSocket.emit("connections-test", "still here")
          })
        )
        expect(echoed).toBe("still here")
      }))
  }
})

describe("TLS suites", () => {
  const handshake = (engine: RunningEngine, options: tls.ConnectionOptions) =>
    Effect.promise(() =>
      new Promise<{ ok: true; protocol: string | null; cipher: string } | { ok: false; error: string }>((resolve) => {
        const socket = tls.connect({ host: "127.0.0.1", port: engine.port, servername: "localhost", ca: engine.ca, ...options }, () => {
          resolve({ ok: true, protocol: socket.getProtocol(), cipher: socket.getCipher().name })
          socket.destroy()
        })
        socket.on("error", (error: NodeJS.ErrnoException) => resolve({ ok: false, error: error.code ?? error.message }))
      })
    )

  it.scoped("TLS 1.2 only with ECDHE + AEAD; CBC refused; TLS 1.3 works", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const cbc = yield* handshake(engine, { maxVersion: "TLSv1.2", ciphers: "ECDHE-ECDSA-AES128-SHA" })
      expect(cbc.ok).toBe(false)
      const cbc256 = yield* handshake(engine, { maxVersion: "TLSv1.2", ciphers: "ECDHE-ECDSA-AES256-SHA384:ECDHE-ECDSA-AES128-SHA256" })
      expect(cbc256.ok).toBe(false)
      const gcm = yield* handshake(engine, { maxVersion: "TLSv1.2", ciphers: "ECDHE-ECDSA-AES128-GCM-SHA256" })
      expect(gcm).toEqual({ ok: true, protocol: "TLSv1.2", cipher: "ECDHE-ECDSA-AES128-GCM-SHA256" })
      const chacha = yield* handshake(engine, { maxVersion: "TLSv1.2", ciphers: "ECDHE-ECDSA-CHACHA20-POLY1305" })
      expect(chacha).toEqual({ ok: true, protocol: "TLSv1.2", cipher: "ECDHE-ECDSA-CHACHA20-POLY1305" })
      const v13 = yield* handshake(engine, {})
      expect(v13.ok && v13.protocol).toBe("TLSv1.3")
    }))

  it.scoped("a Python client (what agents run) limited to TLS 1.2 negotiates an AEAD suite", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const caFile = path.join(engine.root, "ca.pem")
      fs.writeFileSync(caFile, engine.ca ?? "")
      const script = `
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
ctx.maximum_version = ssl.TLSVersion.TLSv1_2
with socket.create_connection(("127.0.0.1", int(sys.argv[1]))) as raw:
    with ctx.wrap_socket(raw, server_hostname="localhost") as s:
        print(s.version(), s.cipher()[0])
`
      const result = yield* Effect.promise(() => runPython(script, [String(engine.port), caFile]))
      expect(result.stderr).toBe("")
      expect(result.stdout.trim()).toMatch(/^TLSv1\.2 ECDHE-ECDSA-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)$/)
    }))
})
