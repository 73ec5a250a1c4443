// An assembly file as the dispatcher reads it: a JSON document (script from script_lines | script |
// content, variables, files, timeout_seconds default 3600) or a plain script file.
// spec: realtime-jobs.md §4.6; the legacy scheduler's `_load_assembly_document`
import { field, isRecord, type JsonRecord, pyInt, pyStr, pyText, pyTruthy } from "../pyValues.ts"
import { decodeBase64Text, decodeScriptContent, isBase64Hint, toLf } from "./scriptText.ts"

export const ASSEMBLY_TYPES = ["powershell", "batch", "bash", "ansible"] as const
const VARIABLE_TYPES = ["string", "number", "boolean", "credential"] as const

export interface AssemblyVariable {
  readonly name: string
  readonly label: string
  readonly type: string
  readonly default: unknown
  readonly required: boolean
  readonly description: string
}

export interface AssemblyFile {
  readonly file_name: string
  readonly size: number
  readonly mime_type: string
  readonly data: string
}

interface DispatchDocument {
  readonly name: string
  readonly description: string
  readonly category: string
  /** powershell | batch | bash | ansible */
  readonly type: string
  /** Decoded script text, LF line endings. */
  readonly script: string
  /** How the stored script was written (`base64` | `plain`); absent for plain script files. */
  readonly script_encoding?: "base64" | "plain"
  readonly variables: ReadonlyArray<AssemblyVariable>
  readonly files: ReadonlyArray<AssemblyFile>
  readonly timeout_seconds: number
}

/** `Scripts/a/b.json` → `b.json`; `b.json` → `b`. */
export const baseName = (p: string): string => p.slice(p.lastIndexOf("/") + 1)
export const stem = (fileName: string): string => {
  const dot = fileName.lastIndexOf(".")
  return dot > 0 ? fileName.slice(0, dot) : fileName
}

const extension = (fileName: string): string => {
  const dot = fileName.lastIndexOf(".")
  return dot > 0 ? fileName.slice(dot).toLowerCase() : ""
}

/** Script type of a plain (non-JSON) script file by its extension. */
export const typeFromExtension = (fileName: string): string | undefined => {
  switch (extension(fileName)) {
    case ".ps1":
      return "powershell"
    case ".bat":
      return "batch"
    case ".sh":
      return "bash"
    case ".yml":
    case ".yaml":
      return "ansible"
    default:
      return undefined
  }
}

const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/** `variables[]` entries: name from `name|key`, type limited to the four known types. */
export const normaliseVariables = (value: unknown): ReadonlyArray<AssemblyVariable> => {
  if (!Array.isArray(value)) return []
  const out: Array<AssemblyVariable> = []
  for (const entry of value) {
    if (!isRecord(entry)) continue
    const name = pyText(pyTruthy(field(entry, "name")) ? field(entry, "name") : field(entry, "key"))
    if (name === "") continue
    const rawType = field(entry, "type")
    const type = (pyTruthy(rawType) ? pyStr(rawType) : "string").trim().toLowerCase()
    out.push({
      name,
      label: pyTruthy(field(entry, "label")) ? pyStr(field(entry, "label")) : "",
      type: (VARIABLE_TYPES as ReadonlyArray<string>).includes(type) ? type : "string",
      default: Object.hasOwn(entry, "default") ? entry["default"] : (field(entry, "default_value") ?? null),
      required: pyTruthy(field(entry, "required")),
      description: pyTruthy(field(entry, "description")) ? pyStr(field(entry, "description")) : ""
    })
  }
  return out
}

/** `files[]` entries with a name (`file_name|name`) and string `data`. */
export const normaliseFiles = (value: unknown): ReadonlyArray<AssemblyFile> => {
  if (!Array.isArray(value)) return []
  const out: Array<AssemblyFile> = []
  for (const entry of value) {
    if (!isRecord(entry)) continue
    const name = pyTruthy(field(entry, "file_name")) ? field(entry, "file_name") : field(entry, "name")
    const data = field(entry, "data")
    if (!pyTruthy(name) || typeof data !== "string") continue
    const size = field(entry, "size")
    const mime = pyTruthy(field(entry, "mime_type")) ? field(entry, "mime_type") : field(entry, "mimeType")
    out.push({
      file_name: pyStr(name),
      size: pyInt(pyTruthy(size) ? size : 0) ?? 0,
      mime_type: pyTruthy(mime) ? pyStr(mime) : "",
      data
    })
  }
  return out
}

/** The script a JSON document carries and how it was stored. */
export const documentScript = (data: JsonRecord): { readonly script: string; readonly encoding: "base64" | "plain" } => {
  const scriptValue = field(data, "script")
  const contentValue = field(data, "content")
  const lines = field(data, "script_lines")
  let raw = ""
  if (Array.isArray(lines)) raw = lines.map((line) => pyStr(line)).join("\n")
  else if (typeof scriptValue === "string") raw = scriptValue
  else if (typeof contentValue === "string") raw = contentValue
  const hint = pyTruthy(field(data, "script_encoding")) ? field(data, "script_encoding") : field(data, "scriptEncoding")
  const script = decodeScriptContent(raw)
  if (isBase64Hint(hint)) return { script, encoding: "base64" }
  // The original probes `script`, else `content`, even when `script_lines` supplied the text.
  const probe = typeof scriptValue === "string" && scriptValue !== ""
    ? scriptValue
    : typeof contentValue === "string" && contentValue !== ""
    ? contentValue
    : ""
  const decoded = probe === "" ? undefined : decodeBase64Text(probe)
  return decoded === undefined ? { script, encoding: "plain" } : { script: toLf(decoded), encoding: "base64" }
}

/** `timeout_seconds` (or `timeout`): a non-negative integer, 3600 when absent or unreadable. */
export const documentTimeout = (data: JsonRecord): number => {
  const raw = Object.hasOwn(data, "timeout_seconds") ? data["timeout_seconds"] : field(data, "timeout")
  if (raw === null || raw === undefined) return 3600
  const value = pyInt(raw)
  return value === undefined ? 3600 : Math.max(0, value)
}

/**
 * Read an assembly file for dispatch. `fileName` decides the format: `.json` documents are parsed
 * (an unreadable or non-object document gives the defaults), other files are the script itself,
 * typed by extension. `defaultType` applies when neither says otherwise.
 */
export const loadDispatchDocument = (fileName: string, text: string, defaultType: string): DispatchDocument => {
  const base = stem(fileName)
  const fileType = extension(fileName) === ".json" ? undefined : typeFromExtension(fileName)
  const type0 = fileType ?? defaultType
  const defaults: DispatchDocument = {
    name: base,
    description: "",
    category: type0 === "ansible" ? "application" : "script",
    type: type0,
    script: "",
    variables: [],
    files: [],
    timeout_seconds: 3600
  }
  if (extension(fileName) !== ".json") return { ...defaults, script: toLf(text) }
  const data = parseJson(text)
  if (!isRecord(data)) return defaults
  const category = (pyTruthy(field(data, "category")) ? pyStr(field(data, "category")) : defaults.category).trim().toLowerCase()
  const rawType = pyTruthy(field(data, "type"))
    ? field(data, "type")
    : pyTruthy(field(data, "script_type"))
    ? field(data, "script_type")
    : defaultType
  const type = pyStr(rawType).trim().toLowerCase()
  const { encoding, script } = documentScript(data)
  return {
    name: pyTruthy(field(data, "name")) ? pyStr(field(data, "name")) : base,
    description: pyTruthy(field(data, "description")) ? pyStr(field(data, "description")) : "",
    category: category === "application" || category === "script" ? category : defaults.category,
    type: (ASSEMBLY_TYPES as ReadonlyArray<string>).includes(type) ? type : defaults.type,
    script,
    script_encoding: encoding,
    variables: normaliseVariables(field(data, "variables")),
    files: normaliseFiles(field(data, "files")),
    timeout_seconds: documentTimeout(data)
  }
}
