import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import * as tls from "node:tls"
import { io as ioClient } from "socket.io-client"
import { corsGrant, corsHeaders } from "../../src/layers/webPolicy.ts"
import { staticFileFor } from "../../src/http/spa.ts"
import { startEngine, rootWithStatic, tempRoot } from "../support/engine.ts"
import type { Client } from "../support/http.ts"
import { runPython } from "../support/python.ts"

const withStatic = rootWithStatic

type CorsRow = readonly [origin: string | undefined, allowOrigin: string | undefined, credentials: string | undefined, vary: boolean]

const corsTable = (c: Client, rows: ReadonlyArray<CorsRow>) =>
  Effect.gen(function*() {
    for (const [origin, allowOrigin, credentials, vary] of rows) {
      const headers = origin === undefined ? {} : { origin }
      const r = yield* Effect.promise(() => c.get("/health", headers))
      expect(r.status).toBe(200)
      expect([origin, r.headers["access-control-allow-origin"], r.headers["access-control-allow-credentials"]]).toEqual([origin, allowOrigin, credentials])
      expect([origin, (r.headers["vary"] ?? "").includes("Origin")]).toEqual([origin, vary])
      // a preflight follows the same rule
      if (origin === undefined) continue
      const pre = yield* Effect.promise(() =>
        c.request("/api/auth/login", {
          method: "OPTIONS",
          headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "content-type" }
        }))
      expect([origin, pre.headers["access-control-allow-origin"], pre.headers["access-control-allow-credentials"]]).toEqual([origin, allowOrigin, credentials])
      if (allowOrigin !== undefined) {
        expect(pre.status).toBe(200)
        expect(pre.headers["access-control-allow-methods"]).toContain("POST")
        expect(pre.headers["access-control-allow-headers"]).toBe("content-type")
      }
    }
  })

// Stricter than the original's Flask-CORS (which echoed any Origin, `null` included, with credentials
// under `*`): a wildcard never carries credentials and `null` is never echoed.
describe("CORS (spec §3.3, tightened: credentials only for listed origins)", () => {
  it("the rule as a pure function", () => {
    expect(corsGrant(["*"], undefined)).toEqual({ _tag: "None" })
    expect(corsGrant(["*"], "https://ui.example")).toEqual({ _tag: "Any" })
    expect(corsGrant(["*"], "null")).toEqual({ _tag: "Any" })
    expect(corsGrant(["https://a.example"], "https://a.example")).toEqual({ _tag: "Credentialed", origin: "https://a.example" })
    expect(corsGrant(["https://a.example"], "https://b.example")).toEqual({ _tag: "None" })
    // a listed `null` is ignored: any sandboxed frame or file: page would present it
    expect(corsGrant(["null"], "null")).toEqual({ _tag: "None" })
    expect(corsGrant(["*", "https://a.example"], "https://a.example")).toEqual({ _tag: "Credentialed", origin: "https://a.example" })
    expect(corsHeaders(["*", "https://a.example"], { _tag: "Any" })).toEqual({ "access-control-allow-origin": "*", vary: "Origin" })
    expect(corsHeaders(["*"], { _tag: "Any" })).toEqual({ "access-control-allow-origin": "*" })
  })

  it.scoped("with `*`: any Origin (even `null`) gets `*` without credentials; no Origin, no headers", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      yield* corsTable(engine.client(), [
        [undefined, undefined, undefined, false],
        ["https://ui.example", "*", undefined, false],
        ["null", "*", undefined, false]
      ])
    }))

  it.scoped("with a list: listed origins are echoed with credentials and Vary; unlisted and `null` get nothing", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine({ env: { BOREALIS_CORS_ALLOWED_ORIGINS: "https://a.example, https://b.example, null" } })
      const c = engine.client()
      yield* corsTable(c, [
        [undefined, undefined, undefined, false],
        ["https://b.example", "https://b.example", "true", true],
        ["https://evil.example", undefined, undefined, false],
        ["null", undefined, undefined, false]
      ])
      const no = yield* Effect.promise(() => c.get("/health", { origin: "https://evil.example" }))
      expect(no.status).toBe(200)
    }))

  it.scoped("with `*` and a list: listed origins get credentials, the rest `*` (both Vary: Origin)", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine({ env: { BOREALIS_CORS_ALLOWED_ORIGINS: "*,https://a.example" } })
      yield* corsTable(engine.client(), [
        ["https://a.example", "https://a.example", "true", true],
        ["https://other.example", "*", undefined, true],
        ["null", "*", undefined, true]
      ])
    }))
})

describe("SPA fallback matrix (spec §3.3 SRV-SPA)", () => {
  it.scoped("files, index.html fallback, and the 404 pass-through rules", () =>
    Effect.gen(function*() {
      const root = withStatic({ "index.html": "<html>app</html>", "assets/app.js": "console.log(1)", "robots.txt": "ok" })
      const engine = yield* startEngine({ root })
      const c = engine.client()
      const get = (p: string, method = "GET") => Effect.promise(() => c.request(p, { method }))
      const cases: Array<[string, string, number, string | undefined]> = [
        ["GET", "/", 200, "<html>app</html>"],
        ["GET", "/assets/app.js", 200, "console.log(1)"],
        ["GET", "/robots.txt", 200, "ok"],
        ["GET", "/devices/42", 200, "<html>app</html>"],
        ["GET", "/scheduling", 200, "<html>app</html>"],
        ["GET", "/missing.js", 404, undefined],
        ["GET", "/assets/missing.css", 404, undefined],
        ["GET", "/api/unknown", 404, '{"error":"not_found"}'],
        ["POST", "/api/unknown", 404, '{"error":"not_found"}'],
        ["GET", "/socket.io", 404, undefined],
        ["POST", "/some/page", 405, undefined],
        ["GET", "/../../etc/passwd", 200, "<html>app</html>"],
        ["GET", "/..%2f..%2fetc%2fpasswd", 404, undefined]
      ]
      for (const [method, p, status, body] of cases) {
        const r = yield* get(p, method)
        expect([method, p, r.status]).toEqual([method, p, status])
        if (body !== undefined) expect(r.text).toBe(body)
      }
      const head = yield* get("/", "HEAD")
      expect(head.status).toBe(200)
      expect(head.text).toBe("")
      // traversal is refused below the URL layer too
      expect(staticFileFor(path.join(root, "static"), "/../static/index.html")).toBeUndefined()
      expect(staticFileFor(path.join(root, "static"), "/assets/%2e%2e/%2e%2e/static/index.html")).toBeUndefined()
      expect(staticFileFor(path.join(root, "static"), "/assets/app.js")).toBe(path.join(root, "static", "assets", "app.js"))
      const js = yield* get("/assets/app.js")
      expect(js.headers["content-type"]).toMatch(/javascript/)
    }))

  it.scoped("a missing static root: the server runs, SPA paths answer 404, the API works", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine({ env: { BOREALIS_STATIC_ROOT: path.join(tempRoot(), "nothing-here") } })
      const c = engine.client()
      expect((yield* Effect.promise(() => c.get("/"))).status).toBe(404)
      expect((yield* Effect.promise(() => c.get("/devices"))).status).toBe(404)
      expect((yield* Effect.promise(() => c.get("/health"))).status).toBe(200)
    }))
})

describe("HTTP edge behaviour", () => {
  it.scoped("request id, OpenAPI document, body limit, malformed requests", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine({ env: { BOREALIS_MAX_BODY_BYTES: "1024" } })
      const c = engine.client()
      const r = yield* Effect.promise(() => c.get("/health", { "x-request-id": "abc-123" }))
      expect(r.headers["x-request-id"]).toBe("abc-123")
      expect((yield* Effect.promise(() => c.get("/health"))).headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/)
      const doc = yield* Effect.promise(() => c.get("/api/openapi.json"))
      expect(doc.status).toBe(200)
      expect(doc.json.info.title).toBe("Borealis Engine")
      expect(Object.keys(doc.json.paths)).toContain("/health")
      const big = yield* Effect.promise(() => c.request("/api/agent/enroll/request", { method: "POST", body: "x".repeat(4096), headers: { "content-type": "application/json" } }))
      expect(big.status).toBeGreaterThanOrEqual(400)
      expect(big.status).toBeLessThan(500)
      // a request line no HTTP parser accepts
      const raw = yield* Effect.promise(() =>
        new Promise<string>((resolve, reject) => {
          const socket = tls.connect({ host: "127.0.0.1", port: engine.port, servername: "localhost", ca: engine.ca }, () => {
            socket.write("GARBAGE / HTTP/9.9\r\n\r\n")
          })
          let data = ""
          socket.on("data", (d) => (data += d))
          socket.on("end", () => resolve(data))
          socket.on("close", () => resolve(data))
          socket.on("error", reject)
        }))
      expect(raw).toMatch(/^HTTP\/1\.1 400/)
      expect(raw).toContain('{"error":"invalid_request"}')
      expect((yield* Effect.promise(() => c.get("/health"))).status).toBe(200)
    }))

  it.scoped("plain HTTP mode (behind a TLS-terminating proxy)", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine({ env: { BOREALIS_TLS_ENABLED: "false" } })
      expect(engine.url.startsWith("http://")).toBe(true)
      expect((yield* Effect.promise(() => engine.client().get("/health"))).json).toEqual({ status: "ok" })
    }))
})

const connectClient = (url: string, ca: string | undefined, transports: Array<"websocket" | "polling">) =>
  Effect.promise(() =>
    new Promise<{ id: string; transport: string }>((resolve, reject) => {
      const socket = ioClient(url, { transports, ca, reconnection: false, timeout: 5000 } as never)
      socket.on("connect", () => {
        const transport = socket.io.engine.transport.name
        const id = socket.id ?? ""
        socket.close()
        resolve({ id, transport })
      })
      socket.on("connect_error", (e) => {
        socket.close()
        reject(e)
      })
    }))

describe("Socket.IO on the same port (TLS) as HTTP", () => {
  it.scoped("socket.io-client connects over websocket and over polling while HTTP still answers", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine({ env: { BOREALIS_SOCKET_ALLOW_ANONYMOUS: "true" } })
      const ws = yield* connectClient(engine.url, engine.ca, ["websocket"])
      expect(ws.transport).toBe("websocket")
      expect(ws.id).not.toBe("")
      const polling = yield* connectClient(engine.url, engine.ca, ["polling"])
      expect(polling.transport).toBe("polling")
      expect((yield* Effect.promise(() => engine.client().get("/health"))).json).toEqual({ status: "ok" })
    }))

  it.scoped("python-socketio (what real agents use) connects over websocket with TLS verification", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine({ env: { BOREALIS_SOCKET_ALLOW_ANONYMOUS: "true" } })
      const caFile = path.join(engine.root, "ca.pem")
      fs.writeFileSync(caFile, engine.ca ?? "")
      const script = `
import sys, socketio, requests
url, ca = sys.argv[1], sys.argv[2]
http = requests.Session()
http.verify = ca
sio = socketio.Client(http_session=http, reconnection=False)
sio.connect(url, transports=["websocket"], wait_timeout=10)
print("connected", sio.transport())
sio.disconnect()
`
      const result = yield* Effect.promise(() => runPython(script, [engine.url, caFile]))
      expect(result.stderr).toBe("")
      expect(result.stdout.trim()).toBe("connected websocket")
      expect(result.code).toBe(0)
    }))
})

describe("start-up failures", () => {
  it.scoped("port in use is a clear error", () =>
    Effect.gen(function*() {
      const blocker = net.createServer()
      const port = yield* Effect.promise(() => new Promise<number>((r) => blocker.listen(0, "127.0.0.1", () => r((blocker.address() as net.AddressInfo).port))))
      yield* Effect.addFinalizer(() => Effect.sync(() => blocker.close()))
      const exit = yield* Effect.exit(startEngine({ env: { BOREALIS_PORT: String(port) } }))
      expect(exit._tag).toBe("Failure")
      expect(String(exit._tag === "Failure" ? exit.cause : "")).toContain("address already in use")
    }))
})
