// Python's builtins as the original applies them to JSON request values, so lenient bodies give the
// same answers: `str(x or "")`, `int(x)`, `bool(x)`.
import * as Option from "effect/Option"
import { parsePythonInt } from "../layers/configParse.ts"

/** Python truthiness of a decoded JSON value (`[]`, `{}`, `""`, `0`, `false`, `null` are false). */
export const pyTruthy = (value: unknown): boolean => {
  if (Array.isArray(value)) return value.length > 0
  if (typeof value === "object" && value !== null) return Object.keys(value).length > 0
  return Boolean(value)
}

/** `str(value or "")`: falsy values give `""`; strings are kept; other values are rendered. */
export const pyStr = (value: unknown): string => {
  if (!pyTruthy(value)) return ""
  if (typeof value === "string") return value
  if (value === true) return "True"
  if (typeof value === "number") return String(value)
  return JSON.stringify(value) ?? ""
}

/** `int(value)`: integers and integral strings (sign, spaces); floats truncate; booleans are 0/1. */
export const pyInt = (value: unknown): Option.Option<number> => {
  if (typeof value === "boolean") return Option.some(value ? 1 : 0)
  if (typeof value === "number") return Number.isFinite(value) ? Option.some(Math.trunc(value)) : Option.none()
  if (typeof value === "string") return Option.fromNullable(parsePythonInt(value))
  return Option.none()
}
