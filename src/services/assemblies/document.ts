// Assembly documents as the library stores and serves them: the editor's content normalised into
// the canonical JSON document (script stored base64), and any library file read back as one.
// The first-generation Engine's assembly service, restated. Pure.
import {
  ASSEMBLY_TYPES,
  type AssemblyFile,
  type AssemblyVariable,
  documentScript,
  documentTimeout,
  normaliseFiles,
  normaliseVariables,
  stem,
  typeFromExtension
} from "./dispatchDocument.ts"
import { field, isRecord, type JsonRecord, pyInt, pyStr, pyTruthy } from "../pyValues.ts"
import { encodeScriptContent, toLf } from "./scriptText.ts"

interface AssemblySites {
  readonly mode: "all" | "specific"
  readonly values: ReadonlyArray<string>
}

/** The canonical document (script decoded); key order is the stored file's. */
interface AssemblyDocument {
  readonly version: number
  readonly name: string
  readonly description: string
  readonly category: string
  readonly type: string
  readonly script: string
  readonly timeout_seconds: number
  readonly sites: AssemblySites
  readonly variables: ReadonlyArray<AssemblyVariable>
  readonly files: ReadonlyArray<AssemblyFile>
  /** How the source stored its script; absent for a plain script file. */
  readonly script_encoding?: "base64" | "plain"
}

const isAssemblyType = (value: string): boolean => (ASSEMBLY_TYPES as ReadonlyArray<string>).includes(value)

const emptyDocument = (defaultType: string): AssemblyDocument => ({
  version: 1,
  name: "",
  description: "",
  category: defaultType.toLowerCase() === "ansible" ? "application" : "script",
  type: defaultType === "" ? "powershell" : defaultType,
  script: "",
  timeout_seconds: 3600,
  sites: { mode: "all", values: [] },
  variables: [],
  files: []
})

const normaliseSites = (value: unknown): AssemblySites => {
  const sites = isRecord(value) ? value : {}
  const rawValues = field(sites, "values")
  const values = Array.isArray(rawValues) ? rawValues : []
  const rawMode = field(sites, "mode")
  const mode = (pyTruthy(rawMode) ? pyStr(rawMode) : values.length > 0 ? "specific" : "all").trim().toLowerCase()
  return {
    mode: mode === "specific" ? "specific" : "all",
    values: values
      .filter((v) => typeof v === "string" || typeof v === "number" || typeof v === "boolean")
      .map((v) => pyStr(v).trim())
      .filter((v) => v !== "")
  }
}

/**
 * Editor content → the canonical document. `defaultType` comes from the island (ansible) or the
 * request's `type`; the name falls back to `display_name`, then the file's stem.
 */
export const normaliseAssemblyDocument = (content: unknown, defaultType: string, baseName: string): AssemblyDocument => {
  const doc = emptyDocument(defaultType)
  const obj: JsonRecord = isRecord(content) ? content : {}
  const base = baseName.trim() === "" ? "assembly" : baseName.trim()
  const name = pyTruthy(field(obj, "name")) ? field(obj, "name") : pyTruthy(field(obj, "display_name")) ? field(obj, "display_name") : base
  const category = (pyTruthy(field(obj, "category")) ? pyStr(field(obj, "category")) : doc.category).trim().toLowerCase()
  const rawType = pyTruthy(field(obj, "type"))
    ? field(obj, "type")
    : pyTruthy(field(obj, "script_type"))
    ? field(obj, "script_type")
    : doc.type
  const type = pyStr(rawType).trim().toLowerCase()
  const { encoding, script } = documentScript(obj)
  const version = pyInt(pyTruthy(field(obj, "version")) ? field(obj, "version") : doc.version)
  return {
    version: version ?? doc.version,
    name: pyStr(name),
    description: pyTruthy(field(obj, "description")) ? pyStr(field(obj, "description")) : "",
    category: category === "script" || category === "application" ? category : doc.category,
    type: isAssemblyType(type) ? type : doc.type,
    script,
    timeout_seconds: documentTimeout(obj),
    sites: normaliseSites(field(obj, "sites")),
    variables: normaliseVariables(field(obj, "variables")),
    files: normaliseFiles(field(obj, "files")),
    script_encoding: encoding
  }
}

/** The document as written to disk: the script base64-encoded (LF first), `script_encoding: "base64"`. */
export const storedDocument = (doc: AssemblyDocument): JsonRecord => ({
  ...doc,
  script: encodeScriptContent(doc.script),
  script_encoding: "base64"
})

/** JSON text the way the original wrote it (`json.dumps(..., indent=2)`, no trailing newline). */
export const documentJson = (value: unknown): string => JSON.stringify(value, null, 2)

/** Lenient JSON: the parsed value, or `undefined`. */
export const parseJsonText = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/** Editor content may arrive as an object or as its JSON text. */
export const contentObject = (content: unknown): JsonRecord | undefined => {
  const value = typeof content === "string" ? parseJsonText(content) : content
  return isRecord(value) ? value : undefined
}

/** Script type of a library file (for listings): a JSON document's own type, else its extension. */
export const detectScriptType = (fileName: string, text: string | undefined): string => {
  if (fileName.toLowerCase().endsWith(".json")) {
    const data = text === undefined ? undefined : parseJsonText(text)
    if (isRecord(data)) {
      const raw = pyTruthy(field(data, "type")) ? field(data, "type") : field(data, "script_type")
      const type = pyTruthy(raw) ? pyStr(raw).trim().toLowerCase() : ""
      if (isAssemblyType(type)) return type
    }
    return "powershell"
  }
  return typeFromExtension(fileName) ?? "unknown"
}

/**
 * Any library file as a document: `.json` files are normalised, other files are the script itself
 * (CRLF → LF) with the file's stem as name. `defaultType` as in {@link normaliseAssemblyDocument}.
 */
export const readAssemblyDocument = (fileName: string, text: string, defaultType: string): AssemblyDocument => {
  const base = stem(fileName)
  if (fileName.toLowerCase().endsWith(".json")) return normaliseAssemblyDocument(parseJsonText(text) ?? {}, defaultType, base)
  const doc = emptyDocument(defaultType)
  return { ...doc, name: base, script: toLf(text), category: defaultType === "ansible" ? "application" : doc.category }
}

/** A workflow's tab name: the first non-blank of `tabName`, `tab_name`, `name`, `title`. */
export const workflowTabName = (value: unknown): string => {
  if (!isRecord(value)) return ""
  for (const key of ["tabName", "tab_name", "name", "title"]) {
    const v = field(value, key)
    if (typeof v === "string" && v.trim() !== "") return v.trim()
  }
  return ""
}
