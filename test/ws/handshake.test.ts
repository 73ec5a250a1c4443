// Who may open a Socket.IO connection, decided on engine.io's handshake request (before any session
// exists): credentials, the Origin of cookie-authenticated operators, CORS on Socket.IO's answers, and
// what refused clients (socket.io-client, python-socketio, raw HTTP) see. spec: realtime-jobs.md §1.1, §1.4
import { describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as fs from "node:fs"
import * as https from "node:https"
import * as path from "node:path"
import { io as ioClient, type Socket as ClientSocket } from "socket.io-client"
import { DEVICE_AUTH_LIMIT } from "../../src/services/deviceAuth/DeviceAuth.ts"
import { SocketIo } from "../../src/layers/SocketIo.ts"
import { cookieOriginAllowed } from "../../src/ws/Realtime.ts"
import type { TestAgent } from "../support/agent.ts"
import { type RunningEngine, startEngine } from "../support/engine.ts"
import { adminClient, enrolledAgent } from "../support/enrollment.ts"
import type { Client } from "../support/http.ts"
import { runPython } from "../support/python.ts"
import { rawUpgrade } from "../support/sockets.ts"

const promise = <A>(f: () => Promise<A>) => Effect.promise(f)

type Outcome = { readonly connected: true } | { readonly connected: false; readonly message: string }

/** socket.io-client over websocket (as the web UI and agents connect): connected, or its connect_error. */
const attempt = (engine: RunningEngine, headers: Record<string, string>, transports: Array<"websocket" | "polling"> = ["websocket"]) =>
  promise(() =>
    new Promise<Outcome>((resolve) => {
      const socket: ClientSocket = ioClient(engine.url, { transports, ca: engine.ca, extraHeaders: headers, reconnection: false, timeout: 5000 } as never)
      socket.once("connect", () => {
        socket.close()
        resolve({ connected: true })
      })
      socket.once("connect_error", (error: Error) => {
        socket.close()
        resolve({ connected: false, message: error.message })
      })
    })
  )

/** A socket.io-client socket kept open for the scope: connected, or its connect_error. */
const kept = (engine: RunningEngine, headers: Record<string, string>) =>
  Effect.acquireRelease(
    promise(() =>
      new Promise<{ readonly socket: ClientSocket; readonly outcome: Outcome }>((resolve) => {
        const socket: ClientSocket = ioClient(engine.url, { transports: ["websocket"], ca: engine.ca, extraHeaders: headers, reconnection: false, timeout: 5000 } as never)
        socket.once("connect", () => resolve({ socket, outcome: { connected: true } }))
        socket.once("connect_error", (error: Error) => resolve({ socket, outcome: { connected: false, message: error.message } }))
      })
    ),
    ({ socket }) => Effect.sync(() => socket.close())
  )

const upgrade = rawUpgrade

/** Refused: socket.io-client gets connect_error, and the handshake answer names the reason. */
const refusal = (engine: RunningEngine, headers: Record<string, string>) =>
  Effect.gen(function*() {
    const outcome = yield* attempt(engine, headers)
    expect(outcome.connected).toBe(false)
    const answer = yield* upgrade(engine, headers)
    expect(answer.status).toBe(400)
    return answer.body
  })

const agentHeaders = (agent: TestAgent) => ({ authorization: `Bearer ${agent.accessToken}`, "x-borealis-agent-context": "SYSTEM" })
const cookieOf = (admin: Client) => ({ cookie: admin.cookieHeader() ?? "" })
const sessionCount = (engine: RunningEngine) => Context.get(engine.context, SocketIo).engine.clientsCount

describe("cookieOriginAllowed", () => {
  const base = { host: "rmm.example:5000", tls: true, allowedOrigins: ["*"], publicBaseUrl: Option.none<string>() }
  it("admits no Origin, the page's own origin and listed origins; never `*`, `null` or another site", () => {
    expect(cookieOriginAllowed({ ...base, origin: undefined })).toBe(true)
    expect(cookieOriginAllowed({ ...base, origin: "https://rmm.example:5000" })).toBe(true)
    expect(cookieOriginAllowed({ ...base, origin: "https://RMM.example:5000" })).toBe(true)
    // a wildcard admits no cross-site cookie socket
    expect(cookieOriginAllowed({ ...base, origin: "https://evil.example" })).toBe(false)
    expect(cookieOriginAllowed({ ...base, origin: "null" })).toBe(false)
    expect(cookieOriginAllowed({ ...base, allowedOrigins: ["null", "*"], origin: "null" })).toBe(false)
    // scheme and port are part of the origin
    expect(cookieOriginAllowed({ ...base, origin: "http://rmm.example:5000" })).toBe(false)
    expect(cookieOriginAllowed({ ...base, origin: "https://rmm.example:5001" })).toBe(false)
    expect(cookieOriginAllowed({ ...base, origin: "https://rmm.example" })).toBe(false)
    expect(cookieOriginAllowed({ ...base, host: "rmm.example:443", origin: "https://rmm.example" })).toBe(true)
    expect(cookieOriginAllowed({ ...base, host: undefined, origin: "https://rmm.example:5000" })).toBe(false)
    expect(cookieOriginAllowed({ ...base, origin: "not a url" })).toBe(false)
    // listed exactly
    expect(cookieOriginAllowed({ ...base, allowedOrigins: ["https://console.example"], origin: "https://console.example" })).toBe(true)
    expect(cookieOriginAllowed({ ...base, allowedOrigins: ["https://console.example"], origin: "https://console.example.evil" })).toBe(false)
    // behind a TLS-terminating proxy: either scheme for the Host, or the public base URL's origin
    expect(cookieOriginAllowed({ ...base, tls: false, origin: "https://rmm.example:5000" })).toBe(true)
    expect(cookieOriginAllowed({ ...base, tls: false, host: "127.0.0.1:5000", publicBaseUrl: Option.some("https://rmm.example/"), origin: "https://rmm.example" })).toBe(true)
    expect(cookieOriginAllowed({ ...base, tls: false, host: "127.0.0.1:5000", publicBaseUrl: Option.some("https://rmm.example"), origin: "https://other.example" })).toBe(false)
  })
})

describe("authentication on engine.io's handshake", () => {
  it.scoped("an unauthenticated client gets no engine.io session: handshakes refused, bodies without a session refused unread", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const client = engine.client()
      // polling handshake: 403 from engine.io, the reason code as its message
      const polled = yield* promise(() => client.get("/socket.io/?EIO=4&transport=polling"))
      expect([polled.status, polled.json]).toEqual([403, { code: 4, message: "not_authenticated" }])
      expect((yield* promise(() => client.get("/socket.io/?EIO=4&transport=polling", { authorization: "Bearer nope" }))).json)
        .toEqual({ code: 4, message: "invalid_token" })
      // websocket handshake: 400 with the reason as body
      expect(yield* upgrade(engine, {})).toEqual({ status: 400, body: "not_authenticated" })
      expect(sessionCount(engine)).toBe(0)
      // Several MB posted without a session are answered before the body is sent: nothing is read
      // into memory (engine.io refuses an unknown sid, and a handshake is GET only).
      for (const query of ["transport=polling&sid=AAAAAAAAAAAAAAAAAAAA", "transport=polling"]) {
        const early = yield* promise(() =>
          new Promise<{ readonly status: number; readonly sentBytes: number }>((resolve, reject) => {
            const total = 8 * 1024 * 1024
            let sent = 0
            const request = https.request(`${engine.url}/socket.io/?EIO=4&${query}`, {
              method: "POST",
              ca: engine.ca,
              agent: false,
              headers: { "content-type": "text/plain;charset=UTF-8", "content-length": String(total) }
            }, (response) => {
              response.resume()
              resolve({ status: response.statusCode ?? 0, sentBytes: sent })
              request.destroy()
            })
            request.on("error", (error) => (sent >= total ? undefined : reject(error)))
            // 64 KiB now; the rest only if the server has not answered after a second
            const chunk = Buffer.alloc(64 * 1024, 0x61)
            request.write(chunk)
            sent += chunk.length
            setTimeout(() => {
              if (request.destroyed) return
              while (sent < total) {
                request.write(chunk)
                sent += chunk.length
              }
              request.end()
            }, 1000).unref()
          })
        )
        expect(early.status).toBe(400)
        expect(early.sentBytes).toBe(64 * 1024)
      }
      expect(sessionCount(engine)).toBe(0)
    }))

  it.scoped("cookie-authenticated operators only from their own or a listed Origin; Bearer operators and agents from anywhere", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const admin = yield* promise(() => adminClient(engine.client))
      const agent = yield* promise(() => enrolledAgent(engine, admin, "origin-host"))
      const ownOrigin = new URL(engine.url).origin
      // the web UI's own page
      expect(yield* attempt(engine, { ...cookieOf(admin), origin: ownOrigin })).toEqual({ connected: true })
      expect(yield* attempt(engine, { ...cookieOf(admin), origin: ownOrigin }, ["polling"])).toEqual({ connected: true })
      // no Origin: not a browser page
      expect(yield* attempt(engine, cookieOf(admin))).toEqual({ connected: true })
      // another site's page riding on the operator's cookies (BOREALIS_CORS_ALLOWED_ORIGINS is `*`)
      for (const origin of ["https://evil.example", "null", ownOrigin.replace("https:", "http:")]) {
        expect([origin, yield* refusal(engine, { ...cookieOf(admin), origin })]).toEqual([origin, "origin_not_allowed"])
      }
      // the token cookie alone is a cookie too
      const token = admin.cookies.get("borealis_auth") ?? ""
      expect(token).not.toBe("")
      expect(yield* refusal(engine, { cookie: `borealis_auth=${token}`, origin: "https://evil.example" })).toBe("origin_not_allowed")
      // the same token in Authorization: no ambient credential, no Origin check
      expect(yield* attempt(engine, { authorization: `Bearer ${token}`, origin: "https://evil.example" })).toEqual({ connected: true })
      // agents send no Origin; one that did is still an agent with its own token
      expect(yield* attempt(engine, agentHeaders(agent))).toEqual({ connected: true })
      expect(yield* attempt(engine, { ...agentHeaders(agent), origin: "https://evil.example" })).toEqual({ connected: true })
      // a bad cookie is refused for what it is, wherever it comes from
      expect(yield* refusal(engine, { cookie: "session=forged", origin: "https://evil.example" })).toBe("not_authenticated")
      const log = fs.readFileSync(engine.logFile, "utf8")
      expect(log).toMatch(/socket-refused .*reason=origin_not_allowed/)
    }))

  it.scoped("an operator socket carries the session it was opened with: logging that session out cuts it", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const admin = yield* promise(() => adminClient(engine.client))
      const other = yield* promise(() => adminClient(engine.client))
      const mine = yield* kept(engine, cookieOf(admin))
      const theirs = yield* kept(engine, cookieOf(other))
      expect([mine.outcome, theirs.outcome]).toEqual([{ connected: true }, { connected: true }])
      const gone = promise(() => new Promise<string>((resolve) => mine.socket.once("disconnect", (reason) => resolve(reason))))
      expect((yield* promise(() => admin.post("/api/auth/logout", {}))).status).toBe(200)
      expect(yield* gone).toBe("io server disconnect")
      expect(theirs.socket.connected).toBe(true)
    }))

  it.scoped("with listed origins: a listed Origin is admitted and gets credentialed CORS; `*` answers CORS without credentials", () =>
    Effect.gen(function*() {
      const listed = yield* startEngine({ env: { BOREALIS_CORS_ALLOWED_ORIGINS: "https://console.example,null" } })
      const admin = yield* promise(() => adminClient(listed.client))
      expect(yield* attempt(listed, { ...cookieOf(admin), origin: "https://console.example" })).toEqual({ connected: true })
      expect(yield* refusal(listed, { ...cookieOf(admin), origin: "null" })).toBe("origin_not_allowed")
      expect(yield* refusal(listed, { ...cookieOf(admin), origin: "https://other.example" })).toBe("origin_not_allowed")
      const corsOf = (engine: RunningEngine, origin: string) =>
        Effect.map(promise(() => engine.client().get("/socket.io/?EIO=4&transport=polling", { ...cookieOf(admin), origin })), (r) => [
          r.status,
          r.headers["access-control-allow-origin"],
          r.headers["access-control-allow-credentials"]
        ])
      expect(yield* corsOf(listed, "https://console.example")).toEqual([200, "https://console.example", "true"])
      expect(yield* corsOf(listed, "https://other.example")).toEqual([403, undefined, undefined])
      const wildcard = yield* startEngine()
      const admin2 = yield* promise(() => adminClient(wildcard.client))
      const answer = yield* promise(() => wildcard.client().get("/socket.io/?EIO=4&transport=polling", { ...cookieOf(admin2), origin: "https://evil.example" }))
      expect([answer.status, answer.json, answer.headers["access-control-allow-origin"], answer.headers["access-control-allow-credentials"]])
        .toEqual([403, { code: 4, message: "origin_not_allowed" }, "*", undefined])
    }))

  it.scoped("an authenticated socket's connection stops counting against its address's cap on unauthenticated connections", () =>
    Effect.gen(function*() {
      // (loopback is a trusted proxy by default, and proxies are never capped)
      const capped = { BOREALIS_MAX_UNAUTHENTICATED_CONNECTIONS_PER_ADDRESS: "2", BOREALIS_TRUSTED_PROXIES: "none" }
      const engine = yield* startEngine({ env: capped })
      const admin = yield* promise(() => adminClient(engine.client))
      const agent = yield* promise(() => enrolledAgent(engine, admin, "nat-host"))
      // a site's agents behind one address: more sockets than the cap, all held open
      const agents = []
      for (let i = 0; i < 4; i++) agents.push((yield* kept(engine, agentHeaders(agent))).outcome)
      expect(agents).toEqual(Array(4).fill({ connected: true }))
      expect((yield* promise(() => engine.client().get("/health"))).status).toBe(200)
      // pre-token agents (admitted without credentials) still count
      const open = yield* startEngine({ env: { ...capped, BOREALIS_SOCKET_ALLOW_ANONYMOUS: "true" } })
      const anonymous = []
      for (let i = 0; i < 3; i++) anonymous.push((yield* kept(open, {})).outcome.connected)
      expect(anonymous).toEqual([true, true, false])
    }))

  it.scoped("python-socketio (what agents run) learns of a refusal at once, rate limit included, and still connects with its token", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const admin = yield* promise(() => adminClient(engine.client))
      const agent = yield* promise(() => enrolledAgent(engine, admin, "py-refused"))
      const caFile = path.join(engine.root, "ca.pem")
      fs.writeFileSync(caFile, engine.ca ?? "")
      const script = String.raw`
import json, sys, time, requests, socketio
url, ca = sys.argv[1:3]
for token in sys.argv[3:]:
    http = requests.Session(); http.verify = ca
    sio = socketio.Client(http_session=http, reconnection=False)
    started = time.monotonic()
    try:
        sio.connect(url, transports=["websocket"], headers={"Authorization": "Bearer " + token, "X-Borealis-Agent-Context": "SYSTEM"}, wait_timeout=10)
        outcome = "connected"
        sio.disconnect()
    except socketio.exceptions.ConnectionError as e:
        outcome = "refused"
    print(json.dumps({"outcome": outcome, "fast": time.monotonic() - started < 3}), flush=True)
`
      const run = (tokens: ReadonlyArray<string>) =>
        Effect.map(promise(() => runPython(script, [engine.url, caFile, ...tokens], 60_000)), (r) => {
          expect(r.stderr).toBe("")
          return r.stdout.trim().split("\n").map((line) => JSON.parse(line))
        })
      expect(yield* run([agent.accessToken, "nope"])).toEqual([{ outcome: "connected", fast: true }, { outcome: "refused", fast: true }])
      // Use up the device's budget (DEVICE_AUTH_LIMIT a minute, shared with its REST calls):
      // python-socketio 5.7.2 sat out its whole wait_timeout on the Socket.IO-level refusal, which looked
      // like a hang; refused at the HTTP handshake it fails at once and retries on its own schedule.
      const used = yield* promise(async () => {
        let n = 0
        for (;;) {
          const r = await engine.client().get("/socket.io/?EIO=4&transport=polling", agentHeaders(agent))
          if (r.status !== 200) return { n, answer: r.json }
          n += 1
          if (n > DEVICE_AUTH_LIMIT.limit) return { n, answer: undefined }
        }
      })
      expect(used.answer).toEqual({ code: 4, message: "rate_limited" })
      expect(yield* run([agent.accessToken])).toEqual([{ outcome: "refused", fast: true }])
    }), 90_000)
})
