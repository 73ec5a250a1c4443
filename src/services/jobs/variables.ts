// Script variables → the agent's environment map, PowerShell literals, and the `$env:` rewrite.
// spec: realtime-jobs.md §4.2 steps 5–6 (the same helpers the legacy server, scheduler and later
// Engine share, so payloads come out identical).
import { field, isRecord, type JsonRecord, pyStr, pyText, pyTruthy } from "../pyValues.ts"

const INVALID_ENV_CHARS = /[^A-Za-z0-9_]/gu

/** Environment key of a variable name: every char outside `[A-Za-z0-9_]` → `_`, upper-cased. */
export const canonicalEnvKey = (name: unknown): string => pyText(name).replace(INVALID_ENV_CHARS, "_").toUpperCase()

/** A value as an environment string: booleans `True`/`False`, null `""`, else Python `str()`. */
export const envString = (value: unknown): string => {
  if (value === true) return "True"
  if (value === false) return "False"
  if (value === null || value === undefined) return ""
  return pyStr(value)
}

const TRUTHY = new Set(["true", "1", "yes", "y", "on"])
const FALSY = new Set(["false", "0", "no", "n", "off", ""])
const NUMBER_TEXT = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/

// PowerShell ends a single-quoted string at any of these, so each is doubled (what
// CodeGeneration.EscapeSingleQuotedStringContent does); the original doubled only U+0027.
const SINGLE_QUOTES = /['\u2018\u2019\u201A\u201B]/g

/** `'text'` with every single-quote character doubled: a PowerShell verbatim string. */
export const powershellString = (text: string): string => `'${text.replace(SINGLE_QUOTES, (q) => q + q)}'`

/**
 * A variable value as PowerShell source:
 * - `boolean` → `$true`/`$false` (strings true/1/yes/y/on and false/0/no/n/off/"" case-insensitive,
 *   numbers by ≠ 0, null false, any other non-empty text true);
 * - `number` → the number as written, `0` when null or empty; text that is not a number literal
 *   becomes a quoted string (the original pasted it raw, which let a value inject code);
 * - anything else → a single-quoted string.
 */
export const powershellLiteral = (value: unknown, varType: string): string => {
  const type = (varType === "" ? "string" : varType).toLowerCase()
  if (type === "boolean") {
    let truthy: boolean
    if (typeof value === "boolean") truthy = value
    else if (value === null || value === undefined) truthy = false
    else if (typeof value === "number") truthy = value !== 0
    else {
      const text = pyStr(value).trim().toLowerCase()
      truthy = TRUTHY.has(text) ? true : FALSY.has(text) ? false : text !== ""
    }
    return truthy ? "$true" : "$false"
  }
  if (type === "number") {
    if (value === null || value === undefined || value === "") return "0"
    if (typeof value === "number") return pyStr(value)
    const text = pyStr(value)
    return NUMBER_TEXT.test(text.trim()) ? text.trim() : powershellString(text)
  }
  return powershellString(value === null || value === undefined ? "" : pyStr(value))
}

/** First present of `value`, `default`, `defaultValue`, `default_value` (null → `""`), else `""`. */
export const extractVariableDefault = (variable: JsonRecord): unknown => {
  for (const key of ["value", "default", "defaultValue", "default_value"]) {
    if (Object.hasOwn(variable, key)) return variable[key] ?? ""
  }
  return ""
}

/**
 * A component's variable overrides from `variable_values` and `variables[].value`. Scripts let
 * `variables[].value` win; Ansible lets `variable_values` win (the legacy order).
 */
const collectOverrides = (component: JsonRecord, definitionsWin: boolean): ReadonlyMap<string, unknown> => {
  const overrides = new Map<string, unknown>()
  const values = field(component, "variable_values")
  if (isRecord(values)) {
    for (const [key, value] of Object.entries(values)) {
      const name = key.trim()
      if (name !== "") overrides.set(name, value)
    }
  }
  const variables = field(component, "variables")
  if (Array.isArray(variables)) {
    for (const variable of variables) {
      if (!isRecord(variable)) continue
      const name = pyText(field(variable, "name"))
      if (name === "" || !Object.hasOwn(variable, "value")) continue
      if (definitionsWin || !overrides.has(name)) overrides.set(name, variable["value"])
    }
  }
  return overrides
}

/** Overrides for a script component: `variable_values`, then any `variables[].value` (which wins). */
export const collectScriptOverrides = (component: JsonRecord): ReadonlyMap<string, unknown> => collectOverrides(component, true)

/** Overrides for an Ansible component: as for scripts, but `variable_values` wins (legacy order). */
export const collectAnsibleOverrides = (component: JsonRecord): ReadonlyMap<string, unknown> => collectOverrides(component, false)

interface VariableContext {
  /** NAME → string, what the agent puts in the script's environment (with aliases). */
  readonly environment: Readonly<Record<string, string>>
  /** The variables as sent to the agent: definitions (with `value` when overridden) + extras. */
  readonly variables: ReadonlyArray<JsonRecord>
  /** Canonical NAME → PowerShell literal, for the `$env:` rewrite. */
  readonly literals: Readonly<Record<string, string>>
}

/**
 * Resolve variables: each definition's value is its override, else its default; overrides without
 * a definition become string variables. The environment holds every value under its canonical key
 * and, when different, under the name with invalid characters replaced (case kept).
 */
export const prepareVariableContext = (
  definitions: ReadonlyArray<unknown>,
  overrides: ReadonlyMap<string, unknown>
): VariableContext => {
  const environment = new Map<string, string>()
  const literals = new Map<string, string>()
  const variables: Array<JsonRecord> = []
  const defined = new Set<string>()

  for (const definition of definitions) {
    if (!isRecord(definition)) continue
    const name = pyText(field(definition, "name"))
    if (name === "") continue
    defined.add(name)
    const key = canonicalEnvKey(name)
    const rawType = field(definition, "type")
    const type = pyTruthy(rawType) ? pyStr(rawType).toLowerCase() : "string"
    const value = overrides.has(name) ? overrides.get(name) : extractVariableDefault(definition)
    if (key !== "") {
      environment.set(key, envString(value))
      literals.set(key, powershellLiteral(value, type))
    }
    variables.push(overrides.has(name) ? { ...definition, value: overrides.get(name) } : definition)
  }

  for (const [name, value] of overrides) {
    if (defined.has(name)) continue
    const key = canonicalEnvKey(name)
    if (key !== "") {
      environment.set(key, envString(value))
      literals.set(key, powershellLiteral(value, "string"))
    }
    variables.push({ name, value, type: "string" })
  }

  // Aliases: the name with invalid characters replaced but its case kept. (The original also
  // tried the raw name when it is an identifier, but then it equals this alias.)
  for (const variable of variables) {
    const name = pyText(field(variable, "name"))
    const key = canonicalEnvKey(name)
    const value = environment.get(key)
    if (name === "" || value === undefined) continue
    const alias = name.replace(INVALID_ENV_CHARS, "_")
    if (alias !== "" && !environment.has(alias)) environment.set(alias, value)
  }

  return {
    environment: Object.fromEntries(environment),
    variables,
    literals: Object.fromEntries(literals)
  }
}

const ENV_REFERENCE = /\$env:(?:\{([A-Za-z0-9_-]+)\}|([A-Za-z0-9_-]+))/gi

/**
 * Replace every `$env:NAME` / `$env:{NAME}` (any case) whose canonical key has a literal by that
 * literal; other references stay as written.
 */
export const rewritePowershellScript = (content: string, literals: Readonly<Record<string, string>>): string => {
  if (content === "" || Object.keys(literals).length === 0) return content
  return content.replace(ENV_REFERENCE, (match: string, braced: string | undefined, bare: string | undefined) => {
    const key = canonicalEnvKey(braced ?? bare ?? "")
    return key !== "" && Object.hasOwn(literals, key) ? (literals[key] ?? match) : match
  })
}
