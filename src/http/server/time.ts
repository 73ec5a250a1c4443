// The server clock as the original reports it: local ISO time with offset, UTC ISO with `Z`, the zone's
// short name, its offset, and "October 22nd 2025 @ 2:03PM". Pure, given an instant and a zone.
const pad = (n: number, w = 2) => String(Math.trunc(Math.abs(n))).padStart(w, "0")

const ordinal = (n: number): string => {
  if (n % 100 >= 11 && n % 100 <= 13) return `${n}th`
  return `${n}${({ 1: "st", 2: "nd", 3: "rd" } as Record<number, string>)[n % 10] ?? "th"}`
}

const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"]

interface ServerTimeView {
  readonly epoch: number
  readonly iso: string
  readonly utc_iso: string
  readonly timezone: string
  readonly offset_seconds: number
  readonly display: string
}

/** `timeZone` undefined means the process's zone. */
export const serverTime = (nowMs: number, timeZone?: string): ServerTimeView => {
  const zone = timeZone ?? Intl.DateTimeFormat().resolvedOptions().timeZone
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      year: "numeric", month: "numeric", day: "numeric", hour: "numeric", minute: "numeric", second: "numeric",
      timeZoneName: "short"
    }).formatToParts(new Date(nowMs)).map((p) => [p.type, p.value])
  )
  const year = Number(parts["year"])
  const month = Number(parts["month"])
  const day = Number(parts["day"])
  const hour = Number(parts["hour"])
  const minute = Number(parts["minute"])
  const second = Number(parts["second"])
  const localAsUtc = Date.UTC(year, month - 1, day, hour, minute, second)
  const offsetSeconds = Math.round((localAsUtc - Math.floor(nowMs / 1000) * 1000) / 1000)
  const micros = (((nowMs % 1000) + 1000) % 1000) * 1000
  const fraction = micros === 0 ? "" : `.${pad(micros, 6)}`
  const sign = offsetSeconds < 0 ? "-" : "+"
  const offset = `${sign}${pad(offsetSeconds / 3600)}:${pad((Math.abs(offsetSeconds) % 3600) / 60)}`
  const iso = `${year}-${pad(month)}-${pad(day)}T${pad(hour)}:${pad(minute)}:${pad(second)}${fraction}${offset}`
  const utc = new Date(nowMs)
  const utcIso = `${utc.getUTCFullYear()}-${pad(utc.getUTCMonth() + 1)}-${pad(utc.getUTCDate())}T${pad(utc.getUTCHours())}:${pad(utc.getUTCMinutes())}:${pad(utc.getUTCSeconds())}${fraction}Z`
  const hour12 = hour % 12 === 0 ? 12 : hour % 12
  return {
    epoch: Math.floor(nowMs / 1000),
    iso,
    utc_iso: utcIso,
    timezone: parts["timeZoneName"] ?? zone,
    offset_seconds: offsetSeconds,
    display: `${MONTHS[month - 1] ?? ""} ${ordinal(day)} ${year} @ ${hour12}:${pad(minute)}${hour < 12 ? "AM" : "PM"}`
  }
}
