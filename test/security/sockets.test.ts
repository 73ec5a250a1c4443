// Sockets follow credentials (issue 19 finding 5, build §3–§5): an open socket is cut when the
// credential it was opened with stops being valid — through the API, or the operator CLI in another
// process — and role rules hold for socket events and job ownership too.
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { execFile } from "node:child_process"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import type { Socket as ClientSocket } from "socket.io-client"
import { TestAgent } from "../support/agent.ts"
import { adminClient, approve, createCode, enrolledAgent, sql } from "../support/enrollment.ts"
import { startEngine } from "../support/engine.ts"
import { agentHeaders, connectedAgent, openSocket, operatorHeaders, recorder, waitFor, writeScript } from "../support/jobs.ts"
import { createUser, login, withDb } from "../support/operators.ts"

const promise = <A>(f: () => Promise<A>) => Effect.promise(f)
const sleep = (ms: number) => Effect.promise(() => new Promise((r) => setTimeout(r, ms)))

/** The reason a socket was disconnected with, once it is. */
const disconnection = (socket: ClientSocket) => {
  const state: { reason?: string } = {}
  socket.on("disconnect", (reason: string) => {
    state.reason = reason
  })
  return state
}

/** Why a new handshake with these headers is refused (its connect_error), or "connected". */
const handshakeOutcome = (engine: Parameters<typeof openSocket>[0], headers: Record<string, string>) =>
  Effect.scoped(openSocket(engine, headers).pipe(Effect.as("connected"))).pipe(
    Effect.catchAllDefect((e) => Effect.succeed(`refused: ${String((e as Error).message ?? e)}`))
  )

const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "src", "cli.ts")

const cli = (root: string, args: ReadonlyArray<string>) =>
  Effect.promise(() =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, [CLI, ...args], {
        env: { ...process.env, BOREALIS_ROOT: root, BOREALIS_STATIC_ROOT: path.join(root, "static"), BOREALIS_PORT: "0" },
        timeout: 120_000
      }, (error, stdout, stderr) => resolve({ code: error === null ? 0 : Number((error as { code?: number }).code ?? 1), stdout, stderr }))
    })
  )

describe("operator sockets follow the account and the session", () => {
  it.scoped("deleting the user, changing its role or resetting its password cuts its open socket", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const admin = engine.client()
      yield* promise(() => login(admin))
      for (const change of ["delete", "role", "password"] as const) {
        const username = `op-${change}`
        const credentials = yield* promise(() => createUser(admin, username, "User"))
        const operator = engine.client()
        yield* promise(() => login(operator, credentials))
        const socket = yield* openSocket(engine, operatorHeaders(operator))
        const state = disconnection(socket)
        const reply = change === "delete"
          ? yield* promise(() => admin.request(`/api/users/${username}`, { method: "DELETE" }))
          : change === "role"
          ? yield* promise(() => admin.post(`/api/users/${username}/role`, { role: "Viewer" }))
          : yield* promise(() => admin.post(`/api/users/${username}/reset_password`, { password_sha512: "a".repeat(128) }))
        expect([change, reply.status]).toEqual([change, 200])
        const reason = yield* waitFor(() => state.reason, 10_000)
        // A role change only closes the transport (the client comes back with the new role); the
        // others end the session for good.
        expect([change, reason]).toEqual([change, change === "role" ? "transport close" : "io server disconnect"])
      }
    }))

  it.scoped("a socket is cut when its session expires", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const admin = engine.client()
      yield* promise(() => login(admin))
      withDb(engine.databasePath, (db) => db.prepare("UPDATE operator_sessions SET expires_at = ?").run(Math.floor(Date.now() / 1000) + 2))
      const socket = yield* openSocket(engine, { cookie: `session=${admin.cookies.get("session")}` })
      const state = disconnection(socket)
      expect(yield* waitFor(() => state.reason, 15_000)).toBe("io server disconnect")
    }))
})

describe("agent sockets follow the device", () => {
  it.scoped("revoke, quarantine, restore and delete through the API: cut at once, refused after, audited with who and why", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const admin = yield* promise(() => adminClient(engine.client))
      const agent = yield* promise(() => enrolledAgent(engine, admin, "ctl-host"))
      const control = (action: string) => promise(() => admin.post(`/api/devices/${agent.guid}/${action}`, { reason: `test ${action}` }))
      expect((yield* promise(() => admin.post(`/api/devices/${agent.guid}/revoke`, {}))).json).toEqual({ error: "reason is required" })

      let socket = yield* connectedAgent(engine, agent)
      let state = disconnection(socket)
      expect((yield* control("quarantine")).json).toEqual({ status: "quarantined", guid: agent.guid, hostname: "ctl-host" })
      expect(yield* waitFor(() => state.reason, 10_000)).toBe("io server disconnect")
      expect(yield* handshakeOutcome(engine, agentHeaders(agent))).toMatch(/^refused/)
      // REST stays authenticated while quarantined, and says so.
      expect((yield* promise(() => agent.authed("/api/agent/script/request"))).json).toMatchObject({ status: "quarantined" })

      expect((yield* control("restore")).json).toMatchObject({ status: "active" })
      socket = yield* connectedAgent(engine, agent)
      state = disconnection(socket)
      expect((yield* control("revoke")).json).toMatchObject({ status: "revoked" })
      expect(yield* waitFor(() => state.reason, 10_000)).toBe("io server disconnect")
      expect((yield* promise(() => agent.authed("/api/agent/heartbeat", {}))).json).toEqual({ error: "device_revoked" })
      expect((yield* promise(() => agent.refresh())).json).toEqual({ error: "refresh_token_revoked" })
      const audit = sql<{ type: string; actor: string; details_json: string }>(engine.databasePath,
        "SELECT type, actor, details_json FROM audit_events WHERE type LIKE 'device.%' ORDER BY id")
      expect(audit.map((r) => [r.type, r.actor, JSON.parse(r.details_json).reason])).toEqual([
        ["device.quarantined", "admin", "test quarantine"],
        ["device.restored", "admin", "test restore"],
        ["device.revoked", "admin", "test revoke"]
      ])
    }))

  it.scoped("a deleted device's socket is cut; its tokens cannot re-create it (device_purged); a re-key cuts the old key's socket", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const admin = yield* promise(() => adminClient(engine.client))
      const agent = yield* promise(() => enrolledAgent(engine, admin, "gone-host"))
      const socket = yield* connectedAgent(engine, agent)
      const state = disconnection(socket)
      // Without a reason (absent or blank) the answer is the same clear 400 as the other control routes.
      for (const query of ["", "?reason=", "?reason=%20"]) {
        const refused = yield* promise(() => admin.request(`/api/devices/${agent.guid}${query}`, { method: "DELETE" }))
        expect([query, refused.status, refused.json]).toEqual([query, 400, { error: "reason is required" }])
      }
      const deleted = yield* promise(() => admin.request(`/api/devices/${agent.guid}?reason=retired`, { method: "DELETE" }))
      expect(deleted.json).toEqual({ status: "deleted", guid: agent.guid, hostname: "gone-host" })
      expect(yield* waitFor(() => state.reason, 10_000)).toBe("io server disconnect")
      expect((yield* promise(() => agent.authed("/api/agent/heartbeat", {}))).json).toEqual({ error: "device_purged" })
      expect((yield* promise(() => agent.refresh())).json).toEqual({ error: "device_purged" })
      expect(sql(engine.databasePath, "SELECT count(*) AS n FROM devices WHERE guid = ?", agent.guid)).toEqual([{ n: 0 }])

      // Re-key: the same machine enrolls again with a new key; the old key's socket is cut.
      const other = yield* promise(() => enrolledAgent(engine, admin, "rekey-host"))
      const old = yield* connectedAgent(engine, other)
      const oldState = disconnection(old)
      const reinstalled = new TestAgent(engine.client(), "rekey-host")
      const code = yield* promise(() => createCode(admin))
      const request = (yield* promise(() => reinstalled.request(code.code))).json
      yield* promise(() => approve(admin, request.approval_reference, { conflict_resolution: "overwrite" }))
      const polled = yield* promise(() => reinstalled.poll(request.approval_reference, request.server_nonce))
      expect(polled.json.guid).toBe(other.guid)
      expect(yield* waitFor(() => oldState.reason, 10_000)).toBe("transport close")
      expect(yield* handshakeOutcome(engine, agentHeaders(other))).toMatch(/^refused/)
    }))

  it.scopedLive("a revocation made by the operator CLI in another process cuts the running Engine's socket", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const admin = yield* promise(() => adminClient(engine.client))
      const agent = yield* promise(() => enrolledAgent(engine, admin, "cli-host"))
      const socket = yield* connectedAgent(engine, agent)
      const state = disconnection(socket)
      const run = yield* cli(engine.root, ["devices", "revoke", agent.guid, "--reason", "stolen laptop"])
      expect([run.code, run.stdout.trim()]).toEqual([0, `cli-host (${agent.guid}) is now revoked`])
      expect(yield* waitFor(() => state.reason, 15_000)).toBe("io server disconnect")
      const [row] = sql<{ actor: string; details_json: string }>(engine.databasePath, "SELECT actor, details_json FROM audit_events WHERE type = 'device.revoked'")
      expect(row?.actor).toMatch(/^cli:/)
      expect(JSON.parse(row?.details_json ?? "{}").reason).toBe("stolen laptop")
    }), 180_000)
})

describe("roles on socket events and job ownership", () => {
  it.scoped("a Viewer's or User's playbook relay reaches no agent; an Admin's does; a User changes only its own jobs", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const admin = yield* promise(() => adminClient(engine.client))
      const agent = yield* promise(() => enrolledAgent(engine, admin, "relay-host"))
      const agentSocket = yield* connectedAgent(engine, agent)
      const heard = recorder(agentSocket)
      const sessions: Record<string, ReturnType<typeof engine.client>> = {}
      for (const role of ["Viewer", "User"] as const) {
        sessions[role] = engine.client()
        yield* promise(async () => login(sessions[role]!, await createUser(admin, `relay-${role.toLowerCase()}`, role)))
      }
      for (const role of ["Viewer", "User"]) {
        const socket = yield* openSocket(engine, operatorHeaders(sessions[role]!))
        const ack = yield* promise(() =>
          socket.timeout(5000).emitWithAck("ansible_playbook_run", { run_id: `r-${role}`, target_hostname: "relay-host" }) as Promise<unknown>)
        expect([role, ack]).toEqual([role, { error: "forbidden" }])
      }
      const adminSocket = yield* openSocket(engine, operatorHeaders(admin))
      adminSocket.emit("ansible_playbook_run", { run_id: "r-admin", target_hostname: "relay-host", playbook_name: "p" })
      yield* waitFor(() => heard.find((e) => e.event === "ansible_playbook_run"))
      yield* sleep(300)
      expect(heard.filter((e) => e.event === "ansible_playbook_run").map((e) => e.payload.run_id)).toEqual(["r-admin"])
      // The relayed run takes its target's recap; a run nobody dispatched does not.
      const recap = yield* promise(() => engine.client().post("/api/ansible/recap/report", { run_id: "r-admin", hostname: "relay-host", status: "Success" }))
      expect(recap.json).toEqual({ status: "ok" })

      writeScript(engine.root, "j.json", "Write-Output 1")
      const job = { name: "mine", components: [{ type: "script", path: "Scripts/j.json" }], targets: ["relay-host"], schedule: { type: "immediately" } }
      const other = engine.client()
      yield* promise(async () => login(other, await createUser(admin, "relay-other", "User")))
      const created = (yield* promise(() => sessions["User"]!.post("/api/scheduled_jobs", job))).json.job
      const foreign = yield* promise(() => other.request(`/api/scheduled_jobs/${created.id}`, { method: "DELETE" }))
      expect([foreign.status, foreign.json.error]).toEqual([403, "forbidden"])
      const toggled = yield* promise(() => other.post(`/api/scheduled_jobs/${created.id}/toggle`, { enabled: false }))
      expect(toggled.status).toBe(403)
      expect((yield* promise(() => sessions["User"]!.post(`/api/scheduled_jobs/${created.id}/toggle`, { enabled: false }))).status).toBe(200)
      expect((yield* promise(() => admin.request(`/api/scheduled_jobs/${created.id}`, { method: "DELETE" }))).json).toEqual({ status: "ok" })
      const viewerCreate = yield* promise(() => sessions["Viewer"]!.post("/api/scheduled_jobs", job))
      expect(viewerCreate.status).toBe(403)
    }))
})
