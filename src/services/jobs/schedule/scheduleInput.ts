// Schedule values as the UI and old clients send them: `schedule.start` (ISO-8601 or epoch) and
// `duration.expiration` (`no_expire` | `<n>m|h|d`). spec: realtime-jobs.md §4.1
import { daysFromCivil, daysInMonth, fromLocal } from "./timeZone.ts"

const ISO =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2})(?::(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?)?\s*(?:([Zz])|([+-])(\d{2})(?::?(\d{2})(?::?(\d{2})(?:\.\d+)?)?)?)?$/

const int = (text: string | undefined): number => (text === undefined ? 0 : Number.parseInt(text, 10))

/**
 * An ISO-8601 date-time (what Python's `datetime.fromisoformat` accepts in its extended form:
 * `YYYY-MM-DD[THH[:MM[:SS[.fff]]]][Z|±HH[:MM[:SS]]]`) to epoch seconds, truncated. A time without
 * an offset is wall-clock time in `timeZone` (the legacy server used its own local zone).
 */
export const parseIsoTimestamp = (text: string, timeZone: string): number | null => {
  const m = ISO.exec(text.trim())
  if (m === null) return null
  const [year, month, day, hour, minute, second] = [int(m[1]), int(m[2]), int(m[3]), int(m[4]), int(m[5]), int(m[6])]
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null
  if (hour > 23 || minute > 59 || second > 59) return null
  const wall = daysFromCivil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second
  if (m[8] !== undefined) return wall
  if (m[9] !== undefined) {
    const [oh, om, os] = [int(m[10]), int(m[11]), int(m[12])]
    if (oh > 23 || om > 59 || os > 59) return null
    const offset = (oh * 3600 + om * 60 + os) * (m[9] === "-" ? -1 : 1)
    return wall - offset
  }
  return fromLocal(timeZone, { year, month, day, hour, minute }) + second
}

/**
 * `schedule.start` → epoch seconds (legacy `_parse_ts`): a number is taken as seconds (truncated),
 * a string as ISO-8601 (`Z` allowed); anything else, or an unparsable string, is `null`.
 */
export const parseStartTs = (value: unknown, timeZone: string): number | null => {
  if (typeof value === "number") return Number.isFinite(value) ? Math.trunc(value) : null
  if (typeof value === "string") return parseIsoTimestamp(value, timeZone)
  return null
}

const UNIT_SECONDS: Readonly<Record<string, number>> = { m: 60, h: 3600, d: 86_400 }

/**
 * `expiration` → seconds (legacy `_parse_expiration`): `30m`, `1h`, `2d`; a bare number means
 * minutes; `no_expire`, empty or anything unparsable means no expiry (`null`). Zero or negative
 * windows are no expiry too (the legacy code would have expired everything at once).
 */
export const parseExpiration = (value: unknown): number | null => {
  if (typeof value !== "string" || value === "" || value === "no_expire") return null
  const text = value.trim().toLowerCase()
  const unit = UNIT_SECONDS[text.slice(-1)]
  const body = unit === undefined ? text : text.slice(0, -1).trim()
  if (!/^[+-]?\d+$/.test(body)) return null
  const seconds = Number.parseInt(body, 10) * (unit ?? 60)
  return seconds > 0 ? seconds : null
}
