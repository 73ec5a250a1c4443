// The scheduled-jobs REST surface over HTTPS (legacy UI contract, spec §5.2): auth, the Job shape
// with its summary, partial PUT, toggle, delete (runs and links go), runs/devices/clear, and bad
// input — every case a clear 400 (the spec's string where it has one), never a 500 or a half-written job.
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { startEngine } from "../support/engine.ts"
import { adminClient, enrolledAgent, sql } from "../support/enrollment.ts"
import { connectedAgent, isoMinute, recorder, tickNow, waitFor, writeAssembly, writeScript } from "../support/jobs.ts"

const promise = <A>(f: () => Promise<A>) => Effect.promise(f)

const ROUTES: ReadonlyArray<readonly [string, string]> = [
  ["GET", "/api/scheduled_jobs"],
  ["POST", "/api/scheduled_jobs"],
  ["GET", "/api/scheduled_jobs/1"],
  ["PUT", "/api/scheduled_jobs/1"],
  ["DELETE", "/api/scheduled_jobs/1"],
  ["POST", "/api/scheduled_jobs/1/toggle"],
  ["GET", "/api/scheduled_jobs/1/runs"],
  ["GET", "/api/scheduled_jobs/1/devices"],
  ["DELETE", "/api/scheduled_jobs/1/runs"],
  ["POST", "/api/scripts/quick_run"]
]

const uiBody = (overrides: Record<string, unknown> = {}) => ({
  name: "Nightly",
  components: [{ type: "script", path: "Scripts/Maintenance/clean.json", name: "clean", description: "", variables: [], variable_values: {} }],
  targets: ["host-1", "host-2"],
  schedule: { type: "daily", start: "2030-01-01T02:00:00.000Z" },
  duration: { stopAfterEnabled: false, expiration: "2h" },
  execution_context: "system",
  credential_id: null,
  use_service_account: false,
  ...overrides
})

describe("scheduled jobs REST", () => {
  it.scoped("every route needs an operator", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const client = engine.client()
      for (const [method, route] of ROUTES) {
        const reply = yield* promise(() => client.request(route, { method, ...(method === "GET" || method === "DELETE" ? {} : { json: uiBody() }) }))
        expect([method, route, reply.status, reply.json]).toEqual([method, route, 401, { error: "not_authenticated" }])
      }
      expect(sql(engine.databasePath, "SELECT count(*) AS n FROM scheduled_jobs")).toEqual([{ n: 0 }])
    }))

  it.scoped("create, get, list, partial PUT, toggle, delete with the legacy answers", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const admin = yield* promise(() => adminClient(engine.client))
      writeScript(engine.root, "Maintenance/clean.json", "Remove-Item $env:TEMP\\* -Recurse")
      const created = yield* promise(() => admin.post("/api/scheduled_jobs", uiBody()))
      expect(created.status).toBe(200)
      const job = created.json.job
      expect(Object.keys(job).sort()).toEqual([
        "components", "created_at", "credential_id", "duration_stop_enabled", "enabled", "execution_context", "expiration", "id",
        "last_run_ts", "last_status", "latest_occurrence", "name", "next_run_ts", "result_counts", "schedule_type", "start_ts",
        "targets", "timezone", "updated_at", "use_service_account"
      ])
      expect(job).toMatchObject({
        name: "Nightly",
        targets: ["host-1", "host-2"],
        schedule_type: "daily",
        start_ts: Date.parse("2030-01-01T02:00:00Z") / 1000,
        duration_stop_enabled: false,
        expiration: "2h",
        execution_context: "system",
        credential_id: null,
        use_service_account: false,
        enabled: true,
        timezone: null,
        last_run_ts: null,
        latest_occurrence: null,
        last_status: "Scheduled",
        next_run_ts: Date.parse("2030-01-01T02:00:00Z") / 1000,
        result_counts: { pending: 0, running: 0, success: 0, failed: 0, expired: 0, timed_out: 0, skipped: 0, total_targets: 2 }
      })
      expect(job.components).toEqual(uiBody().components)

      const second = (yield* promise(() => admin.post("/api/scheduled_jobs", uiBody({ name: "Second", schedule: { type: "immediately", start: null } })))).json.job
      expect(second).toMatchObject({ schedule_type: "immediately", start_ts: null, last_status: "" })
      const list = (yield* promise(() => admin.get("/api/scheduled_jobs"))).json.jobs
      // newest first (created_at desc, then id)
      expect(list.map((j: { id: number }) => j.id)).toEqual([second.id, job.id])

      expect((yield* promise(() => admin.get(`/api/scheduled_jobs/${job.id}`))).json).toEqual({ job })
      for (const bad of ["999", "abc", "-1", "1.5"]) {
        const r = yield* promise(() => admin.get(`/api/scheduled_jobs/${bad}`))
        expect([bad, r.status, r.json]).toEqual([bad, 404, { error: "not found" }])
      }

      // Partial PUT: only the named fields change (the original's full-PUT 500 does not exist).
      const renamed = yield* promise(() => admin.request(`/api/scheduled_jobs/${job.id}`, { method: "PUT", json: { name: "  Renamed  " } }))
      expect(renamed.status).toBe(200)
      expect(renamed.json.job).toMatchObject({ ...job, name: "Renamed", updated_at: expect.any(Number) })
      const moved = yield* promise(() =>
        admin.request(`/api/scheduled_jobs/${job.id}`, { method: "PUT", json: { schedule: { type: "weekly", start: "2030-01-06T09:00:00" }, timezone: "America/New_York" } }))
      expect(moved.json.job).toMatchObject({ schedule_type: "weekly", timezone: "America/New_York", start_ts: Date.parse("2030-01-06T14:00:00Z") / 1000, name: "Renamed", targets: ["host-1", "host-2"] })
      // The UI's full payload is a valid PUT too.
      const full = yield* promise(() => admin.request(`/api/scheduled_jobs/${job.id}`, { method: "PUT", json: uiBody({ name: "Full" }) }))
      expect(full.status).toBe(200)
      expect(full.json.job).toMatchObject({ name: "Full", schedule_type: "daily", timezone: "America/New_York", expiration: "2h" })
      const put = (id: number | string, json: unknown) => promise(() => admin.request(`/api/scheduled_jobs/${id}`, { method: "PUT", json }))
      expect((yield* put(job.id, {})).json).toEqual({ error: "no fields to update" })
      expect((yield* put(job.id, { targets: [] })).json).toEqual({ error: "targets required" })
      expect((yield* put(999, { name: "x" }))).toMatchObject({ status: 404, json: { error: "not found" } })
      expect((yield* put(job.id, { execution_context: "winrm" })).json.job.use_service_account).toBe(true)
      expect((yield* put(job.id, { execution_context: "system" })).json.job.use_service_account).toBe(false)
      expect((yield* put(job.id, { credential_id: "7" })).json.job.credential_id).toBe(7)
      expect((yield* put(job.id, { credential_id: "null" })).json.job.credential_id).toBe(null)

      const toggle = (id: number, json: unknown) => promise(() => admin.post(`/api/scheduled_jobs/${id}/toggle`, json))
      expect((yield* toggle(job.id, { enabled: false })).json.job.enabled).toBe(false)
      expect((yield* toggle(job.id, {})).json.job.enabled).toBe(true)
      expect((yield* toggle(999, {}))).toMatchObject({ status: 404, json: { error: "not found" } })

      const del = (id: number) => promise(() => admin.request(`/api/scheduled_jobs/${id}`, { method: "DELETE" }))
      expect((yield* del(second.id))).toMatchObject({ status: 200, json: { status: "ok" } })
      expect((yield* del(second.id))).toMatchObject({ status: 404, json: { error: "not found" } })
      const audit = sql<{ type: string }>(engine.databasePath, "SELECT type FROM audit_events WHERE type LIKE 'job.%' ORDER BY id").map((r) => r.type)
      // seven successful PUTs; refused ones record nothing
      expect(audit).toEqual(["job.created", "job.created", ...Array(7).fill("job.updated"), "job.toggled", "job.toggled", "job.deleted"])
    }))

  it.scoped("bad input: a clear 400 for each, no row written, never a 500", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const admin = yield* promise(() => adminClient(engine.client))
      writeScript(engine.root, "Maintenance/clean.json", "Write-Output 1")
      writeAssembly(engine.root, "Scripts/Linux/hello.json", { name: "hello", type: "bash", script: "echo hi" })
      const big = path.join(engine.root, "Assemblies", "Scripts", "huge.ps1")
      fs.writeFileSync(big, Buffer.alloc(16 * 1024 * 1024 + 1, 0x41))
      const component = (extra: Record<string, unknown>) => ({ components: [{ type: "script", ...extra }] })
      const cases: ReadonlyArray<readonly [unknown, string]> = [
        [{}, "name, components, targets required"],
        [uiBody({ name: "  " }), "name, components, targets required"],
        [uiBody({ components: [] }), "name, components, targets required"],
        [uiBody({ targets: [] }), "name, components, targets required"],
        [uiBody({ targets: ["  "] }), "name, components, targets required"],
        [uiBody({ name: 42 }), "name must be text"],
        [uiBody({ components: "Scripts/x.json" }), "components must be a list"],
        [uiBody({ components: ["Scripts/x.json"] }), "component 1 must be an object"],
        [uiBody({ targets: "host-1" }), "targets must be a list of hostnames"],
        [uiBody({ targets: [{ kind: "filter", filter_id: 3 }] }), "targets must be a list of hostnames"],
        [uiBody({ schedule: { type: "fortnightly", start: "2030-01-01T00:00:00Z" } }), "invalid schedule type"],
        [uiBody({ schedule: { type: 5 } }), "invalid schedule type"],
        [uiBody({ schedule: { type: "every_5_minutes" } }), "start is required for this schedule type"],
        [uiBody({ schedule: { type: "once", start: "next tuesday" } }), "invalid schedule start"],
        [uiBody({ schedule: { type: "daily", start: "2030-02-30T00:00:00Z" } }), "invalid schedule start"],
        [uiBody({ schedule: { type: "daily", start: true } }), "invalid schedule start"],
        [uiBody({ timezone: "Mars/Olympus_Mons" }), "invalid timezone 'Mars/Olympus_Mons' (expected an IANA zone such as Europe/Berlin)"],
        [uiBody({ timezone: 3 }), "timezone must be an IANA zone name such as Europe/Berlin"],
        [uiBody({ duration: { expiration: "soon" } }), "invalid expiration"],
        [uiBody({ execution_context: ["system"] }), "invalid execution_context"],
        [uiBody(component({ type: "workflow", path: "Workflows/x.json" })), "Unsupported component type 'workflow'"],
        [uiBody(component({})), "Missing script_path"],
        [uiBody(component({ path: "../../../etc/passwd" })), "invalid component path '../../../etc/passwd'"],
        [uiBody(component({ path: "C:\\Windows\\evil.ps1" })), "invalid component path 'C:\\Windows\\evil.ps1'"],
        [uiBody(component({ path: "Scripts/missing.json" })), "Script not found: Scripts/missing.json"],
        [uiBody({ components: [{ type: "ansible", path: "nope.yml" }] }), "Playbook not found: Ansible_Playbooks/nope.yml"],
        [uiBody(component({ path: "Scripts/Linux/hello.json" })), "Unsupported script type 'bash'. Only PowerShell is supported."],
        [uiBody(component({ path: "huge.ps1" })), "Script exceeds 16777216 bytes"]
      ]
      for (const [body, error] of cases) {
        const reply = yield* promise(() => admin.post("/api/scheduled_jobs", body))
        expect([body, reply.status, reply.json]).toEqual([body, 400, { error }])
      }
      // Not JSON, or not an object: read as {} (Flask's get_json(silent=True)).
      for (const raw of ["not json", "[1,2]", "null", "\"text\""]) {
        const reply = yield* promise(() => admin.request("/api/scheduled_jobs", { method: "POST", body: raw, headers: { "content-type": "application/json" } }))
        expect([raw, reply.status, reply.json]).toEqual([raw, 400, { error: "name, components, targets required" }])
      }
      const form = yield* promise(() => admin.request("/api/scheduled_jobs", { method: "POST", body: JSON.stringify(uiBody()), headers: { "content-type": "text/plain" } }))
      expect(form.status).toBe(400)
      expect(sql(engine.databasePath, "SELECT count(*) AS n FROM scheduled_jobs")).toEqual([{ n: 0 }])

      // PUT with every field set to every kind of JSON value: 200 or 400, never a 500, and a 400 changes nothing.
      const { job } = (yield* promise(() => admin.post("/api/scheduled_jobs", uiBody()))).json
      const values: ReadonlyArray<unknown> = [null, true, false, 0, -1, 1.5, "", "x", "2030-01-01T00:00:00Z", [], [1], ["a"], {}, { type: "daily" }, [{ type: "script", path: "x" }]]
      const keys = ["name", "components", "targets", "schedule", "schedule_type", "start", "duration", "duration_stop_enabled", "expiration", "execution_context", "credential_id", "use_service_account", "enabled", "timezone"]
      for (const key of keys) {
        for (const value of values) {
          const before = sql(engine.databasePath, "SELECT * FROM scheduled_jobs WHERE id = ?", job.id)
          const reply = yield* promise(() => admin.request(`/api/scheduled_jobs/${job.id}`, { method: "PUT", json: { [key]: value } }))
          expect([key, value, [200, 400].includes(reply.status)]).toEqual([key, value, true])
          expect(typeof (reply.status === 200 ? reply.json.job : reply.json.error)).toBe(typeof (reply.status === 200 ? {} : ""))
          if (reply.status === 400) expect(sql(engine.databasePath, "SELECT * FROM scheduled_jobs WHERE id = ?", job.id)).toEqual(before)
          // keep a valid job for the next round
          yield* promise(() => admin.request(`/api/scheduled_jobs/${job.id}`, { method: "PUT", json: uiBody() }))
        }
      }
    }), 120_000)

  it.scoped("runs, devices and clearing history; deleting a job removes its runs and links, not the device's activity", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const admin = yield* promise(() => adminClient(engine.client))
      const agent = yield* promise(() => enrolledAgent(engine, admin, "hist-host"))
      writeScript(engine.root, "hello.json", "Write-Output 1")
      const socket = yield* connectedAgent(engine, agent)
      const heard = recorder(socket)
      // assign a site so /devices shows it
      const site = (yield* promise(() => admin.post("/api/sites", { name: "HQ" }))).json
      expect((yield* promise(() => admin.post("/api/sites/assign", { site_id: site.id, hostnames: ["hist-host"] }))).status).toBe(200)
      const { job } = (yield* promise(() =>
        admin.post("/api/scheduled_jobs", uiBody({
          components: [{ type: "script", path: "hello.json" }],
          targets: ["hist-host", "offline-host"],
          schedule: { type: "every_5_minutes", start: isoMinute() }
        })))).json
      yield* tickNow(engine)
      const payload = (yield* waitFor(() => heard.find((e) => e.event === "quick_job_run"))).payload
      socket.emit("quick_job_result", { job_id: payload.job_id, status: "Failed", stdout: "", stderr: "boom", context: payload.context })
      yield* waitFor(async () => (await admin.get(`/api/scheduled_jobs/${job.id}/devices`)).json.devices[0].job_status === "Failed" ? true : undefined)
      const devices = (yield* promise(() => admin.get(`/api/scheduled_jobs/${job.id}/devices`))).json
      expect(devices.devices.map((d: any) => [d.hostname, d.online, d.site, d.job_status, d.has_stdout, d.has_stderr, d.activities.length])).toEqual([
        ["hist-host", true, "HQ", "Failed", false, true, 1],
        ["offline-host", false, "", "Pending", false, false, 0]
      ])
      const summary = (yield* promise(() => admin.get(`/api/scheduled_jobs/${job.id}`))).json.job
      expect(summary).toMatchObject({ last_status: "Failed", result_counts: { failed: 1, pending: 1, total_targets: 2 } })
      expect((yield* promise(() => admin.get(`/api/scheduled_jobs/${job.id}/devices?occurrence=${devices.occurrence - 300}`))).json)
        .toMatchObject({ occurrence: devices.occurrence - 300, devices: [{ job_status: "Pending" }, { job_status: "Pending" }] })
      expect((yield* promise(() => admin.get(`/api/scheduled_jobs/${job.id}/devices?occurrence=soon`)))).toMatchObject({ status: 400, json: { error: "invalid occurrence" } })
      expect((yield* promise(() => admin.get(`/api/scheduled_jobs/999/devices`)))).toMatchObject({ status: 404, json: { error: "not found" } })

      const runs = (q: string) => promise(async () => (await admin.get(`/api/scheduled_jobs/${job.id}/runs${q}`)).json.runs)
      expect((yield* runs("")).map((r: any) => [r.target_hostname, r.status]).sort()).toEqual([["hist-host", "Failed"], ["offline-host", "Pending"]])
      for (const q of ["?days=0", "?days=-3", "?days=x", "?days=1&days=2"]) expect((yield* runs(q)).length).toBe(2)

      // Older occurrence rows (inserted directly), then clear: the latest occurrence stays.
      sql(engine.databasePath, "INSERT INTO scheduled_job_runs (job_id, target_hostname, scheduled_ts, status, created_at) VALUES (?, 'hist-host', ?, 'Success', ?)", job.id, devices.occurrence - 3600, devices.occurrence)
      const cleared = (yield* promise(() => admin.request(`/api/scheduled_jobs/${job.id}/runs`, { method: "DELETE" }))).json
      expect(cleared).toEqual({ status: "ok", cleared: 1, kept_occurrence: devices.occurrence })
      expect((yield* promise(() => admin.request(`/api/scheduled_jobs/999/runs`, { method: "DELETE" }))).json).toEqual({ status: "ok", cleared: 0 })

      // Delete means delete.
      expect(sql(engine.databasePath, "SELECT count(*) AS n FROM scheduled_job_run_activity")).toEqual([{ n: 1 }])
      expect((yield* promise(() => admin.request(`/api/scheduled_jobs/${job.id}`, { method: "DELETE" }))).json).toEqual({ status: "ok" })
      expect(sql(engine.databasePath, "SELECT count(*) AS n FROM scheduled_job_runs")).toEqual([{ n: 0 }])
      expect(sql(engine.databasePath, "SELECT count(*) AS n FROM scheduled_job_run_activity")).toEqual([{ n: 0 }])
      expect((yield* promise(() => admin.get("/api/device/activity/hist-host"))).json.history).toHaveLength(1)
      // A late result for the deleted job's activity updates the device history, nothing else.
      socket.emit("quick_job_result", { job_id: payload.job_id, status: "Success", stdout: "late", context: payload.context })
      yield* waitFor(async () => (await admin.get("/api/device/activity/hist-host")).json.history[0].status === "Success" ? true : undefined)
      expect(sql(engine.databasePath, "SELECT count(*) AS n FROM scheduled_job_runs")).toEqual([{ n: 0 }])
    }), 60_000)
})
