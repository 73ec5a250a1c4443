// The simulator end to end (worker processes and all) against servers written in the test: a plain
// socket.io server that acks heartbeats and checks Bearer tokens, and a fake Engine REST surface that
// runs enrollment exactly as auth-enrollment.md §1–§2 describes (proof verified with node:crypto).
import { afterEach, describe, expect, it } from "@effect/vitest"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { Server as IoServer, type Socket as ServerSocket } from "socket.io"
import { Fleet } from "../../src/tools/simulator/fleet.ts"
import type { TokensFile } from "../../src/tools/simulator/tokens.ts"

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

const tempDir = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-test-"))
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }))
  return dir
}

const listen = (server: http.Server): Promise<number> =>
  new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)))

interface AgentServer {
  readonly io: IoServer
  readonly port: number
  readonly connectAgent: Array<{ payload: unknown; auth: string | undefined; context: string | undefined; remote: string | undefined }>
  readonly requestConfig: Array<unknown>
  readonly heartbeats: Array<unknown>
  readonly results: Array<unknown>
  readonly sockets: Map<string, ServerSocket>
}

/** A socket.io server that behaves as the realtime issue asks: Bearer auth, config, heartbeat acks. */
const agentServer = async (server: http.Server, validTokens: () => ReadonlySet<string>): Promise<AgentServer> => {
  const io = new IoServer(server, { pingInterval: 2_000, pingTimeout: 2_000 })
  const s: AgentServer = { io, port: 0, connectAgent: [], requestConfig: [], heartbeats: [], results: [], sockets: new Map() }
  io.use((socket, next) => {
    const auth = socket.handshake.headers.authorization
    const token = typeof auth === "string" && auth.startsWith("Bearer ") ? auth.slice(7) : ""
    if (!validTokens().has(token)) return next(Object.assign(new Error("unauthorized"), { data: { error: "invalid_token" } }))
    next()
  })
  io.on("connection", (socket) => {
    socket.on("connect_agent", (payload: { agent_id?: string }) => {
      s.connectAgent.push({
        payload,
        auth: socket.handshake.headers.authorization,
        context: socket.handshake.headers["x-borealis-agent-context"] as string | undefined,
        remote: socket.handshake.address
      })
      if (typeof payload.agent_id === "string") s.sockets.set(payload.agent_id, socket)
    })
    socket.on("request_config", (payload: { agent_id: string }) => {
      s.requestConfig.push(payload)
      socket.emit("agent_config", { roles: [], agent_id: payload.agent_id })
    })
    socket.on("agent_heartbeat", (payload: unknown, ack?: (answer: unknown) => void) => {
      s.heartbeats.push(payload)
      ack?.({ status: "ok" })
    })
    socket.on("quick_job_result", (payload: unknown) => s.results.push(payload))
  })
  const port = await listen(server)
  cleanups.push(() => new Promise<void>((resolve) => void io.close(() => resolve())))
  return { ...s, port }
}

const fakeTokens = (dir: string, n: number): TokensFile => {
  const agents = Array.from({ length: n }, (_, i) => {
    const guid = crypto.randomUUID().toUpperCase()
    const hostname = `SIM-${String(i + 1).padStart(5, "0")}`
    return {
      hostname,
      guid,
      agent_id: `${hostname}_${guid}_SYSTEM`,
      ssl_key_fingerprint: crypto.randomBytes(32).toString("hex"),
      access_token: `token-${i}-${crypto.randomBytes(8).toString("hex")}`,
      access_expires_at: Math.floor(Date.now() / 1000) + 3600
    }
  })
  const file: TokensFile = { version: 1, created_at: new Date().toISOString(), database: "(test)", token_ttl_seconds: 3600, agents }
  fs.writeFileSync(path.join(dir, "tokens.json"), JSON.stringify(file))
  return file
}

describe("Fleet against a socket.io server", () => {
  it("connects every agent with its token, announces it, times acked heartbeats, answers jobs and reconnects", async () => {
    const dir = tempDir()
    const tokens = fakeTokens(dir, 24)
    const valid = new Set(tokens.agents.map((a) => a.access_token))
    const srv = await agentServer(http.createServer(), () => valid)
    const fleet = await Fleet.start({
      url: `http://127.0.0.1:${srv.port}`,
      agents: 24,
      workers: 2,
      credentials: { kind: "tokens", file: path.join(dir, "tokens.json") },
      behaviour: { heartbeatMs: 300, backoffInitialMs: 100, backoffMaxMs: 400, answerJobs: true, recordEvents: ["quick_job_run"] },
      reportMs: 100,
      durationMs: 60_000,
      sourceAddresses: true
    })
    cleanups.push(() => fleet.stop())
    expect(fleet.workerCount).toBe(2)
    expect(await fleet.waitFor((f) => f.gauges.connected === 24, 15_000)).toBe(true)
    expect(await fleet.waitFor((f) => f.totals.counter("heartbeat_acks") >= 48, 15_000)).toBe(true)

    // Every agent spoke for itself with the agent_id convention and its own bearer token.
    const byId = new Map(tokens.agents.map((a) => [a.agent_id, a]))
    expect(new Set(srv.connectAgent.map((c) => (c.payload as { agent_id: string }).agent_id))).toEqual(new Set(byId.keys()))
    for (const c of srv.connectAgent) {
      const p = c.payload as { agent_id: string; hostname: string; service_mode: string }
      const agent = byId.get(p.agent_id)
      expect(c.auth).toBe(`Bearer ${agent?.access_token}`)
      expect(c.context).toBe("SYSTEM")
      expect(p).toEqual({ agent_id: agent?.agent_id, hostname: agent?.hostname, service_mode: "system" })
    }
    // Each worker binds its own loopback source address.
    expect(new Set(srv.connectAgent.map((c) => c.remote))).toEqual(new Set(["127.0.0.2", "127.0.0.3"]))
    expect(srv.requestConfig).toHaveLength(24)
    expect(await fleet.waitFor((f) => f.totals.counter("event:agent_config") === 24, 5_000)).toBe(true)
    expect(srv.heartbeats[0]).toMatchObject({ agent_id: expect.any(String), hostname: expect.any(String), agent_operating_system: expect.any(String), last_seen: expect.any(Number) })
    expect(fleet.totals.latencies.get("heartbeat_ack_ms")?.quantile(0.99)).toBeGreaterThan(0)

    // A job for one host is answered by that host only; its receipt is reported with the job id.
    const target = tokens.agents[3]
    for (const socket of srv.sockets.values()) socket.emit("quick_job_run", { job_id: 77, target_hostname: target?.hostname, context: { scheduled_job_id: 5 } })
    expect(await fleet.waitFor(() => srv.results.length === 1 && fleet.events.length === 24, 5_000)).toBe(true)
    expect(srv.results[0]).toMatchObject({ job_id: 77, status: "Success", context: { scheduled_job_id: 5 } })
    expect(fleet.events.every((e) => e.name === "quick_job_run" && e.key === "77")).toBe(true)

    // The server drops everyone: all come back, announcing themselves again.
    srv.io.disconnectSockets(true)
    expect(await fleet.waitFor((f) => f.totals.counter("disconnects") === 24, 5_000)).toBe(true)
    expect(await fleet.waitFor((f) => f.gauges.connected === 24 && srv.connectAgent.length === 48, 15_000)).toBe(true)
    expect(fleet.totals.errors.get("drop:server_disconnect")).toBe(24)

    await fleet.stop()
    const summary = fleet.summary()
    expect(summary.peak_connected).toBe(24)
    expect(summary.totals.counters["connects"]).toBe(48)
    expect(summary.totals.latencies.connect_ms?.count).toBe(48)
  })

  it("counts refused credentials as connect errors and keeps retrying with backoff", async () => {
    const dir = tempDir()
    fakeTokens(dir, 3)
    const srv = await agentServer(http.createServer(), () => new Set())
    const fleet = await Fleet.start({
      url: `http://127.0.0.1:${srv.port}`,
      agents: 3,
      credentials: { kind: "tokens", file: path.join(dir, "tokens.json") },
      behaviour: { backoffInitialMs: 50, backoffMaxMs: 100 },
      reportMs: 100,
      durationMs: 30_000
    })
    cleanups.push(() => fleet.stop())
    expect(await fleet.waitFor((f) => (f.totals.errors.get("connect:connect_error") ?? 0) >= 9, 10_000)).toBe(true)
    expect(fleet.gauges.connected).toBe(0)
  })

  it("refuses a non-loopback target", async () => {
    await expect(Fleet.start({ url: "https://192.0.2.10:5000", agents: 1, credentials: { kind: "anonymous" }, durationMs: 1_000 })).rejects.toThrow(/loopback/)
  })
})

/** The enrollment surface of auth-enrollment.md §1.1–§1.3 and §1.6, minimal but strict. */
const fakeEngine = () => {
  const codes = new Map<string, number>() // code → uses left
  const approvals = new Map<string, {
    id: string
    reference: string
    hostname: string
    status: string
    clientNonce: string
    serverNonce: string
    pubkey: Buffer
    guid?: string
  }>()
  const refreshTokens = new Map<string, string>() // refresh → guid
  const accessTokens = new Set<string>()
  const calls = { request: 0, poll: 0, refresh: 0, approve: 0, badProof: 0 }
  const session = crypto.randomBytes(8).toString("hex")
  const issueAccess = () => {
    const t = `at-${crypto.randomBytes(12).toString("hex")}`
    accessTokens.add(t)
    return t
  }
  const server = http.createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => {
      const body = chunks.length > 0 ? JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown> : {}
      const json = (status: number, value: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { "content-type": "application/json", ...headers })
        res.end(JSON.stringify(value))
      }
      const operator = (req.headers.cookie ?? "").includes(`borealis_auth=${session}`)
      const url = new URL(req.url ?? "/", "http://x")
      if (req.method === "POST" && url.pathname === "/api/auth/login") {
        const ok = body["username"] === "admin" && body["password_sha512"] === crypto.createHash("sha512").update("Password").digest("hex")
        return ok ? json(200, { status: "ok", username: "admin", role: "Admin", token: "t" }, { "set-cookie": `borealis_auth=${session}; Path=/` }) : json(401, { error: "invalid username or password" })
      }
      if (url.pathname.startsWith("/api/admin/") && !operator) return json(401, { error: "unauthorized" })
      if (req.method === "POST" && url.pathname === "/api/admin/enrollment-codes") {
        const uses = Math.max(1, Math.min(10, Number(body["max_uses"] ?? 2)))
        const code = crypto.randomBytes(6).toString("hex").toUpperCase()
        codes.set(code, uses)
        return json(201, { id: crypto.randomUUID(), code, max_uses: uses, use_count: 0, status: "active" })
      }
      if (req.method === "GET" && url.pathname === "/api/admin/device-approvals") {
        const list = [...approvals.values()].filter((a) => url.searchParams.get("status") !== "pending" || a.status === "pending")
        return json(200, { approvals: list.map((a) => ({ id: a.id, approval_reference: a.reference, status: a.status, hostname_claimed: a.hostname })) })
      }
      const approve = /^\/api\/admin\/device-approvals\/([^/]+)\/approve$/.exec(url.pathname)
      if (req.method === "POST" && approve !== null) {
        const a = [...approvals.values()].find((x) => x.id === approve[1])
        if (a === undefined) return json(404, { error: "not_found" })
        if (a.status !== "pending") return json(409, { error: "approval_not_pending" })
        a.status = "approved"
        calls.approve++
        return json(200, { status: "approved" })
      }
      if (req.method === "POST" && url.pathname === "/api/agent/enroll/request") {
        calls.request++
        const code = String(body["enrollment_code"] ?? "")
        if ((codes.get(code) ?? 0) < 1) return json(400, { error: "invalid_enrollment_code" })
        codes.set(code, (codes.get(code) ?? 0) - 1)
        const pubkey = Buffer.from(String(body["agent_pubkey"]), "base64")
        if (Buffer.from(String(body["client_nonce"]), "base64").length < 16) return json(400, { error: "invalid_client_nonce" })
        const a = {
          id: crypto.randomUUID(),
          reference: crypto.randomUUID(),
          hostname: String(body["hostname"]),
          status: "pending",
          clientNonce: String(body["client_nonce"]),
          serverNonce: crypto.randomBytes(32).toString("base64"),
          pubkey
        }
        approvals.set(a.reference, a)
        expect(req.headers["x-borealis-agent-context"]).toBe("SYSTEM")
        return json(200, { status: "pending", approval_reference: a.reference, server_nonce: a.serverNonce, poll_after_ms: 3000, server_certificate: "", signing_key: "" })
      }
      if (req.method === "POST" && url.pathname === "/api/agent/enroll/poll") {
        calls.poll++
        const a = approvals.get(String(body["approval_reference"]))
        if (a === undefined) return json(404, { status: "unknown" })
        if (a.clientNonce !== body["client_nonce"]) return json(400, { error: "nonce_mismatch" })
        const message = Buffer.concat([Buffer.from(a.serverNonce, "base64"), Buffer.from(a.reference, "utf8"), Buffer.from(a.clientNonce, "base64")])
        const key = crypto.createPublicKey({ key: a.pubkey, format: "der", type: "spki" })
        if (!crypto.verify(null, message, key, Buffer.from(String(body["proof_sig"]), "base64"))) {
          calls.badProof++
          return json(400, { error: "invalid_proof" })
        }
        if (a.status === "pending") return json(200, { status: "pending", poll_after_ms: 5000 })
        if (a.status !== "approved") return json(200, { status: "approved", detail: "finalized" })
        a.status = "completed"
        const guid = crypto.randomUUID().toUpperCase()
        const refresh = crypto.randomBytes(48).toString("base64url")
        refreshTokens.set(refresh, guid)
        return json(200, { status: "approved", guid, access_token: issueAccess(), expires_in: 8, refresh_token: refresh, token_type: "Bearer" })
      }
      if (req.method === "POST" && url.pathname === "/api/agent/token/refresh") {
        calls.refresh++
        if (refreshTokens.get(String(body["refresh_token"])) !== body["guid"]) return json(401, { error: "invalid_refresh_token" })
        return json(200, { access_token: issueAccess(), expires_in: 8, token_type: "Bearer" })
      }
      json(404, { error: "not_found" })
    })
  })
  return { server, calls, accessTokens, approvals }
}

describe("Fleet enrolling over REST", () => {
  it("enrolls with operator-created codes and auto-approval, connects with the issued token, and refreshes it", async () => {
    const engine = fakeEngine()
    const srv = await agentServer(engine.server, () => engine.accessTokens)
    const fleet = await Fleet.start({
      url: `http://127.0.0.1:${srv.port}`,
      agents: 12,
      workers: 2,
      credentials: { kind: "enroll", operator: { username: "admin", password: "Password" }, autoApprove: true, codeUses: 5 },
      behaviour: { enrollPollMs: 100, refreshBeforeMs: 1_000, heartbeatMs: 0, backoffInitialMs: 100 },
      hostnamePrefix: "ENR",
      reportMs: 100,
      durationMs: 60_000
    })
    cleanups.push(() => fleet.stop())
    expect(await fleet.waitFor((f) => f.gauges.connected === 12, 20_000)).toBe(true)
    expect(fleet.totals.counter("enrollments")).toBe(12)
    expect(fleet.approvals).toBe(12)
    expect(engine.calls.badProof).toBe(0)
    expect(engine.calls.request).toBe(12)
    // Tokens last 8 s (stored as 3 s) and are refreshed 1 s before expiry.
    expect(await fleet.waitFor((f) => f.totals.counter("refreshes") >= 12, 15_000)).toBe(true)
    const ids = srv.connectAgent.map((c) => (c.payload as { agent_id: string }).agent_id)
    expect(ids.every((id) => /^ENR-000\d\d_[0-9A-F-]{36}_SYSTEM$/.test(id))).toBe(true)
    const summary = fleet.summary()
    expect(summary.totals.latencies.enroll_ms?.count).toBe(12)
    expect(summary.totals.errors).toEqual({})
  })
})
