// End to end over a real port: a job created through REST for a connected agent is dispatched at
// its minute slot as a signed quick_job_run, the signature verifies against the published key (and
// a tampered or unsigned payload does not), the agent's quick_job_result shows in the runs and
// devices views, and operators hear the run's lifecycle. spec: realtime-jobs.md §2.4, §4.5–§4.8, §5.2
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { verifyQuickJobRun } from "../../src/services/jobs/payloads.ts"
import { TestAgent } from "../support/agent.ts"
import { startEngine, type RunningEngine } from "../support/engine.ts"
import { adminClient, createCode, enrolledAgent, sql } from "../support/enrollment.ts"
import type { Client } from "../support/http.ts"
import { connectedAgent, isoMinute, openSocket, operatorHeaders, recorder, tickNow, waitFor, writeScript } from "../support/jobs.ts"

const promise = <A>(f: () => Promise<A>) => Effect.promise(f)

/** The script-signing key the Engine publishes to enrolling agents (`signing_key`). */
const publishedKey = (engine: RunningEngine, admin: Client) =>
  promise(async () => {
    const code = await createCode(admin)
    const probe = new TestAgent(engine.client(), "key-probe")
    const reply = await probe.request(code.code)
    return reply.json.signing_key as string
  })

const b64 = (text: string) => Buffer.from(text, "utf8").toString("base64")

describe("scheduled job end to end", () => {
  it.scoped("REST job → signed quick_job_run at the slot → quick_job_result → runs and devices show Success with stdout", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const admin = yield* promise(() => adminClient(engine.client))
      const agent = yield* promise(() => enrolledAgent(engine, admin, "job-host"))
      const key = yield* publishedKey(engine, admin)
      writeScript(engine.root, "Utilities/hello.json", "Write-Output \"hello $env:GREETING\"\r\n", {
        variables: [{ name: "greeting", type: "string", default: "world" }]
      })
      const socket = yield* connectedAgent(engine, agent)
      const heard = recorder(socket)
      const operator = yield* openSocket(engine, operatorHeaders(admin))
      const opHeard = recorder(operator)

      const start = isoMinute()
      const created = yield* promise(() =>
        admin.post("/api/scheduled_jobs", {
          name: "Hello",
          components: [{ type: "script", path: "Scripts/Utilities/hello.json", name: "hello", variable_values: { greeting: "there" } }],
          targets: ["job-host"],
          schedule: { type: "every_5_minutes", start },
          duration: { stopAfterEnabled: false, expiration: "1h" },
          execution_context: "system"
        }))
      expect(created.status).toBe(200)
      const job = created.json.job
      expect(job).toMatchObject({ name: "Hello", schedule_type: "every_5_minutes", targets: ["job-host"], enabled: true, last_status: "Scheduled", expiration: "1h" })

      // The minute loop's tick (triggered here instead of waiting for the boundary; should the
      // boundary pass meanwhile, the loop's own tick dispatches it, once either way).
      yield* tickNow(engine)
      const received = yield* waitFor(() => heard.find((e) => e.event === "quick_job_run"))
      const payload = received.payload
      expect(payload).toMatchObject({
        target_hostname: "job-host",
        script_type: "powershell",
        script_name: "hello",
        script_path: "Scripts/Utilities/hello.json",
        script_encoding: "base64",
        run_mode: "system",
        sig_alg: "ed25519",
        signing_key: key,
        admin_user: "",
        admin_pass: "",
        files: [],
        timeout_seconds: 3600,
        environment: { GREETING: "there" },
        context: { scheduled_job_id: job.id, scheduled_ts: Math.floor(Date.parse(start) / 1000) }
      })
      expect(Buffer.from(payload.script_content, "base64").toString("utf8")).toBe("Write-Output \"hello 'there'\"\n")
      // What the agent checks before running anything.
      expect(verifyQuickJobRun(payload, key)).toBe(true)
      expect(verifyQuickJobRun({ ...payload, script_content: b64("Remove-Item -Recurse C:\\") }, key)).toBe(false)
      expect(verifyQuickJobRun({ ...payload, signature: "" }, key)).toBe(false)
      expect(verifyQuickJobRun({ ...payload, sig_alg: "rsa" }, key)).toBe(false)
      const other = (yield* publishedKey(yield* startEngine(), admin)) as string
      expect(verifyQuickJobRun({ ...payload, signing_key: other }, key)).toBe(false)

      const runs0 = yield* promise(() => admin.get(`/api/scheduled_jobs/${job.id}/runs`))
      expect(runs0.json.runs).toHaveLength(1)
      expect(runs0.json.runs[0]).toMatchObject({ status: "Running", target_hostname: "job-host", error: "" })
      expect(payload.context.scheduled_job_run_id).toBe(runs0.json.runs[0].id)

      socket.emit("quick_job_result", { job_id: payload.job_id, status: "Success", stdout: "hello there\n", stderr: "", context: payload.context })
      const runs = yield* waitFor(async () => {
        const r = await admin.get(`/api/scheduled_jobs/${job.id}/runs`)
        return r.json.runs[0]?.status === "Success" ? r.json.runs : undefined
      })
      expect(runs[0].finished_ts).toBeTypeOf("number")
      const devices = (yield* promise(() => admin.get(`/api/scheduled_jobs/${job.id}/devices`))).json
      expect(devices.occurrence).toBe(runs[0].scheduled_ts)
      expect(devices.devices).toEqual([
        {
          hostname: "job-host",
          online: true,
          site: "",
          ran_on: runs[0].started_ts,
          job_status: "Success",
          has_stdout: true,
          has_stderr: false,
          activities: [{
            activity_id: payload.job_id,
            component_kind: "script",
            script_type: "powershell",
            component_path: "Scripts/Utilities/hello.json",
            component_name: "hello",
            has_stdout: true,
            has_stderr: false
          }]
        }
      ])
      const activity = (yield* promise(() => admin.get(`/api/device/activity/job/${payload.job_id}`))).json
      expect(activity).toMatchObject({ hostname: "job-host", status: "Success", stdout: "hello there\n", stderr: "" })
      const summary = (yield* promise(() => admin.get(`/api/scheduled_jobs/${job.id}`))).json.job
      expect(summary).toMatchObject({
        last_status: "Success",
        last_run_ts: runs[0].scheduled_ts,
        latest_occurrence: runs[0].scheduled_ts,
        result_counts: { success: 1, running: 0, pending: 0, total_targets: 1 },
        next_run_ts: runs[0].scheduled_ts + 300
      })

      // Operators heard the lifecycle; the agent heard none of it.
      const started = yield* waitFor(() => opHeard.find((e) => e.event === "job_run_started"))
      const completed = yield* waitFor(() => opHeard.find((e) => e.event === "job_run_completed"))
      const base = { job_id: job.id, run_id: runs[0].id, target: "job-host", schedule_type: "every_5_minutes", occurrence_ts: runs[0].scheduled_ts }
      expect(started.payload).toEqual({ ...base, status: "Running" })
      expect(completed.payload).toEqual({ ...base, status: "Success" })
      expect(opHeard.filter((e) => e.event === "device_activity_changed").map((e) => e.payload)).toEqual([
        { hostname: "job-host", activity_id: payload.job_id, change: "created", source: "scheduled_job" },
        { hostname: "job-host", activity_id: payload.job_id, status: "Success", change: "updated", source: "quick_job" }
      ])
      expect(heard.map((e) => e.event)).toEqual(["quick_job_run"])

      // A duplicate result and a late progress change nothing and announce nothing new.
      socket.emit("quick_job_result", { job_id: payload.job_id, status: "Success", stdout: "hello there\n", stderr: "", context: payload.context })
      socket.emit("quick_job_progress", { job_id: payload.job_id, status: "Running", stdout: "late" })
      yield* waitFor(() => opHeard.filter((e) => e.event === "device_activity_changed").length >= 3 ? true : undefined)
      yield* promise(() => new Promise((r) => setTimeout(r, 300)))
      expect(opHeard.filter((e) => e.event === "job_run_completed")).toHaveLength(1)
      expect(sql(engine.databasePath, "SELECT status, stdout FROM activity_history WHERE id = ?", payload.job_id)).toEqual([{ status: "Success", stdout: "hello there\n" }])
      // The next tick in the same slot creates nothing new.
      expect((yield* tickNow(engine)).started).toBe(0)
      expect(sql(engine.databasePath, "SELECT count(*) AS n FROM scheduled_job_runs")).toEqual([{ n: 1 }])
    }), 90_000)
})
