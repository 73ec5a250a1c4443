import { describe, expect, it } from "@effect/vitest"
import * as crypto from "node:crypto"
import { type AnsibleManifest, prepareComponent, type ScriptManifest } from "../../../src/services/jobs/fabricator.ts"
import {
  activityRecord,
  ansiblePlaybookRunPayload,
  quickJobRunPayload,
  runActivityLink,
  scheduledRunContext,
  verifyQuickJobRun
} from "../../../src/services/jobs/payloads.ts"
import { signDetached } from "../../../src/layers/keys/signing.ts"

const keys = crypto.generateKeyPairSync("ed25519")
const signingKey = keys.publicKey.export({ format: "der", type: "spki" }).toString("base64")
const sign = (bytes: Uint8Array) => signDetached(keys.privateKey, bytes)

const library: Record<string, string> = {
  "Scripts/hello.json": JSON.stringify({
    name: "Hello",
    type: "powershell",
    script: "Write-Output \"Hello $env:WHO\"\r\n",
    variables: [{ name: "Who", default: "World" }],
    files: [{ file_name: "f.txt", size: 1, data: "QQ==" }]
  }),
  "Ansible_Playbooks/site.yml": "- hosts: all\n"
}

const script = (() => {
  const prepared = prepareComponent({ type: "script", path: "hello.json" }, 0, (p) => library[p])
  if (prepared._tag !== "Ready" || prepared.manifest.kind !== "script") throw new Error("fixture")
  return prepared.manifest as ScriptManifest
})()

const playbook = (() => {
  const prepared = prepareComponent({ type: "ansible", path: "site.yml", variable_values: { x: 1 } }, 1, (p) => library[p])
  if (prepared._tag !== "Ready" || prepared.manifest.kind !== "ansible") throw new Error("fixture")
  return prepared.manifest as AnsibleManifest
})()

describe("quick_job_run payload", () => {
  const payload = quickJobRunPayload({
    activityId: 101,
    hostname: "HOST-A",
    script,
    runMode: " SYSTEM ",
    sign,
    signingKey,
    context: scheduledRunContext(7, 55, 1_714_550_400, " ABC-DEF ")
  })

  it("carries exactly the spec's fields", () => {
    expect(payload).toEqual({
      job_id: 101,
      target_hostname: "HOST-A",
      script_type: "powershell",
      script_name: "Hello",
      script_path: "Scripts/hello.json",
      script_content: Buffer.from("Write-Output \"Hello 'World'\"\n", "utf8").toString("base64"),
      script_encoding: "base64",
      environment: { WHO: "World", Who: "World" },
      variables: [{ name: "Who", label: "", type: "string", default: "World", required: false, description: "" }],
      timeout_seconds: 3600,
      files: [{ file_name: "f.txt", size: 1, mime_type: "", data: "QQ==" }],
      run_mode: "system",
      admin_user: "",
      admin_pass: "",
      signature: expect.any(String),
      sig_alg: "ed25519",
      signing_key: signingKey,
      context: { scheduled_job_id: 7, scheduled_job_run_id: 55, scheduled_ts: 1_714_550_400, assembly_guid: "abc-def" }
    })
  })

  it("the signature verifies over the decoded script bytes with the published key", () => {
    expect(verifyQuickJobRun(payload)).toBe(true)
    expect(verifyQuickJobRun(payload, signingKey)).toBe(true)
    const bytes = Buffer.from(payload.script_content, "base64")
    expect(crypto.verify(null, bytes, keys.publicKey, Buffer.from(payload.signature, "base64"))).toBe(true)
  })

  it("an agent's check detects tampering, a missing signature, another key or algorithm", () => {
    const tampered = { ...payload, script_content: Buffer.from("Remove-Item C:\\ -Recurse", "utf8").toString("base64") }
    expect(verifyQuickJobRun(tampered)).toBe(false)
    expect(verifyQuickJobRun({ ...payload, signature: "" })).toBe(false)
    expect(verifyQuickJobRun({ ...payload, signature: Buffer.alloc(64).toString("base64") })).toBe(false)
    const other = crypto.generateKeyPairSync("ed25519").publicKey.export({ format: "der", type: "spki" }).toString("base64")
    expect(verifyQuickJobRun({ ...payload, signing_key: other })).toBe(false)
    expect(verifyQuickJobRun(payload, other)).toBe(false)
    expect(verifyQuickJobRun({ ...payload, sig_alg: "rsa" as "ed25519" })).toBe(false)
    expect(verifyQuickJobRun({ ...payload, signing_key: "not a key" })).toBe(false)
  })

  it("signs exactly the bytes it sends", () => {
    const seen: Array<Buffer> = []
    const p = quickJobRunPayload({
      activityId: 1,
      hostname: "h",
      script,
      runMode: undefined,
      sign: (bytes) => {
        seen.push(Buffer.from(bytes))
        return "sig"
      },
      signingKey: "key"
    })
    expect(seen).toEqual([Buffer.from(p.script_content, "base64")])
    expect(seen[0]?.toString("utf8")).toBe(script.scriptContent)
    expect(p.run_mode).toBe("system")
    expect("context" in p).toBe(false)
  })

  it.each([
    ["current_user", "current_user"],
    ["", "system"],
    [null, "system"],
    ["Admin", "admin"]
  ])("run_mode %j → %s", (runMode, expected) => {
    expect(quickJobRunPayload({ activityId: 1, hostname: "h", script, runMode, sign, signingKey }).run_mode).toBe(expected)
  })

  it("scheduledRunContext omits an empty guid", () => {
    expect(scheduledRunContext(1, 2, 3)).toEqual({ scheduled_job_id: 1, scheduled_job_run_id: 2, scheduled_ts: 3 })
    expect(scheduledRunContext(1, 2, 3, "  ")).toEqual({ scheduled_job_id: 1, scheduled_job_run_id: 2, scheduled_ts: 3 })
  })
})

describe("ansible_playbook_run payload", () => {
  it("carries the legacy fields plus context", () => {
    expect(
      ansiblePlaybookRunPayload({ runId: "0f".repeat(16), hostname: "HOST-A", playbook, activityId: 9, scheduledJobId: 7, scheduledRunId: 55 })
    ).toEqual({
      run_id: "0f".repeat(16),
      target_hostname: "HOST-A",
      playbook_name: "site",
      playbook_content: Buffer.from("- hosts: all\n").toString("base64"),
      playbook_encoding: "base64",
      activity_job_id: 9,
      scheduled_job_id: 7,
      scheduled_run_id: 55,
      connection: "winrm",
      variables: [],
      files: [],
      variable_values: { x: 1 },
      context: { scheduled_job_id: 7, scheduled_job_run_id: 55 }
    })
  })
})

describe("activity rows and run links", () => {
  it("script", () => {
    expect(activityRecord("h", script)).toEqual({ hostname: "h", script_path: "Scripts/hello.json", script_name: "Hello", script_type: "powershell" })
    expect(runActivityLink(script)).toEqual({
      component_kind: "script",
      script_type: "powershell",
      component_path: "Scripts/hello.json",
      component_name: "Hello"
    })
  })

  it("ansible (island-relative path, as the legacy rows)", () => {
    expect(activityRecord("h", playbook)).toEqual({ hostname: "h", script_path: "site.yml", script_name: "site", script_type: "ansible" })
    expect(runActivityLink(playbook)).toEqual({ component_kind: "ansible", script_type: "ansible", component_path: "site.yml", component_name: "site" })
  })
})
