// npm run bench:enroll — N concurrent simulated agents doing request → operator approve → poll
// (tokens), then refreshes, against the Engine as a child process on 127.0.0.1. Prints enrollments/s
// and refreshes/s with p50/p99 latency and writes bench/results/enroll.json.
//
//   npm run bench:enroll -- [--agents 2000] [--concurrency 32] [--refresh-seconds 20] [--plain] [--keep-root]
//
// Agents come from distinct X-Forwarded-For addresses (as behind a proxy), so the per-IP enrollment
// limit (40/min) applies per simulated machine, not to the whole benchmark.
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as http from "node:http"
import * as https from "node:https"
import { Histogram } from "../src/tools/simulator/histogram.ts"
import { codeVersion, cpuSeconds, machine, round, startEngineProcess, tempRoot, writeResult } from "./support/engineProcess.ts"

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? Number(process.argv[i + 1]) : fallback
}
const AGENTS = arg("agents", 2000)
const CONCURRENCY = arg("concurrency", 32)
const REFRESH_SECONDS = arg("refresh-seconds", 20)
const TLS = !process.argv.includes("--plain")

interface Reply {
  readonly status: number
  readonly json: any
  readonly headers: http.IncomingHttpHeaders
}

const main = async () => {
  const root = tempRoot("bench-enroll-")
  const engine = await startEngineProcess({ root, tls: TLS, env: { BOREALIS_FLASK_SECRET_KEY: crypto.randomBytes(24).toString("hex") } })
  const agent = TLS
    ? new https.Agent({ keepAlive: true, maxSockets: CONCURRENCY + 4, ca: engine.ca })
    : new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY + 4 })
  const transport = TLS ? https : http
  const request = (path: string, body: unknown, headers: Record<string, string> = {}, method = "POST"): Promise<Reply> =>
    new Promise((resolve, reject) => {
      const data = body === undefined ? undefined : JSON.stringify(body)
      const req = transport.request(new URL(path, engine.url), {
        method,
        agent,
        headers: { ...(data === undefined ? {} : { "content-type": "application/json", "content-length": String(Buffer.byteLength(data)) }), ...headers }
      }, (res) => {
        const chunks: Array<Buffer> = []
        res.on("data", (c: Buffer) => chunks.push(c))
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8")
          let json: unknown
          try {
            json = JSON.parse(text)
          } catch {
            json = undefined
          }
          resolve({ status: res.statusCode ?? 0, json, headers: res.headers })
        })
      })
      req.on("error", reject)
      if (data !== undefined) req.write(data)
      req.end()
    })

  // the operator
  const login = await request("/api/auth/login", { username: "admin", password: "Password" })
  const cookie = (login.headers["set-cookie"] ?? []).map((c) => c.split(";")[0]).join("; ")
  const asOperator = { cookie }
  const codes: Array<string> = []
  for (let i = 0; i < Math.ceil(AGENTS / 10); i++) {
    const created = await request("/api/admin/enrollment-codes", { ttl_hours: 24, max_uses: 10 }, asOperator)
    if (created.status !== 201) throw new Error(`cannot create code: ${created.status} ${JSON.stringify(created.json)}`)
    codes.push(created.json.code)
  }

  const enrolled: Array<{ guid: string; refresh: string }> = []
  const enrollLatency = new Histogram()
  const errors: Record<string, number> = {}
  const countError = (what: string) => (errors[what] = (errors[what] ?? 0) + 1)
  let next = 0
  const cpu0 = cpuSeconds(engine.pid)
  const t0 = performance.now()
  const enrollOne = async (i: number) => {
    const started = performance.now()
    const { privateKey, publicKey } = crypto.generateKeyPairSync("ed25519")
    const spki = publicKey.export({ format: "der", type: "spki" })
    const clientNonce = crypto.randomBytes(32).toString("base64")
    const ip = { "x-forwarded-for": `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` }
    const req = await request("/api/agent/enroll/request", {
      hostname: `bench-${i}`,
      enrollment_code: codes[Math.floor(i / 10)],
      agent_pubkey: spki.toString("base64"),
      client_nonce: clientNonce
    }, ip)
    if (req.status !== 200 || req.json?.status !== "pending") return countError(`request ${req.status} ${req.json?.error ?? ""}`)
    const pending = await request(`/api/admin/device-approvals?status=pending`, undefined, asOperator, "GET")
    const approval = (pending.json?.approvals as Array<{ id: string; approval_reference: string }> | undefined)?.find((a) => a.approval_reference === req.json.approval_reference)
    if (approval === undefined) return countError("approval not listed")
    const approved = await request(`/api/admin/device-approvals/${approval.id}/approve`, {}, asOperator)
    if (approved.status !== 200) return countError(`approve ${approved.status} ${approved.json?.error ?? ""}`)
    const message = Buffer.concat([Buffer.from(req.json.server_nonce, "base64"), Buffer.from(req.json.approval_reference), Buffer.from(clientNonce, "base64")])
    const poll = await request("/api/agent/enroll/poll", {
      approval_reference: req.json.approval_reference,
      client_nonce: clientNonce,
      proof_sig: crypto.sign(null, message, privateKey).toString("base64")
    })
    if (poll.status !== 200 || poll.json?.access_token === undefined) return countError(`poll ${poll.status} ${poll.json?.error ?? poll.json?.status ?? ""}`)
    enrolled.push({ guid: poll.json.guid, refresh: poll.json.refresh_token })
    enrollLatency.record(performance.now() - started)
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    for (;;) {
      const i = next++
      if (i >= AGENTS) return
      await enrollOne(i).catch((e: unknown) => countError(`transport ${String(e)}`))
    }
  }))
  const enrollSeconds = (performance.now() - t0) / 1000
  const enrollCpu = cpuSeconds(engine.pid) - cpu0

  // refreshes: every enrolled agent, round robin, for REFRESH_SECONDS
  const refreshLatency = new Histogram()
  let refreshes = 0
  let refreshErrors = 0
  const cpu1 = cpuSeconds(engine.pid)
  const t1 = performance.now()
  const until = t1 + REFRESH_SECONDS * 1000
  let cursor = 0
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (performance.now() < until && enrolled.length > 0) {
      const who = enrolled[cursor++ % enrolled.length]!
      const started = performance.now()
      const r = await request("/api/agent/token/refresh", { guid: who.guid, refresh_token: who.refresh }).catch(() => undefined)
      if (r?.status === 200 && typeof r.json?.access_token === "string") {
        refreshes++
        refreshLatency.record(performance.now() - started)
      } else refreshErrors++
    }
  }))
  const refreshSeconds = (performance.now() - t1) / 1000
  const refreshCpu = cpuSeconds(engine.pid) - cpu1
  await engine.stop()
  agent.destroy()
  if (process.argv.includes("--keep-root")) console.log(`kept ${root}`)
  else fs.rmSync(root, { recursive: true, force: true })

  const e = enrollLatency.summary()
  const r = refreshLatency.summary()
  const result = {
    benchmark: "enroll",
    at: new Date().toISOString(),
    ...codeVersion(),
    machine: machine(),
    tls: TLS,
    agents: AGENTS,
    concurrency: CONCURRENCY,
    enrollment: {
      completed: enrolled.length,
      errors,
      seconds: round(enrollSeconds, 2),
      per_second: round(enrolled.length / enrollSeconds, 1),
      latency_ms: { p50: e.p50, p99: e.p99, max: e.max },
      engine_cpu_seconds: round(enrollCpu, 2),
      http_calls_per_enrollment: 4
    },
    refresh: {
      completed: refreshes,
      errors: refreshErrors,
      seconds: round(refreshSeconds, 2),
      per_second: round(refreshes / refreshSeconds, 1),
      latency_ms: { p50: r.p50, p99: r.p99, max: r.max },
      engine_cpu_seconds: round(refreshCpu, 2)
    },
    targets: { enrollments_per_second: 120, refreshes_per_second: 1000 }
  }
  console.log(JSON.stringify(result, null, 2))
  console.log(`results: ${writeResult("enroll", result)}`)
}

await main()
