// Security headers on every kind of answer over a real HTTPS port (and plain HTTP, with and without a
// TLS-terminating proxy), the same headers and CORS rule on Socket.IO's own answers, and static files
// served by real path only (symbolic links out of the static root refused).
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as path from "node:path"
import { Server as IoServer } from "socket.io"
import { addSocketIoSecurityHeaders, PAGE_CSP, RESOURCE_CSP, socketIoCors } from "../../src/layers/webPolicy.ts"
import { staticFileFor } from "../../src/http/spa.ts"
import { startEngine, rootWithStatic, tempRoot } from "../support/engine.ts"
import { Client, type Reply } from "../support/http.ts"
import { login } from "../support/operators.ts"

const withStatic = rootWithStatic

const SPA = { "index.html": "<!doctype html><title>app</title>", "assets/app.js": "console.log(1)", "robots.txt": "ok" }

const expectSecurityHeaders = (label: string, r: Reply, csp: string, hsts: boolean) => {
  expect([label, r.headers["x-content-type-options"]]).toEqual([label, "nosniff"])
  expect([label, r.headers["referrer-policy"]]).toEqual([label, "no-referrer"])
  expect([label, r.headers["x-frame-options"]]).toEqual([label, "DENY"])
  expect([label, r.headers["content-security-policy"]]).toEqual([label, csp])
  expect([label, r.headers["strict-transport-security"]]).toEqual([label, hsts ? "max-age=31536000" : undefined])
}

describe("security headers on every answer", () => {
  it.scoped("over HTTPS: JSON, 401, 404, 405, 413, static files, SPA index, preflight, /health, /metrics", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine({ root: withStatic(SPA), env: { BOREALIS_MAX_BODY_BYTES: "1024" } })
      expect(engine.url.startsWith("https://")).toBe(true)
      const c = engine.client()
      const admin = engine.client()
      yield* Effect.promise(() => login(admin))
      const cases: Array<[label: string, run: (c: Client) => Promise<Reply>, status: number, csp: string, client?: Client]> = [
        ["GET /health", (c) => c.get("/health"), 200, RESOURCE_CSP],
        ["GET /health/ready", (c) => c.get("/health/ready"), 200, RESOURCE_CSP],
        ["GET /api/server/time (no session)", (c) => c.get("/api/server/time"), 401, RESOURCE_CSP],
        ["GET /metrics (no session)", (c) => c.get("/metrics"), 401, RESOURCE_CSP],
        ["GET /metrics", (c) => c.get("/metrics"), 200, RESOURCE_CSP, admin],
        ["GET /api/devices", (c) => c.get("/api/devices"), 200, RESOURCE_CSP, admin],
        ["GET /api/unknown", (c) => c.get("/api/unknown"), 404, RESOURCE_CSP],
        ["GET /missing.js", (c) => c.get("/missing.js"), 404, RESOURCE_CSP],
        ["POST /some/page", (c) => c.request("/some/page", { method: "POST" }), 405, RESOURCE_CSP],
        ["POST too large", (c) => c.request("/api/agent/enroll/request", { method: "POST", body: "x".repeat(4096), headers: { "content-type": "application/json" } }), 413, RESOURCE_CSP],
        ["GET /robots.txt", (c) => c.get("/robots.txt"), 200, RESOURCE_CSP],
        // a script may run as a worker, under its own answer's policy
        ["GET /assets/app.js", (c) => c.get("/assets/app.js"), 200, PAGE_CSP],
        ["GET /", (c) => c.get("/"), 200, PAGE_CSP],
        ["GET /devices/42 (SPA fallback)", (c) => c.get("/devices/42"), 200, PAGE_CSP],
        ["HEAD /", (c) => c.request("/", { method: "HEAD" }), 200, PAGE_CSP],
        ["OPTIONS /devices", (c) => c.request("/devices", { method: "OPTIONS" }), 200, RESOURCE_CSP],
        [
          "preflight",
          (c) => c.request("/api/auth/login", { method: "OPTIONS", headers: { origin: "https://ui.example", "access-control-request-method": "POST" } }),
          200,
          RESOURCE_CSP
        ]
      ]
      for (const [label, run, status, csp, client] of cases) {
        const r = yield* Effect.promise(() => run(client ?? c))
        expect([label, r.status]).toEqual([label, status])
        expectSecurityHeaders(label, r, csp, true)
      }
      const index = yield* Effect.promise(() => c.get("/"))
      expect(index.headers["content-type"]).toMatch(/^text\/html/)
    }))

  it.scoped("plain HTTP: no Strict-Transport-Security (browsers ignore it there), the rest unchanged", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine({ root: withStatic(SPA), env: { BOREALIS_TLS_ENABLED: "false" } })
      const c = engine.client()
      expectSecurityHeaders("GET /health", yield* Effect.promise(() => c.get("/health")), RESOURCE_CSP, false)
      expectSecurityHeaders("GET /", yield* Effect.promise(() => c.get("/")), PAGE_CSP, false)
    }))

  it.scoped("plain HTTP behind an HTTPS proxy (BOREALIS_PUBLIC_BASE_URL=https://…): Strict-Transport-Security", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine({
        root: withStatic(SPA),
        env: { BOREALIS_TLS_ENABLED: "false", BOREALIS_PUBLIC_BASE_URL: "https://rmm.example.com" }
      })
      const c = engine.client()
      expectSecurityHeaders("GET /health", yield* Effect.promise(() => c.get("/health")), RESOURCE_CSP, true)
      expectSecurityHeaders("GET /api/unknown", yield* Effect.promise(() => c.get("/api/unknown")), RESOURCE_CSP, true)
    }))
})

describe("Socket.IO's own answers (engine.io, outside the Effect app)", () => {
  const withIo = (origins: ReadonlyArray<string>) =>
    Effect.acquireRelease(
      Effect.promise(async () => {
        const server = http.createServer()
        const io = new IoServer({ path: "/socket.io", serveClient: false, cors: socketIoCors(origins) })
        io.attach(server)
        addSocketIoSecurityHeaders(io, { hsts: true })
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
        return { io, client: new Client(`http://127.0.0.1:${(server.address() as AddressInfo).port}`) }
      }),
      ({ io }) => Effect.promise(() => io.close().catch(() => undefined))
    )
  const handshake = (c: Client, origin?: string) =>
    Effect.promise(() => c.get("/socket.io/?EIO=4&transport=polling", origin === undefined ? undefined : { origin }))

  it.scoped("polling answers carry the security headers; with `*` any Origin gets `*` without credentials", () =>
    Effect.gen(function*() {
      const { client } = yield* withIo(["*"])
      const plain = yield* handshake(client)
      expect(plain.status).toBe(200)
      expect(plain.text).toMatch(/^0\{"sid"/)
      expectSecurityHeaders("polling handshake", plain, RESOURCE_CSP, true)
      expect(plain.headers["access-control-allow-origin"]).toBeUndefined()
      for (const origin of ["https://ui.example", "null"]) {
        const r = yield* handshake(client, origin)
        expect([origin, r.headers["access-control-allow-origin"], r.headers["access-control-allow-credentials"]]).toEqual([origin, "*", undefined])
      }
    }))

  it.scoped("with a list: a listed Origin is echoed with credentials, others and `null` get nothing", () =>
    Effect.gen(function*() {
      const { client } = yield* withIo(["https://a.example", "null"])
      const listed = yield* handshake(client, "https://a.example")
      expect([listed.headers["access-control-allow-origin"], listed.headers["access-control-allow-credentials"]]).toEqual(["https://a.example", "true"])
      expect(listed.headers["vary"]).toContain("Origin")
      expectSecurityHeaders("polling handshake", listed, RESOURCE_CSP, true)
      for (const origin of ["https://evil.example", "null"]) {
        const r = yield* handshake(client, origin)
        expect([origin, r.headers["access-control-allow-origin"], r.headers["access-control-allow-credentials"]]).toEqual([origin, undefined, undefined])
      }
    }))
})

describe("static files by real path", () => {
  it.scoped("links out of the static root (file or folder), non-regular files and an outside index.html are never served", () =>
    Effect.gen(function*() {
      const root = withStatic({ "inside.txt": "inside", "assets/app.js": "console.log(1)" })
      const staticRoot = path.join(root, "static")
      const outside = path.join(root, "outside")
      fs.mkdirSync(outside)
      fs.writeFileSync(path.join(outside, "secret.txt"), "secret")
      fs.writeFileSync(path.join(outside, "index.html"), "<p>outside</p>")
      fs.symlinkSync(path.join(outside, "secret.txt"), path.join(staticRoot, "leak.txt"))
      fs.symlinkSync(outside, path.join(staticRoot, "leakdir"))
      fs.symlinkSync("/etc/hostname", path.join(staticRoot, "hostname.txt"))
      fs.symlinkSync(path.join(staticRoot, "inside.txt"), path.join(staticRoot, "alias.txt"))
      fs.symlinkSync(path.join(staticRoot, "assets"), path.join(staticRoot, "alias-assets"))
      execFileSync("mkfifo", [path.join(staticRoot, "pipe.txt")])
      fs.symlinkSync(path.join(outside, "index.html"), path.join(staticRoot, "index.html"))
      const engine = yield* startEngine({ root })
      const c = engine.client()
      const cases: Array<[string, number, string | undefined]> = [
        ["/inside.txt", 200, "inside"],
        // links that stay inside are followed
        ["/alias.txt", 200, "inside"],
        ["/alias-assets/app.js", 200, "console.log(1)"],
        ["/leak.txt", 404, undefined],
        ["/leakdir/secret.txt", 404, undefined],
        ["/hostname.txt", 404, undefined],
        ["/pipe.txt", 404, undefined],
        // index.html itself points outside: the SPA has no index
        ["/", 404, undefined],
        ["/devices", 404, undefined]
      ]
      for (const [p, status, body] of cases) {
        const r = yield* Effect.promise(() => c.get(p))
        expect([p, r.status]).toEqual([p, status])
        if (body !== undefined) expect([p, r.text]).toEqual([p, body])
        expect([p, r.text.includes("secret")]).toEqual([p, false])
      }
      expect(staticFileFor(staticRoot, "/leakdir/secret.txt")).toBeUndefined()
      expect(staticFileFor(staticRoot, "/leak.txt")).toBeUndefined()
      expect(staticFileFor(staticRoot, "/pipe.txt")).toBeUndefined()
      expect(staticFileFor(staticRoot, "/alias.txt")).toBe(fs.realpathSync(path.join(staticRoot, "inside.txt")))
    }))

  it.scoped("a static root that is itself a link is served through its real path", () =>
    Effect.gen(function*() {
      const root = tempRoot()
      const real = path.join(root, "build")
      fs.mkdirSync(real)
      fs.writeFileSync(path.join(real, "index.html"), "<p>app</p>")
      fs.symlinkSync(real, path.join(root, "web"))
      const engine = yield* startEngine({ root, env: { BOREALIS_STATIC_ROOT: path.join(root, "web") } })
      const r = yield* Effect.promise(() => engine.client().get("/devices"))
      expect([r.status, r.text]).toEqual([200, "<p>app</p>"])
    }))
})
