// A python-socketio agent (the library real agents use) runs a scheduled job end to end: it checks
// the Ed25519 signature with `cryptography` against the key it pinned at enrollment, the way the
// token-era agent does (and shows a tampered or unsigned copy would be rejected), then answers with
// quick_job_result echoing `context`. spec: realtime-jobs.md §2.4, §7 item 8
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { TestAgent } from "../support/agent.ts"
import { startEngine } from "../support/engine.ts"
import { adminClient, createCode, enrolledAgent } from "../support/enrollment.ts"
import { isoMinute, tickNow, waitFor, writeScript } from "../support/jobs.ts"
import { runPython } from "../support/python.ts"

const AGENT = String.raw`
import base64, json, sys, threading, requests, socketio
from cryptography.hazmat.primitives.serialization import load_der_public_key
url, ca, token, agent_id, hostname, pinned_key = sys.argv[1:7]
http = requests.Session()
http.verify = ca
sio = socketio.Client(http_session=http, reconnection=False)
done = threading.Event()
out = {}

def signature_ok(payload):
    if payload.get("sig_alg") != "ed25519" or not payload.get("signature"):
        return False
    if payload.get("signing_key") != pinned_key:
        return False
    try:
        key = load_der_public_key(base64.b64decode(pinned_key))
        key.verify(base64.b64decode(payload["signature"]), base64.b64decode(payload.get("script_content") or ""))
        return True
    except Exception:
        return False

@sio.on("quick_job_run")
def on_run(payload):
    if str(payload.get("target_hostname") or "").lower() != hostname.lower():
        return
    out["payload"] = payload
    tampered = dict(payload, script_content=base64.b64encode(b"Remove-Item -Recurse C:\\").decode())
    unsigned = {k: v for k, v in payload.items() if k not in ("signature", "sig_alg")}
    out["checks"] = {"genuine": signature_ok(payload), "tampered": signature_ok(tampered), "unsigned": signature_ok(unsigned)}
    if not out["checks"]["genuine"]:
        result = {"job_id": payload.get("job_id"), "status": "Failed", "stdout": "", "stderr": "Missing script signature; rejecting payload"}
    else:
        script = base64.b64decode(payload["script_content"]).decode("utf-8")
        result = {"job_id": payload.get("job_id"), "status": "Success", "stdout": "ran: " + script, "stderr": ""}
    if "context" in payload:
        result["context"] = payload["context"]
    sio.emit("quick_job_result", result)
    done.set()

sio.connect(url, transports=["websocket"], headers={"Authorization": "Bearer " + token, "X-Borealis-Agent-Context": "SYSTEM"}, wait_timeout=10)
ack = sio.call("connect_agent", {"agent_id": agent_id, "hostname": hostname, "service_mode": "SYSTEM"}, timeout=10)
if not done.wait(60):
    print(json.dumps({"error": "no quick_job_run", "ack": ack}), flush=True)
    sys.exit(2)
sio.sleep(0.5)
print(json.dumps({"ack": ack, "checks": out["checks"], "context": out["payload"].get("context")}), flush=True)
sio.disconnect()
`

describe("python-socketio agent", () => {
  it.scoped("verifies the signed quick_job_run against its pinned key, runs it, and its result marks the run Success", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const admin = yield* Effect.promise(() => adminClient(engine.client))
      const agent = yield* Effect.promise(() => enrolledAgent(engine, admin, "py-job"))
      const pinned = yield* Effect.promise(async () => {
        const probe = new TestAgent(engine.client(), "probe")
        return (await probe.request((await createCode(admin)).code)).json.signing_key as string
      })
      writeScript(engine.root, "hello.json", "Write-Output 'from python'")
      const caFile = path.join(engine.root, "ca.pem")
      fs.writeFileSync(caFile, engine.ca ?? "")
      const agentId = `PY-JOB_${agent.guid}_SYSTEM`
      const python = runPython(AGENT, [engine.url, caFile, agent.accessToken, agentId, "py-job", pinned], 90_000)
      yield* waitFor(async () => ((await admin.get("/api/agents")).json[agentId] ? true : undefined), 30_000)
      const { job } = (yield* Effect.promise(() =>
        admin.post("/api/scheduled_jobs", { name: "Py", components: [{ type: "script", path: "hello.json" }], targets: ["py-job"], schedule: { type: "every_15_minutes", start: isoMinute() } }))).json
      yield* tickNow(engine)
      const result = yield* Effect.promise(() => python)
      expect(result.stderr).toBe("")
      expect(result.code).toBe(0)
      const line = JSON.parse(result.stdout.trim().split("\n").at(-1) ?? "{}")
      expect(line.ack).toEqual({ status: "ok" })
      expect(line.checks).toEqual({ genuine: true, tampered: false, unsigned: false })
      expect(line.context).toMatchObject({ scheduled_job_id: job.id })
      const runs = yield* waitFor(async () => {
        const r = (await admin.get(`/api/scheduled_jobs/${job.id}/runs`)).json.runs
        return r[0]?.status === "Success" ? r : undefined
      })
      expect(runs).toHaveLength(1)
      const device = (yield* Effect.promise(() => admin.get(`/api/scheduled_jobs/${job.id}/devices`))).json.devices[0]
      expect(device).toMatchObject({ hostname: "py-job", job_status: "Success", has_stdout: true })
      const entry = (yield* Effect.promise(() => admin.get(`/api/device/activity/job/${device.activities[0].activity_id}`))).json
      expect(entry.stdout).toBe("ran: Write-Output 'from python'")
    }), 120_000)
})
