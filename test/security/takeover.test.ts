// The security review's takeover findings, replayed against a real server (issue 19 §1–§4, §7, §8):
// each of these succeeded on the build the review looked at.
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { SignJWT } from "jose"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { adminClient, enrolledAgent, sql } from "../support/enrollment.ts"
import { startEngine, tempRoot } from "../support/engine.ts"
import { agentHeaders, agentIdOf, connectedAgent, openSocket, recorder, waitFor, writeScript } from "../support/jobs.ts"
import { auditRows, DEFAULT_ADMIN, login } from "../support/operators.ts"

const promise = <A>(f: () => Promise<A>) => Effect.promise(f)
const sleep = (ms: number) => Effect.promise(() => new Promise((r) => setTimeout(r, ms)))

/** An operator token as the review forged it: HS256 keyed by HMAC-SHA256(secret, "borealis-auth"), uid 1, epoch 0. */
const forge = (secret: string, claims: Record<string, unknown>) =>
  new SignJWT({ u: "admin", r: "Admin", ts: Math.floor(Date.now() / 1000), uid: 1, ep: 0, ...claims })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setJti(crypto.randomBytes(8).toString("hex"))
    .setIssuedAt()
    .setExpirationTime("1h")
    .sign(new Uint8Array(crypto.createHmac("sha256", secret).update("borealis-auth").digest()))

describe("finding 1: nobody forges an admin with the published default secret", () => {
  it.scoped("a token signed with `change-me` is refused on every operator route; the generated secret is 0600 and survives restarts", () =>
    Effect.gen(function*() {
      const root = tempRoot()
      const first = yield* Effect.scoped(Effect.gen(function*() {
        const engine = yield* startEngine({ root })
        for (const claims of [{}, { sid: "0".repeat(64) }]) {
          const forged = yield* promise(() => forge("change-me", claims))
          for (const route of ["/api/users", "/api/auth/me", "/api/audit", "/api/devices"]) {
            const reply = yield* promise(() => engine.client().get(route, { authorization: `Bearer ${forged}` }))
            expect([route, reply.status]).toEqual([route, 401])
          }
        }
        const admin = engine.client()
        const token = (yield* promise(() => login(admin))).token
        return { token, session: admin.cookies.get("session") }
      }))
      const secretFile = path.join(root, "Engine", "auth_keys", "operator-token.secret")
      expect(fs.statSync(secretFile).mode & 0o777).toBe(0o600)
      expect(fs.readFileSync(secretFile, "utf8").trim().length).toBeGreaterThanOrEqual(32)
      // The same secret after a restart: the session and its token from before still work.
      const engine = yield* startEngine({ root })
      const me = yield* promise(() => engine.client().get("/api/auth/me", { authorization: `Bearer ${first.token}` }))
      expect(me.status).toBe(200)
      const log = fs.readFileSync(engine.logFile, "utf8")
      expect(log).toMatch(/operator_secret_fingerprint=[0-9a-f]{16}/)
      expect(log).not.toContain(fs.readFileSync(secretFile, "utf8").trim())
    }))

  it.scoped("an explicitly set weak secret refuses to start, naming the variable", () =>
    Effect.gen(function*() {
      const refused = yield* Effect.flip(startEngine({ env: { BOREALIS_FLASK_SECRET_KEY: "change-me" } }))
      expect(String((refused as { message?: unknown }).message ?? refused)).toContain("BOREALIS_FLASK_SECRET_KEY")
    }))
})

describe("finding 2: hostnames are one name in any letter case", () => {
  it.scoped("an agent cannot take VICTIM-01 as victim-01; jobs, results and screenshots stay the victim's", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const admin = yield* promise(() => adminClient(engine.client))
      const victim = yield* promise(() => enrolledAgent(engine, admin, "VICTIM-01"))
      const attacker = yield* promise(() => enrolledAgent(engine, admin, "attacker-01"))
      const renamed = yield* promise(() => attacker.authed("/api/agent/heartbeat", { metrics: { hostname: "victim-01" } }))
      expect([renamed.status, renamed.json]).toEqual([409, { error: "storage_conflict" }])
      const details = yield* promise(() => attacker.authed("/api/agent/details", { hostname: "Victim-01", details: { summary: {} } }))
      expect([details.status, details.json]).toEqual([403, { error: "guid_mismatch" }])
      yield* sleep(2500) // the write-behind flushes every 2 s
      expect(sql(engine.databasePath, "SELECT hostname FROM devices WHERE LOWER(hostname) LIKE '%victim%'")).toEqual([{ hostname: "VICTIM-01" }])
      // The database itself refuses a second case variant.
      expect(() => sql(engine.databasePath, "UPDATE devices SET hostname = 'victim-01' WHERE hostname = 'attacker-01'")).toThrow(/UNIQUE/)

      const victimSocket = yield* connectedAgent(engine, victim)
      const attackerSocket = yield* connectedAgent(engine, attacker)
      const victimHeard = recorder(victimSocket)
      const attackerHeard = recorder(attackerSocket)
      writeScript(engine.root, "hello.json", "Write-Output hello")
      const run = yield* promise(() => admin.post("/api/scripts/quick_run", { script_path: "Scripts/hello.json", hostnames: ["victim-01"] }))
      expect(run.json.results[0]).toMatchObject({ status: "Running" })
      const job = (yield* waitFor(() => victimHeard.find((e) => e.event === "quick_job_run"))).payload
      yield* sleep(300)
      expect(attackerHeard.filter((e) => e.event === "quick_job_run")).toEqual([])
      // The attacker's result for the victim's activity is ignored.
      attackerSocket.emit("quick_job_result", { job_id: job.job_id, status: "Success", stdout: "forged" })
      yield* sleep(500)
      expect(sql(engine.databasePath, "SELECT status, stdout FROM activity_history WHERE id = ?", job.job_id)).toEqual([{ status: "Running", stdout: "" }])
      // … and the screenshot it sends in the victim's name never reaches operators or the cache.
      attackerSocket.emit("screenshot", { agent_id: agentIdOf(victim), image_base64: "Zm9yZ2Vk" })
      yield* sleep(300)
      const shot = yield* promise(() => admin.get(`/api/agents/${encodeURIComponent(agentIdOf(victim))}/screenshot`))
      expect(shot.status).toBe(404)
      victimSocket.emit("quick_job_result", { job_id: job.job_id, status: "Success", stdout: "real" })
      yield* waitFor(() => sql<{ status: string }>(engine.databasePath, "SELECT status FROM activity_history WHERE id = ?", job.job_id)[0]?.status === "Success" || undefined)
    }))
})

describe("finding 3: a socket speaks for its own agent ids only, never by prefix", () => {
  it.scoped("a device renamed to a prefix of another's id cannot connect_agent as it or receive its config", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const admin = yield* promise(() => adminClient(engine.client))
      const victim = yield* promise(() => enrolledAgent(engine, admin, "WS-01"))
      const attacker = yield* promise(() => enrolledAgent(engine, admin, "tiny"))
      const renamed = yield* promise(() => attacker.authed("/api/agent/heartbeat", { metrics: { hostname: "WS" } }))
      expect(renamed.status).toBe(200)
      expect(auditRows(engine.databasePath, "device.renamed").map((r) => JSON.parse(r.details_json))).toEqual([{ from: "tiny", to: "WS", via: "heartbeat" }])
      attacker.hostname = "WS"
      yield* sleep(200) // the rename cuts the device's sockets; this one opens after it
      const victimId = agentIdOf(victim)
      expect((yield* promise(() => admin.post("/api/agent/provision", { agent_id: victimId, roles: [{ role: "screenshot" }] }))).status).toBe(200)
      const socket = yield* openSocket(engine, agentHeaders(attacker))
      const heard = recorder(socket)
      for (const claim of [victimId, `WS-01_${victim.guid}_SYSTEM`, "WS-01-agent-0a1b2c3d", "WS-01-script"]) {
        const ack = yield* promise(() => socket.timeout(5000).emitWithAck("connect_agent", { agent_id: claim }) as Promise<unknown>)
        expect([claim, ack]).toEqual([claim, { error: "agent_id_required" }])
        socket.emit("request_config", { agent_id: claim })
        socket.emit("agent_screenshot_task", { agent_id: claim, node_id: "n1", image_base64: "Zm9yZ2Vk", x: 0, y: 0, w: 1, h: 1 })
      }
      // Its own ids (the GUID form, and the legacy forms of its current name) are fine.
      expect(yield* promise(() => socket.timeout(5000).emitWithAck("connect_agent", { agent_id: agentIdOf(attacker) }) as Promise<unknown>)).toEqual({ status: "ok" })
      expect(yield* promise(() => socket.timeout(5000).emitWithAck("connect_agent", { agent_id: "ws-agent-0a1b2c3d" }) as Promise<unknown>)).toEqual({ status: "ok" })
      yield* sleep(500)
      expect(heard.filter((e) => e.event === "agent_config")).toEqual([])
      const shot = yield* promise(() => admin.get(`/api/agents/${encodeURIComponent(victimId)}/screenshot?node_id=n1`))
      expect(shot.status).toBe(404)
    }))
})

describe("finding 4: Ansible recaps only for runs the server dispatched, from their target", () => {
  it.scoped("unknown runs are 404, script runs are never touched, sizes are capped, a client is rate-limited", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine({ env: { BOREALIS_TRUSTED_PROXIES: "none" } })
      const admin = yield* promise(() => adminClient(engine.client))
      const agent = yield* promise(() => enrolledAgent(engine, admin, "play-host"))
      writeScript(engine.root, "s.json", "Write-Output 1")
      const socket = yield* connectedAgent(engine, agent)
      const heard = recorder(socket)
      const run = yield* promise(() => admin.post("/api/scripts/quick_run", { script_path: "Scripts/s.json", hostnames: ["play-host"] }))
      const activity = run.json.results[0].job_id as number
      yield* waitFor(() => heard.find((e) => e.event === "quick_job_run"))
      const anonymous = engine.client()
      for (const body of [
        { run_id: "not-dispatched", hostname: "play-host", activity_job_id: activity, status: "Success" },
        { run_id: String(activity), status: "Success", recap_json: "x".repeat(100_000) }
      ]) {
        const reply = yield* promise(() => anonymous.post("/api/ansible/recap/report", body))
        expect([reply.status, reply.json]).toEqual([404, { error: "unknown run_id" }])
      }
      expect(sql(engine.databasePath, "SELECT status FROM activity_history WHERE id = ?", activity)).toEqual([{ status: "Running" }])
      expect(sql(engine.databasePath, "SELECT count(*) AS n FROM ansible_play_recaps")).toEqual([{ n: 0 }])
      // An oversized body is refused before it is read (the unauthenticated body limit).
      const huge = yield* promise(() => anonymous.post("/api/ansible/recap/report", { run_id: "x", recap_text: "x".repeat(2 * 1024 * 1024) }))
      expect(huge.status).toBe(413)
      // One client may post 120 a minute.
      let limited = 0
      for (let i = 0; i < 125; i++) {
        const reply = yield* promise(() => anonymous.post("/api/ansible/recap/report", { run_id: `r${i}` }))
        if (reply.status === 429) limited++
      }
      expect(limited).toBeGreaterThanOrEqual(4)
    }))
})

describe("findings 7 and 8: throttles that cannot be turned against the owner; identifiers bounded before they are logged", () => {
  it.scoped("X-Forwarded-For from a client that is no trusted proxy is ignored: audit and throttles see the real address", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine({ env: { BOREALIS_TRUSTED_PROXIES: "none" } })
      const client = engine.client()
      const reply = yield* promise(() => client.post("/api/auth/login", { username: "admin", password: "wrong" }, { "x-forwarded-for": "203.0.113.66" }))
      expect(reply.status).toBe(401)
      const [failed] = auditRows(engine.databasePath, "auth.login.failed")
      expect(failed?.actor_ip).toBe("127.0.0.1")
    }))

  it.scoped("a 5 MB username or hostname is a 400 that leaves no trace in the log or the audit trail", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const big = "A".repeat(5 * 1024 * 1024 - 1000)
      const c = engine.client()
      // Past the unauthenticated body limit (1 MiB by default) the body is not even read …
      const login = yield* promise(() => c.post("/api/auth/login", { username: big, password: "x" }))
      expect([login.status, login.json]).toEqual([413, { error: "payload_too_large" }])
      // … and below it an over-long username is refused before it is logged or audited.
      const long = yield* promise(() => c.post("/api/auth/login", { username: "A".repeat(500_000), password: "x" }))
      expect([long.status, long.json]).toEqual([400, { error: "username is invalid" }])
      const control = yield* promise(() => c.post("/api/auth/login", { username: "adm\u001bin", password: "x" }))
      expect(control.status).toBe(400)
      const enroll = yield* promise(() =>
        c.post("/api/agent/enroll/request", { hostname: "h".repeat(500_000), enrollment_code: "NOPE", agent_pubkey: "x", client_nonce: "y" }))
      expect([enroll.status, enroll.json]).toEqual([400, { error: "invalid_hostname" }])
      yield* sleep(200)
      expect(fs.statSync(engine.logFile).size).toBeLessThan(256 * 1024)
      expect(auditRows(engine.databasePath).every((r) => (r.actor ?? "").length < 200)).toBe(true)
      // The real admin still signs in.
      expect((yield* promise(() => c.post("/api/auth/login", DEFAULT_ADMIN))).status).toBe(200)
    }))
})
