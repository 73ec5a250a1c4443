// Python's builtins as the original applies them to decoded JSON values, so lenient request bodies
// and script variables read exactly as they always did: truthiness, `str()`, `repr()`, `int()`,
// `str(x or "")`, `dict.get`.
import * as Option from "effect/Option"
import { parsePythonInt } from "../layers/configParse.ts"

/** Python truthiness: `None`, `False`, `0`, `""`, `[]`, `{}` are false. */
export const pyTruthy = (value: unknown): boolean => {
  if (Array.isArray(value)) return value.length > 0
  if (typeof value === "object" && value !== null) return Object.keys(value).length > 0
  return value !== null && value !== undefined && value !== false && value !== 0 && value !== ""
}

const floatText = (n: number): string => {
  if (Number.isNaN(n)) return "nan"
  if (!Number.isFinite(n)) return n > 0 ? "inf" : "-inf"
  // Python writes exponents with at least two digits: 1e-07, 1e+16
  return String(n).replace(/e([+-])(\d)$/, "e$10$2")
}

const reprString = (s: string): string => {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'"
  let out = quote
  for (const ch of s) {
    const code = ch.codePointAt(0) ?? 0
    if (ch === "\\") out += "\\\\"
    else if (ch === quote) out += `\\${quote}`
    else if (ch === "\n") out += "\\n"
    else if (ch === "\r") out += "\\r"
    else if (ch === "\t") out += "\\t"
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, "0")}`
    else out += ch
  }
  return out + quote
}

/** Python `repr()` of a JSON value (how `str()` renders list and dict members). */
export const pyRepr = (value: unknown): string => {
  if (typeof value === "string") return reprString(value)
  if (Array.isArray(value)) return `[${value.map(pyRepr).join(", ")}]`
  if (typeof value === "object" && value !== null) {
    return `{${Object.entries(value).map(([k, v]) => `${reprString(k)}: ${pyRepr(v)}`).join(", ")}}`
  }
  return pyStr(value)
}

/** Python `str()` of a JSON value. */
export const pyStr = (value: unknown): string => {
  if (typeof value === "string") return value
  if (value === null || value === undefined) return "None"
  if (value === true) return "True"
  if (value === false) return "False"
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : floatText(value)
  if (typeof value === "bigint") return value.toString()
  return pyRepr(value)
}

/** `str(value or "").strip()`: the way the original reads names and paths. */
export const pyText = (value: unknown): string => (pyTruthy(value) ? pyStr(value).trim() : "")

/** Python `int(value)`, or `undefined` where it would raise (floats truncate, bools are 0/1). */
export const pyInt = (value: unknown): number | undefined => {
  if (typeof value === "boolean") return value ? 1 : 0
  if (typeof value === "number") return Number.isFinite(value) ? Math.trunc(value) : undefined
  if (typeof value === "string") return parsePythonInt(value)
  return undefined
}

/** `pyInt` as an Option. */
export const pyIntOption = (value: unknown): Option.Option<number> => Option.fromNullable(pyInt(value))

/** `str(value or "")`: falsy values give `""`; anything else is `str(value)`. */
export const pyStrOrEmpty = (value: unknown): string => (pyTruthy(value) ? pyStr(value) : "")

export type JsonRecord = Readonly<Record<string, unknown>>

export const isRecord = (value: unknown): value is JsonRecord =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** `dict.get(key)` that never reaches the prototype chain. */
export const field = (record: JsonRecord, key: string): unknown => (Object.hasOwn(record, key) ? record[key] : undefined)
