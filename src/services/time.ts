// Timestamps: ISO-8601 TEXT columns (UTC) and epoch-second INTEGER columns, as the schema mixes them.
// spec: config-bootstrap-tests.md §4.3 ("the domain code parses ISO strings with fromisoformat and
// treats naive values as UTC")

/** ISO-8601 UTC with a `Z` offset (Python's `fromisoformat` reads it). */
export const isoUtc = (epochMs: number): string => new Date(epochMs).toISOString()

/**
 * Parse what the original (`datetime.isoformat()`, microseconds, `+00:00`) or this server wrote; a
 * value without an offset is UTC. Undefined when unparseable.
 */
export const parseIsoUtc = (value: unknown): number | undefined => {
  if (typeof value !== "string" || value.trim() === "") return undefined
  let v = value.trim().replace(" ", "T")
  if (!/(Z|[+-]\d\d:?\d\d)$/i.test(v)) v += "Z"
  // JavaScript keeps milliseconds only.
  v = v.replace(/(\.\d{3})\d+/, "$1")
  const ms = Date.parse(v)
  return Number.isFinite(ms) ? ms : undefined
}

/** One day in milliseconds (retention windows and token lifetimes). */
export const DAY_MS = 86_400_000

export const epochSeconds = (epochMs: number): number => Math.floor(epochMs / 1000)
