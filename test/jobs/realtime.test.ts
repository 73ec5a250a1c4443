// Jobs over Socket.IO on a real port: ad-hoc quick runs (spec §5.3), results and progress from the
// right (and the wrong) agent, results for unknown jobs, the operators' job_status_request, Ansible
// playbook dispatch and recap reports, and the production minute loop.
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { verifyQuickJobRun } from "../../src/services/jobs/payloads.ts"
import { startEngine } from "../support/engine.ts"
import { adminClient, enrolledAgent, sql } from "../support/enrollment.ts"
import {
  connectedAgent,
  isoMinute,
  openSocket,
  operatorHeaders,
  recorder,
  tickNow,
  waitFor,
  writeAssembly,
  writeScript
} from "../support/jobs.ts"

const promise = <A>(f: () => Promise<A>) => Effect.promise(f)
const pause = (ms: number) => promise(() => new Promise((r) => setTimeout(r, ms)))

describe("POST /api/scripts/quick_run", () => {
  it.scoped("errors, a signed payload to the host's socket for the run mode, Failed for a host without one, the result", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const admin = yield* promise(() => adminClient(engine.client))
      const agent = yield* promise(() => enrolledAgent(engine, admin, "quick-host"))
      const bystander = yield* promise(() => enrolledAgent(engine, admin, "other-host"))
      writeScript(engine.root, "Tools/ping.json", "Test-Connection $env:TARGET", { variables: [{ name: "target", type: "string", default: "localhost" }] })
      writeAssembly(engine.root, "Scripts/Tools/run.bat", "echo hi")
      const system = yield* connectedAgent(engine, agent, "SYSTEM")
      const user = yield* connectedAgent(engine, agent, "CURRENTUSER")
      const other = yield* connectedAgent(engine, bystander, "SYSTEM")
      const heard = { system: recorder(system), user: recorder(user), other: recorder(other) }
      const operator = yield* openSocket(engine, operatorHeaders(admin))
      const opHeard = recorder(operator)
      const run = (body: unknown) => promise(() => admin.post("/api/scripts/quick_run", body))

      for (const body of [{}, { script_path: "Tools/ping.json" }, { script_path: "Tools/ping.json", hostnames: [] }, { script_path: "", hostnames: ["a"] }, { script_path: "Tools/ping.json", hostnames: "quick-host" }]) {
        expect([body, (yield* run(body)).status, (yield* run(body)).json]).toEqual([body, 400, { error: "Missing script_path or hostnames[]" }])
      }
      for (const script_path of ["Tools/nope.json", "../../etc/passwd", "/etc/passwd", "Scripts/../../database.db"]) {
        const reply = yield* run({ script_path, hostnames: ["quick-host"] })
        expect([script_path, reply.status, reply.json]).toEqual([script_path, 404, { error: "Script not found" }])
      }
      expect((yield* run({ script_path: "Tools/run.bat", hostnames: ["quick-host"] })).json).toEqual({ error: "Unsupported script type 'batch'. Only PowerShell is supported." })
      expect(sql(engine.databasePath, "SELECT count(*) AS n FROM activity_history")).toEqual([{ n: 0 }])

      const reply = yield* run({ script_path: "Scripts/Tools/ping.json", hostnames: ["quick-host", "QUICK-HOST", "ghost-host"], run_mode: "current_user", variable_values: { target: "10.0.0.1" } })
      expect(reply.status).toBe(200)
      const [ok, ghost] = reply.json.results
      expect(reply.json.results).toEqual([
        { hostname: "quick-host", job_id: ok.job_id, status: "Running" },
        { hostname: "ghost-host", job_id: ghost.job_id, status: "Failed", error: "No currentuser agent socket is registered for host ghost-host; unable to dispatch quick job." }
      ])
      const received = (yield* waitFor(() => heard.user.find((e) => e.event === "quick_job_run"))).payload
      expect(received).toMatchObject({ job_id: ok.job_id, target_hostname: "quick-host", run_mode: "current_user", environment: { TARGET: "10.0.0.1" }, script_path: "Scripts/Tools/ping.json" })
      expect(received.context).toBeUndefined()
      expect(Buffer.from(received.script_content, "base64").toString()).toBe("Test-Connection '10.0.0.1'")
      expect(verifyQuickJobRun(received)).toBe(true)
      yield* pause(200)
      expect(heard.system.filter((e) => e.event === "quick_job_run")).toEqual([])
      expect(heard.other).toEqual([])
      expect(sql(engine.databasePath, "SELECT hostname, status, stderr FROM activity_history ORDER BY id")).toEqual([
        { hostname: "quick-host", status: "Running", stderr: "" },
        { hostname: "ghost-host", status: "Failed", stderr: "No currentuser agent socket is registered for host ghost-host; unable to dispatch quick job." }
      ])

      // Another host's agent cannot report for this activity; unknown and non-integer ids are ignored quietly.
      other.emit("quick_job_result", { job_id: ok.job_id, status: "Success", stdout: "forged" })
      for (const job_id of [999_999, "abc", 1.5, null, -1, { id: 1 }]) user.emit("quick_job_result", { job_id, status: "Success" })
      user.emit("quick_job_result", "not an object")
      user.emit("quick_job_progress", { job_id: ok.job_id, stdout: "Pinging...\n" })
      user.emit("quick_job_progress", { job_id: ok.job_id, stdout: "Reply\n", append_output: true })
      yield* waitFor(() => sql<{ stdout: string }>(engine.databasePath, "SELECT stdout FROM activity_history WHERE id = ?", ok.job_id)[0]?.stdout === "Pinging...\nReply\n" ? true : undefined)
      expect(sql(engine.databasePath, "SELECT status FROM activity_history WHERE id = ?", ok.job_id)).toEqual([{ status: "Running" }])
      user.emit("quick_job_result", { job_id: String(ok.job_id), status: "success", stdout: "Reply from 10.0.0.1\n", stderr: "" })
      yield* waitFor(() => sql<{ status: string }>(engine.databasePath, "SELECT status FROM activity_history WHERE id = ?", ok.job_id)[0]?.status === "Success" ? true : undefined)
      const entry = (yield* promise(() => admin.get(`/api/device/activity/job/${ok.job_id}`))).json
      expect(entry).toMatchObject({ status: "Success", stdout: "Reply from 10.0.0.1\n", stderr: "" })
      expect(user.connected && other.connected && system.connected).toBe(true)
      const changes = opHeard.filter((e) => e.event === "device_activity_changed").map((e) => e.payload)
      expect(changes).toEqual([
        { hostname: "quick-host", activity_id: ok.job_id, change: "created", source: "quick_job" },
        { hostname: "ghost-host", activity_id: ghost.job_id, change: "updated", source: "quick_job", status: "Failed" },
        { hostname: "quick-host", activity_id: ok.job_id, status: "Running", change: "updated", source: "quick_job_progress" },
        { hostname: "quick-host", activity_id: ok.job_id, status: "Running", change: "updated", source: "quick_job_progress" },
        { hostname: "quick-host", activity_id: ok.job_id, status: "Success", change: "updated", source: "quick_job" }
      ])
      expect(sql(engine.databasePath, "SELECT type, target, details_json FROM audit_events WHERE type = 'script.quick_run'")).toEqual([
        { type: "script.quick_run", target: "Scripts/Tools/ping.json", details_json: JSON.stringify({ script_path: "Scripts/Tools/ping.json", run_mode: "current_user", targets: 2, dispatched: 1 }) }
      ])
    }), 60_000)
})

describe("operator job events", () => {
  it.scoped("job_status_request answers with GET's {job}, or {error}; agents cannot ask", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const admin = yield* promise(() => adminClient(engine.client))
      const agent = yield* promise(() => enrolledAgent(engine, admin, "status-host"))
      writeScript(engine.root, "a.json", "Write-Output 1")
      const { job } = (yield* promise(() =>
        admin.post("/api/scheduled_jobs", { name: "S", components: [{ type: "script", path: "a.json" }], targets: ["status-host"], schedule: { type: "once", start: isoMinute() } }))).json
      const operator = yield* openSocket(engine, operatorHeaders(admin))
      const ask = (payload: unknown) => promise(() => operator.timeout(10_000).emitWithAck("job_status_request", payload) as Promise<unknown>)
      expect(yield* ask({ job_id: job.id })).toEqual((yield* promise(() => admin.get(`/api/scheduled_jobs/${job.id}`))).json)
      expect(yield* ask({ job_id: String(job.id) })).toEqual({ job })
      expect(yield* ask({ job_id: 424242 })).toEqual({ error: "not found" })
      expect(yield* ask({})).toEqual({ error: "job_id required" })
      expect(yield* ask("nope")).toEqual({ error: "job_id required" })
      const socket = yield* connectedAgent(engine, agent)
      const refused = yield* promise(() => (socket.timeout(500).emitWithAck("job_status_request", { job_id: job.id }) as Promise<unknown>).then(() => "answered", () => "no answer"))
      expect(refused).toBe("no answer")
    }))
})

describe("Ansible components", () => {
  it.scoped("ansible_playbook_run to the host, recap reports drive the run; run_id required; another host's report touches nothing", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const admin = yield* promise(() => adminClient(engine.client))
      const agent = yield* promise(() => enrolledAgent(engine, admin, "ans-host"))
      writeAssembly(engine.root, "Ansible_Playbooks/site.yml", "- hosts: all\n  tasks: []\n")
      const socket = yield* connectedAgent(engine, agent)
      const heard = recorder(socket)
      const operator = yield* openSocket(engine, operatorHeaders(admin))
      const opHeard = recorder(operator)
      const { job } = (yield* promise(() =>
        admin.post("/api/scheduled_jobs", { name: "A", components: [{ type: "ansible", path: "site.yml", name: "site" }], targets: ["ans-host"], schedule: { type: "immediately" } }))).json
      yield* tickNow(engine)
      const play = (yield* waitFor(() => heard.find((e) => e.event === "ansible_playbook_run"))).payload
      const [run] = (yield* promise(() => admin.get(`/api/scheduled_jobs/${job.id}/runs`))).json.runs
      expect(play).toMatchObject({
        target_hostname: "ans-host",
        playbook_name: "site",
        playbook_encoding: "base64",
        scheduled_job_id: job.id,
        scheduled_run_id: run.id,
        connection: "winrm",
        context: { scheduled_job_id: job.id, scheduled_job_run_id: run.id }
      })
      expect(Buffer.from(play.playbook_content, "base64").toString()).toBe("- hosts: all\n  tasks: []\n")
      const client = engine.client()
      const report = (body: unknown) => promise(() => client.post("/api/ansible/recap/report", body))
      expect((yield* report({ hostname: "ans-host" }))).toMatchObject({ status: 400, json: { error: "run_id is required" } })
      // a report naming another host for this activity and run changes nothing (issue 19: a run the
      // server never dispatched is refused outright, and so is the real run reported as another host)
      expect((yield* report({ run_id: "forged", hostname: "evil-host", activity_job_id: play.activity_job_id, scheduled_run_id: run.id, status: "Success", recap_text: "forged" })))
        .toMatchObject({ status: 404, json: { error: "unknown run_id" } })
      expect((yield* report({ run_id: play.run_id, hostname: "evil-host", status: "Success" }))).toMatchObject({ status: 403 })
      expect(sql(engine.databasePath, "SELECT status FROM scheduled_job_runs")).toEqual([{ status: "Running" }])
      const first = { run_id: play.run_id, hostname: "ans-host", agent_id: "ANS", playbook_path: "site.yml", playbook_name: "site", scheduled_job_id: job.id, scheduled_run_id: run.id, activity_job_id: play.activity_job_id, status: "Running", started_ts: 1_700_000_000 }
      expect((yield* report(first)).json).toEqual({ status: "ok" })
      expect((yield* report({ run_id: play.run_id, status: "Success", recap_text: "PLAY RECAP ok=2", recap_json: { ok: 2 }, finished_ts: 1_700_000_100 }))).toMatchObject({ status: 200 })
      expect(sql(engine.databasePath, "SELECT status, finished_ts FROM scheduled_job_runs")).toEqual([{ status: "Success", finished_ts: expect.any(Number) }])
      expect(sql(engine.databasePath, "SELECT status, stdout FROM activity_history WHERE id = ?", play.activity_job_id)).toEqual([{ status: "Success", stdout: "PLAY RECAP ok=2" }])
      const recap = (yield* waitFor(() => opHeard.filter((e) => e.event === "ansible_recap_update")[1])).payload
      expect(recap).toMatchObject({ run_id: play.run_id, hostname: "ans-host", status: "Success", recap_text: "PLAY RECAP ok=2", recap_json: { ok: 2 }, started_ts: 1_700_000_000, finished_ts: 1_700_000_100, scheduled_run_id: run.id })
      expect(heard.map((e) => e.event)).toEqual(["ansible_playbook_run"])
    }))
})

describe("the production minute loop", () => {
  it.scoped("a job due at the next minute boundary reaches the connected agent without any manual tick", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const admin = yield* promise(() => adminClient(engine.client))
      const agent = yield* promise(() => enrolledAgent(engine, admin, "loop-host"))
      writeScript(engine.root, "a.json", "Write-Output 1")
      const socket = yield* connectedAgent(engine, agent)
      const heard = recorder(socket)
      const next = Math.ceil((Date.now() + 1000) / 60_000) * 60_000
      const { job } = (yield* promise(() =>
        admin.post("/api/scheduled_jobs", { name: "L", components: [{ type: "script", path: "a.json" }], targets: ["loop-host"], schedule: { type: "once", start: new Date(next).toISOString() } }))).json
      const got = yield* waitFor(() => heard.find((e) => e.event === "quick_job_run"), 90_000)
      const receivedAt = Date.now()
      expect(receivedAt).toBeGreaterThanOrEqual(next)
      // on the boundary, give or take a loaded machine
      expect(receivedAt - next).toBeLessThan(15_000)
      expect(got.payload.context).toMatchObject({ scheduled_job_id: job.id, scheduled_ts: next / 1000 })
    }), 120_000)
})
