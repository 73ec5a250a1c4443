// The Socket.IO payloads a dispatch emits, built from manifests. Signing is the caller's: pass the
// Engine's script signer (Ed25519 over the exact script bytes, base64) and its public key.
// spec: realtime-jobs.md §2.4 (quick_job_run, ansible_playbook_run), §4.6, §8
import * as crypto from "node:crypto"
import type { AssemblyFile, AssemblyVariable } from "../assemblies/dispatchDocument.ts"
import type { AnsibleManifest, ScriptManifest } from "./fabricator.ts"
import { runModeOf } from "./fabricator.ts"
import type { JsonRecord } from "../pyValues.ts"

/** Detached signature of `bytes`, base64: `KeyMaterial.scriptSigner`'s `sign`. */
type SignBytes = (bytes: Uint8Array) => string

/** `context` of a scheduled run, echoed back by agents in `quick_job_result`. */
type ScheduledRunContext = {
  readonly scheduled_job_id: number
  readonly scheduled_job_run_id: number
  readonly scheduled_ts: number
  readonly assembly_guid?: string
}

export const scheduledRunContext = (
  scheduledJobId: number,
  scheduledJobRunId: number,
  scheduledTs: number,
  assemblyGuid?: string
): ScheduledRunContext => {
  const guid = assemblyGuid?.trim().toLowerCase() ?? ""
  return {
    scheduled_job_id: scheduledJobId,
    scheduled_job_run_id: scheduledJobRunId,
    scheduled_ts: scheduledTs,
    ...(guid === "" ? {} : { assembly_guid: guid })
  }
}

interface QuickJobRunPayload {
  /** The `activity_history.id` of this dispatch (not the scheduled job id). */
  readonly job_id: number
  readonly target_hostname: string
  readonly script_type: string
  readonly script_name: string
  readonly script_path: string
  readonly script_content: string
  readonly script_encoding: "base64"
  readonly environment: Readonly<Record<string, string>>
  readonly variables: ReadonlyArray<JsonRecord>
  readonly timeout_seconds: number
  readonly files: ReadonlyArray<AssemblyFile>
  readonly run_mode: string
  readonly admin_user: string
  readonly admin_pass: string
  readonly signature: string
  readonly sig_alg: "ed25519"
  readonly signing_key: string
  readonly context?: Readonly<Record<string, unknown>>
}

interface QuickJobRunInput {
  readonly activityId: number
  readonly hostname: string
  readonly script: ScriptManifest
  /** `execution_context` / the request's `run_mode` (lower-cased; default `system`). */
  readonly runMode: string | null | undefined
  readonly sign: SignBytes
  /** base64 DER SubjectPublicKeyInfo of the signing key. */
  readonly signingKey: string
  /** Scheduled runs: {@link scheduledRunContext}. */
  readonly context?: Readonly<Record<string, unknown>> | undefined
  readonly adminUser?: string | undefined
  readonly adminPass?: string | undefined
}

/**
 * `quick_job_run` for one host. The signature covers exactly the bytes `script_content` decodes
 * to, which is what token-era agents verify before running anything.
 */
export const quickJobRunPayload = (input: QuickJobRunInput): QuickJobRunPayload => {
  const { script } = input
  const bytes = Buffer.from(script.encodedContent, "base64")
  return {
    job_id: input.activityId,
    target_hostname: input.hostname,
    script_type: script.scriptType,
    script_name: script.scriptName,
    script_path: script.path,
    script_content: script.encodedContent,
    script_encoding: "base64",
    environment: script.environment,
    variables: script.variables,
    timeout_seconds: script.timeoutSeconds,
    files: script.files,
    run_mode: runModeOf(input.runMode),
    admin_user: input.adminUser ?? "",
    admin_pass: input.adminPass ?? "",
    signature: input.sign(bytes),
    sig_alg: "ed25519",
    signing_key: input.signingKey,
    ...(input.context === undefined ? {} : { context: input.context })
  }
}

/**
 * What a token-era agent checks before running a `quick_job_run`: an Ed25519 signature, by the
 * key it carries, over the decoded script bytes. `expectedKey` pins the key (the agent pins the one
 * it was enrolled with).
 */
export const verifyQuickJobRun = (
  payload: Pick<QuickJobRunPayload, "script_content" | "signature" | "sig_alg" | "signing_key">,
  expectedKey?: string
): boolean => {
  if (payload.sig_alg !== "ed25519" || payload.signature === "" || payload.signing_key === "") return false
  if (expectedKey !== undefined && expectedKey !== payload.signing_key) return false
  try {
    const key = crypto.createPublicKey({ key: Buffer.from(payload.signing_key, "base64"), format: "der", type: "spki" })
    return crypto.verify(null, Buffer.from(payload.script_content, "base64"), key, Buffer.from(payload.signature, "base64"))
  } catch {
    return false
  }
}

interface AnsiblePlaybookRunPayload {
  readonly run_id: string
  readonly target_hostname: string
  readonly playbook_name: string
  readonly playbook_content: string
  readonly playbook_encoding: "base64"
  readonly activity_job_id: number | null
  readonly scheduled_job_id: number
  readonly scheduled_run_id: number
  readonly connection: "winrm"
  readonly variables: ReadonlyArray<AssemblyVariable>
  readonly files: ReadonlyArray<AssemblyFile>
  readonly variable_values: Readonly<Record<string, unknown>>
  readonly context: { readonly scheduled_job_id: number; readonly scheduled_job_run_id: number }
}

/** `ansible_playbook_run` for one host of a scheduled run; `runId` is a fresh uuid hex. */
export const ansiblePlaybookRunPayload = (input: {
  readonly runId: string
  readonly hostname: string
  readonly playbook: AnsibleManifest
  readonly activityId: number | null
  readonly scheduledJobId: number
  readonly scheduledRunId: number
}): AnsiblePlaybookRunPayload => ({
  run_id: input.runId,
  target_hostname: input.hostname,
  playbook_name: input.playbook.playbookName,
  playbook_content: input.playbook.encodedContent,
  playbook_encoding: "base64",
  activity_job_id: input.activityId,
  scheduled_job_id: input.scheduledJobId,
  scheduled_run_id: input.scheduledRunId,
  connection: "winrm",
  variables: input.playbook.variables,
  files: input.playbook.files,
  variable_values: input.playbook.variableValues,
  context: { scheduled_job_id: input.scheduledJobId, scheduled_job_run_id: input.scheduledRunId }
})

/** The `activity_history` row a dispatch inserts (status `Running`, `ran_at` = now). */
export const activityRecord = (hostname: string, component: ScriptManifest | AnsibleManifest) =>
  component.kind === "script"
    ? { hostname, script_path: component.path, script_name: component.scriptName, script_type: component.scriptType }
    : { hostname, script_path: component.islandPath, script_name: component.playbookName, script_type: "ansible" }

/** The `scheduled_job_run_activity` link fields for a dispatched component. */
export const runActivityLink = (component: ScriptManifest | AnsibleManifest) =>
  component.kind === "script"
    ? { component_kind: "script", script_type: component.scriptType, component_path: component.path, component_name: component.scriptName }
    : { component_kind: "ansible", script_type: "ansible", component_path: component.islandPath, component_name: component.playbookName }
