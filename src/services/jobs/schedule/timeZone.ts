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

const DAY = 86_400

// A zone's offset changes only at its transitions, a handful per year: learn them once per
// (zone, UTC year) and answer every lookup from that table, so the cost of a scheduler tick does not
// grow with the number of jobs. The offset is sampled daily and each change bisected to the
// second; several changes within one day are all found (a change back to the same offset within a
// day would be missed, and no tzdata zone has one).
interface YearRules {
  readonly startOffset: number
  /** [instant, offset from then on], ascending. */
  readonly changes: ReadonlyArray<readonly [number, number]>
}

const rules = new Map<string, Map<number, YearRules>>()
const RULES_LIMIT = 4_096

const intlOffset = (zone: DateTime.TimeZone.Named, epochSeconds: number): number =>
  Math.round(DateTime.zonedOffset(DateTime.unsafeMakeZoned(epochSeconds * 1000, { timeZone: zone })) / 1000)

const learnYear = (zone: DateTime.TimeZone.Named, year: number): YearRules => {
  const start = daysFromCivil(year, 1, 1) * DAY
  const end = daysFromCivil(year + 1, 1, 1) * DAY
  const changes: Array<readonly [number, number]> = []
  const startOffset = intlOffset(zone, start)
  let from = start
  let fromOffset = startOffset
  while (from < end) {
    const to = Math.min(from + DAY, end)
    const toOffset = intlOffset(zone, to)
    let low = from
    let lowOffset = fromOffset
    while (lowOffset !== toOffset) {
      // the first second after `low` whose offset differs from `lowOffset`
      let a = low
      let b = to
      while (b - a > 1) {
        const middle = Math.floor((a + b) / 2)
        if (intlOffset(zone, middle) === lowOffset) a = middle
        else b = middle
      }
      lowOffset = b === to ? toOffset : intlOffset(zone, b)
      if (b < end) changes.push([b, lowOffset])
      low = b
    }
    from = to
    fromOffset = toOffset
  }
  return { startOffset, changes }
}

const yearRules = (zoneId: string, year: number): YearRules => {
  let byYear = rules.get(zoneId)
  if (byYear === undefined) {
    if (rules.size >= RULES_LIMIT) rules.clear()
    byYear = new Map()
    rules.set(zoneId, byYear)
  }
  const known = byYear.get(year)
  if (known !== undefined) return known
  const zone = namedZone(zoneId)
  const learned = zone === null ? { startOffset: 0, changes: [] } : learnYear(zone, year)
  if (byYear.size >= RULES_LIMIT) byYear.clear()
  byYear.set(year, learned)
  return learned
}

/** UTC offset of `zoneId` at `epochSeconds`, in seconds (east positive). `zoneId` must be valid. */
export const offsetSeconds = (zoneId: string, epochSeconds: number): number => {
  if (UTC_IDS.has(zoneId)) return 0
  const t = Math.floor(epochSeconds)
  const { changes, startOffset } = yearRules(zoneId, new Date(t * 1000).getUTCFullYear())
  let offset = startOffset
  for (const [at, after] of changes) {
    if (at > t) break
    offset = after
  }
  return offset
}


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
const wallSeconds = (local: LocalDateTime): number =>
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
