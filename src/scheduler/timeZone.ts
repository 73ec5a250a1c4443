// Wall-clock arithmetic in IANA time zones, on plain epoch seconds. Effect's `DateTime` supplies the
// zone rules (tzdata through Intl); everything else is integer arithmetic on civil dates, so a job's
// "09:00" means 09:00 in its zone whatever the server's own offset is.
// spec: realtime-jobs.md §4.4 (legacy recomposed naive datetimes as server-local time: drift; not here)
import * as DateTime from "effect/DateTime"
import * as Option from "effect/Option"

/** A civil date and time of day, as shown on a wall clock (month 1–12). */
export interface LocalDateTime {
  readonly year: number
  readonly month: number
  readonly day: number
  readonly hour: number
  readonly minute: number
}

const UTC_IDS = new Set(["UTC", "Etc/UTC", "Etc/UCT", "Etc/GMT", "Etc/Universal", "Etc/Zulu", "GMT", "UCT", "Universal", "Zulu"])

const zones = new Map<string, DateTime.TimeZone.Named | null>()

const namedZone = (input: string): DateTime.TimeZone.Named | null => {
  const cached = zones.get(input)
  if (cached !== undefined) return cached
  // Only names: fixed offsets such as "+02:00" are accepted by Intl but are not IANA zones.
  const zone = /^[A-Za-z]/.test(input) ? Option.getOrNull(DateTime.zoneMakeNamed(input)) : null
  if (zones.size > 1_000) zones.clear()
  zones.set(input, zone)
  return zone
}

/**
 * The canonical IANA id for `input` (trimmed, any case, aliases resolved: `us/eastern` →
 * `America/New_York`), or `undefined` when it names no zone this runtime knows.
 */
export const canonicalTimeZone = (input: string): string | undefined => {
  const trimmed = input.trim()
  if (trimmed === "") return undefined
  return namedZone(trimmed)?.id
}

/** The zone the server runs in (`TZ`, else the system's): the default for jobs without one. */
export const serverTimeZone = (): string => DateTime.zoneMakeLocal().id

// Offsets change only at transitions, and a scheduler asks about the same few minutes every tick:
// remember each (zone, second) answer. Bounded: a full table is simply dropped.
const offsets = new Map<string, Map<number, number>>()
const OFFSET_CACHE_LIMIT = 50_000

/** UTC offset of `zoneId` at `epochSeconds`, in seconds (east positive). `zoneId` must be valid. */
export const offsetSeconds = (zoneId: string, epochSeconds: number): number => {
  if (UTC_IDS.has(zoneId)) return 0
  let table = offsets.get(zoneId)
  if (table === undefined) {
    table = new Map()
    offsets.set(zoneId, table)
  }
  const hit = table.get(epochSeconds)
  if (hit !== undefined) return hit
  const zone = namedZone(zoneId)
  const offset = zone === null
    ? 0
    : Math.round(DateTime.zonedOffset(DateTime.unsafeMakeZoned(epochSeconds * 1000, { timeZone: zone })) / 1000)
  if (table.size >= OFFSET_CACHE_LIMIT) table.clear()
  table.set(epochSeconds, offset)
  return offset
}

const DAY = 86_400

/** Days since 1970-01-01 of a civil date (proleptic Gregorian; month may overflow, it carries). */
export const daysFromCivil = (year: number, month: number, day: number): number => {
  const date = new Date(0)
  date.setUTCFullYear(year, month - 1, day)
  return Math.floor(date.getTime() / 1000 / DAY)
}

/** Number of days in `month` (1–12) of `year`. */
export const daysInMonth = (year: number, month: number): number => {
  const date = new Date(0)
  date.setUTCFullYear(year, month, 0)
  return date.getUTCDate()
}

const fromWallSeconds = (wall: number): LocalDateTime => {
  const date = new Date(wall * 1000)
  return {
    year: date.getUTCFullYear(),
    month: date.getUTCMonth() + 1,
    day: date.getUTCDate(),
    hour: date.getUTCHours(),
    minute: date.getUTCMinutes()
  }
}

/** The wall-clock reading as plain seconds ("local time as if it were UTC"). */
export const wallSeconds = (local: LocalDateTime): number =>
  daysFromCivil(local.year, local.month, local.day) * DAY + local.hour * 3600 + local.minute * 60

/** What a wall clock in `zoneId` shows at `epochSeconds` (seconds dropped). */
export const toLocal = (zoneId: string, epochSeconds: number): LocalDateTime =>
  fromWallSeconds(epochSeconds + offsetSeconds(zoneId, epochSeconds))

const ceilMinute = (seconds: number): number => Math.ceil(seconds / 60) * 60

/**
 * The instant a wall clock in `zoneId` first reads `local` (at or after it):
 * - an ordinary time → that instant;
 * - a repeated time (autumn overlap) → the earlier of the two instants, so it happens once;
 * - a skipped time (spring gap) → the first valid minute after it, i.e. the transition itself
 *   (02:30 on a 02:00→03:00 night is 03:00).
 * Results are whole minutes.
 */
export const fromLocal = (zoneId: string, local: LocalDateTime): number => {
  const wall = wallSeconds(local)
  if (UTC_IDS.has(zoneId)) return wall
  // Offsets in force a day either side cover the transition nearest this wall time (at most one
  // per ~day in every real zone), plus the one at the naive guess itself.
  const candidates = new Set([
    offsetSeconds(zoneId, wall - DAY),
    offsetSeconds(zoneId, wall),
    offsetSeconds(zoneId, wall + DAY)
  ])
  let earliest: number | undefined
  for (const offset of candidates) {
    const instant = wall - offset
    if (offsetSeconds(zoneId, instant) === offset && (earliest === undefined || instant < earliest)) earliest = instant
  }
  if (earliest !== undefined) return ceilMinute(earliest)
  // A gap: before it the clock reads `wall − gap`, after it `wall + gap`; find the transition.
  const ordered = [...candidates].sort((a, b) => a - b)
  const largest = ordered[ordered.length - 1] ?? 0
  const smallest = ordered[0] ?? 0
  let low = wall - largest // clock still shows a time before `wall`
  let high = wall - smallest // clock already past `wall`
  const after = offsetSeconds(zoneId, high)
  while (high - low > 1) {
    const middle = Math.floor((low + high) / 2)
    if (offsetSeconds(zoneId, middle) === after) high = middle
    else low = middle
  }
  return ceilMinute(high)
}
