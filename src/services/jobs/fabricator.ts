// The job fabricator: a scheduled job + one occurrence → an immutable manifest of exactly what each
// component will send to agents. Pure: the assembly files it needs are read by the caller
// (`componentSourcePaths`, then a lookup of their text), so the whole path is testable without a
// file system. spec: realtime-jobs.md §4.2 (manifest), §4.6 (dispatch document and payload data)
//
// Where the two originals differ, the manifest follows the legacy dispatcher agents were built
// against: a `.json` assembly is parsed (first-gen sent the JSON text itself as the script), its
// variables are the definitions, and only PowerShell scripts are dispatched. Ansible components
// resolve under `Ansible_Playbooks/` (first-gen prefixed `Scripts/` to them too, a quirk).
import { baseName, type AssemblyFile, type AssemblyVariable, loadDispatchDocument, stem } from "../assemblies/dispatchDocument.ts"
import { field, isRecord, type JsonRecord, pyInt, pyStr, pyText, pyTruthy } from "../pyValues.ts"
import { decodeScriptContent, encodeScriptContent, toLf } from "../assemblies/scriptText.ts"
import { MAX_SCRIPT_BYTES, type SourceLookup } from "../assemblies/source.ts"
import { collectAnsibleOverrides, collectScriptOverrides, prepareVariableContext, rewritePowershellScript } from "./variables.ts"

const SCRIPTS_ISLAND = "Scripts"
const ANSIBLE_ISLAND = "Ansible_Playbooks"

type ComponentKind = "script" | "ansible"

/**
 * A component path → its path under the Assemblies root: backslashes become `/`, empty and `.`
 * segments (so leading slashes) go, the island folder is prefixed unless the first segment already
 * names it (any case; written canonically). `undefined` for an empty path, a `..` segment, a NUL,
 * or a Windows drive (`C:`): nothing may leave the island.
 */
export const normaliseComponentPath = (kind: ComponentKind, raw: string): string | undefined => {
  const island = kind === "ansible" ? ANSIBLE_ISLAND : SCRIPTS_ISLAND
  const segments = raw.replace(/\\/g, "/").trim().split("/").filter((s) => s !== "" && s !== ".")
  if (segments.some((s) => s === ".." || s.includes("\0"))) return undefined
  if (segments[0]?.toLowerCase() === island.toLowerCase()) segments.shift()
  if (segments.length === 0 || /^[A-Za-z]:$/.test(segments[0] ?? "")) return undefined
  return [island, ...segments].join("/")
}

/** `type` of a component, lower-cased (`script` | `ansible` are dispatched; workflows are not). */
const componentKind = (component: JsonRecord): string => pyText(field(component, "type")).toLowerCase()

const rawComponentPath = (component: JsonRecord, kind: ComponentKind): string => {
  const keys = kind === "ansible" ? ["path", "playbook_path", "script_path"] : ["path", "script_path"]
  for (const key of keys) {
    const value = field(component, key)
    if (pyTruthy(value)) return pyStr(value).trim()
  }
  return ""
}

/** Where a component's assembly lives (`Scripts/…` or `Ansible_Playbooks/…`), if it has one. */
export const componentSourcePath = (component: unknown): string | undefined => {
  if (!isRecord(component)) return undefined
  const kind = componentKind(component)
  if (kind !== "script" && kind !== "ansible") return undefined
  const raw = rawComponentPath(component, kind)
  return raw === "" ? undefined : normaliseComponentPath(kind, raw)
}

/** Every assembly path the components need, once each: read these, then fabricate. */
export const componentSourcePaths = (components: ReadonlyArray<unknown>): ReadonlyArray<string> => [
  ...new Set(components.map(componentSourcePath).filter((p): p is string => p !== undefined))
]

export interface ScriptManifest {
  readonly kind: "script"
  /** Position in the job's `components`. */
  readonly index: number
  /** The component's name, else the document's, else the file stem (first-gen manifest name). */
  readonly name: string
  /** `script_name` for the agent and activity row: the document's name, else the file name. */
  readonly scriptName: string
  /** `Scripts/…`: `script_path` for the agent, activity row and run link. */
  readonly path: string
  readonly scriptType: "powershell"
  /** The script after the `$env:` rewrite, LF line endings: exactly the bytes that are signed. */
  readonly scriptContent: string
  /** base64 of the UTF-8 `scriptContent` (`""` when empty). */
  readonly encodedContent: string
  readonly environment: Readonly<Record<string, string>>
  readonly literalEnvironment: Readonly<Record<string, string>>
  readonly variables: ReadonlyArray<JsonRecord>
  readonly files: ReadonlyArray<AssemblyFile>
  readonly timeoutSeconds: number
}

export interface AnsibleManifest {
  readonly kind: "ansible"
  readonly index: number
  readonly name: string
  /** `playbook_name`: the document's name, else the file name. */
  readonly playbookName: string
  /** `Ansible_Playbooks/…` under the Assemblies root. */
  readonly path: string
  /** The same path relative to the island (what the legacy activity row records). */
  readonly islandPath: string
  readonly scriptType: "ansible"
  readonly playbookContent: string
  readonly encodedContent: string
  readonly variables: ReadonlyArray<AssemblyVariable>
  readonly files: ReadonlyArray<AssemblyFile>
  /** Operator-supplied values (`variable_values`, then `variables[].value`). */
  readonly variableValues: Readonly<Record<string, unknown>>
}

export type ComponentManifest = ScriptManifest | AnsibleManifest

type ComponentSkipReason =
  | "unsupported_component_type"
  | "missing_path"
  | "invalid_path"
  | "not_found"
  | "too_large"
  | "unsupported_script_type"

interface ComponentSkip {
  readonly index: number
  readonly kind: string
  /** The normalised path when there is one, else the path as given. */
  readonly path: string
  readonly reason: ComponentSkipReason
  /** Operator-facing text (the original's strings where it had one). */
  readonly message: string
}

type PreparedComponent =
  | { readonly _tag: "Ready"; readonly manifest: ComponentManifest }
  | { readonly _tag: "Skipped"; readonly skip: ComponentSkip }

interface FabricatorOptions {
  readonly maxScriptBytes?: number | undefined
}

const positiveInt = (value: unknown): number | undefined => {
  const n = pyTruthy(value) ? pyInt(value) : undefined
  return n !== undefined && n > 0 ? n : undefined
}

const deepFreeze = <A>(value: A): A => {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const child of Object.values(value)) deepFreeze(child)
  }
  return value
}

/**
 * One component → what will be dispatched for it, or why nothing will. Used for scheduled jobs and
 * for `POST /api/scripts/quick_run` (pass `{type:"script", path: script_path, variable_values}`).
 */
export const prepareComponent = (
  component: unknown,
  index: number,
  sources: SourceLookup,
  options: FabricatorOptions = {}
): PreparedComponent => {
  // A private copy: the manifest is frozen and must not freeze (or alias) the caller's job data.
  const record: JsonRecord = isRecord(component) ? structuredClone(component) : {}
  const kind = componentKind(record)
  const skip = (reason: ComponentSkipReason, path: string, message: string): PreparedComponent => ({
    _tag: "Skipped",
    skip: { index, kind, path, reason, message }
  })
  if (kind !== "script" && kind !== "ansible") {
    return skip("unsupported_component_type", "", `Unsupported component type '${kind}'`)
  }
  const raw = rawComponentPath(record, kind)
  if (raw === "") return skip("missing_path", "", kind === "ansible" ? "Missing playbook_path" : "Missing script_path")
  const path = normaliseComponentPath(kind, raw)
  const notFound = kind === "ansible" ? "Playbook not found" : "Script not found"
  if (path === undefined) return skip("invalid_path", raw, notFound)
  const text = sources(path)
  if (text === undefined) return skip("not_found", path, notFound)
  const limit = options.maxScriptBytes ?? MAX_SCRIPT_BYTES
  if (typeof text !== "string" || Buffer.byteLength(text, "utf8") > limit) {
    return skip("too_large", path, `Script exceeds ${limit} bytes`)
  }

  const fileName = baseName(path)
  const componentName = pyText(field(record, "name"))

  if (kind === "ansible") {
    const doc = loadDispatchDocument(fileName, text, "ansible")
    const playbookName = doc.name !== "" ? doc.name : fileName
    return {
      _tag: "Ready",
      manifest: deepFreeze({
        kind: "ansible",
        index,
        name: componentName !== "" ? componentName : playbookName,
        playbookName,
        path,
        islandPath: path.slice(ANSIBLE_ISLAND.length + 1),
        scriptType: "ansible",
        playbookContent: doc.script,
        encodedContent: encodeScriptContent(doc.script),
        variables: doc.variables,
        files: doc.files,
        variableValues: Object.fromEntries(collectAnsibleOverrides(record))
      })
    }
  }

  const doc = loadDispatchDocument(fileName, text, "powershell")
  if (doc.type !== "powershell") {
    return skip("unsupported_script_type", path, `Unsupported script type '${doc.type}'. Only PowerShell is supported.`)
  }
  // A component may carry its own script text (first-gen manifest); the library file still has to exist.
  const inline = field(record, "script")
  const source = typeof inline === "string" && inline.trim() !== "" ? decodeScriptContent(inline) : doc.script
  const context = prepareVariableContext(doc.variables, collectScriptOverrides(record))
  // Literals may carry CRLF from values: normalise after the rewrite so signed bytes = sent bytes.
  const scriptContent = toLf(rewritePowershellScript(source, context.literals))
  const scriptName = doc.name !== "" ? doc.name : fileName
  return {
    _tag: "Ready",
    manifest: deepFreeze({
      kind: "script",
      index,
      name: componentName !== "" ? componentName : doc.name !== "" ? doc.name : stem(fileName),
      scriptName,
      path,
      scriptType: "powershell",
      scriptContent,
      encodedContent: encodeScriptContent(scriptContent),
      environment: context.environment,
      literalEnvironment: context.literals,
      variables: context.variables,
      files: doc.files,
      timeoutSeconds: positiveInt(field(record, "timeout_seconds")) ?? positiveInt(field(record, "timeout")) ?? doc.timeout_seconds
    })
  }
}

/** A stored job as the fabricator reads it (components/targets decoded from their JSON columns). */
export interface JobDefinition {
  readonly id: number
  readonly name: string
  readonly execution_context: string | null | undefined
  readonly targets: ReadonlyArray<unknown>
  readonly components: ReadonlyArray<unknown>
}

export interface JobManifest {
  readonly jobId: number
  readonly name: string
  readonly occurrenceTs: number
  /** The agent `run_mode`: `execution_context` lower-cased, default `system`. */
  readonly executionContext: string
  /** Hostnames: strings and integers, trimmed, empty dropped, duplicates (any case) once. */
  readonly targets: ReadonlyArray<string>
  readonly components: ReadonlyArray<ComponentManifest>
  readonly skipped: ReadonlyArray<ComponentSkip>
}

/** `execution_context` → `run_mode`. */
export const runModeOf = (executionContext: unknown): string => {
  const text = typeof executionContext === "string" ? executionContext.trim().toLowerCase() : ""
  return text === "" ? "system" : text
}

export const normaliseTargets = (targets: ReadonlyArray<unknown>): ReadonlyArray<string> => {
  const seen = new Set<string>()
  const out: Array<string> = []
  for (const target of targets) {
    const text = typeof target === "string" ? target.trim() : Number.isInteger(target) ? String(target) : ""
    if (text === "" || seen.has(text.toLowerCase())) continue
    seen.add(text.toLowerCase())
    out.push(text)
  }
  return out
}

/** The manifest for one occurrence of a job. Deterministic for the same sources; deeply frozen. */
export const fabricateJob = (
  job: JobDefinition,
  occurrenceTs: number,
  sources: SourceLookup,
  options: FabricatorOptions = {}
): JobManifest => {
  const components: Array<ComponentManifest> = []
  const skipped: Array<ComponentSkip> = []
  job.components.forEach((component, index) => {
    const prepared = prepareComponent(component, index, sources, options)
    if (prepared._tag === "Ready") components.push(prepared.manifest)
    else skipped.push(prepared.skip)
  })
  return deepFreeze({
    jobId: job.id,
    name: job.name,
    occurrenceTs,
    executionContext: runModeOf(job.execution_context),
    targets: normaliseTargets(job.targets),
    components,
    skipped
  })
}
