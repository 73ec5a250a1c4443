// A mergeable latency histogram: logarithmic buckets of ~2% width from 10 µs to ~17 minutes, so
// worker processes ship small sparse deltas and the parent computes fleet-wide p50/p99 exactly as if
// it had every sample (within one bucket's width). Values are milliseconds.

const MIN_MS = 0.01
const GROWTH = 1.02
const LOG_GROWTH = Math.log(GROWTH)
export const BUCKETS = 1_000 // MIN_MS * GROWTH^999 ≈ 4e6 ms

/** Bucket index of a value (0 holds everything ≤ MIN_MS, the last everything beyond the range). */
export const bucketOf = (ms: number): number => {
  if (!(ms > MIN_MS)) return 0
  const i = Math.ceil(Math.log(ms / MIN_MS) / LOG_GROWTH)
  return i >= BUCKETS ? BUCKETS - 1 : i
}

/** Upper bound of a bucket (ms): a reported quantile is never below the true one by more than ~2%. */
export const bucketUpper = (i: number): number => MIN_MS * Math.pow(GROWTH, i)

/** Sparse wire form: `[bucket, count]` pairs plus exact count/sum/min/max. */
export interface HistogramData {
  readonly buckets: ReadonlyArray<readonly [number, number]>
  readonly count: number
  readonly sum: number
  readonly min: number
  readonly max: number
}

export interface Summary {
  readonly count: number
  readonly mean: number | null
  readonly min: number | null
  readonly p50: number | null
  readonly p90: number | null
  readonly p99: number | null
  readonly max: number | null
}

const round3 = (n: number) => Math.round(n * 1000) / 1000

export class Histogram {
  private counts: Map<number, number> = new Map()
  count = 0
  sum = 0
  min = Infinity
  max = -Infinity

  record(ms: number): void {
    if (!Number.isFinite(ms)) return
    const v = ms < 0 ? 0 : ms
    const b = bucketOf(v)
    this.counts.set(b, (this.counts.get(b) ?? 0) + 1)
    this.count++
    this.sum += v
    if (v < this.min) this.min = v
    if (v > this.max) this.max = v
  }

  merge(data: HistogramData): void {
    if (data.count === 0) return
    for (const [b, n] of data.buckets) this.counts.set(b, (this.counts.get(b) ?? 0) + n)
    this.count += data.count
    this.sum += data.sum
    if (data.min < this.min) this.min = data.min
    if (data.max > this.max) this.max = data.max
  }

  /** The q-quantile (0..1), clamped to the exact min/max; null when empty. */
  quantile(q: number): number | null {
    if (this.count === 0) return null
    const rank = Math.max(1, Math.ceil(q * this.count))
    const keys = [...this.counts.keys()].sort((a, b) => a - b)
    let seen = 0
    for (const k of keys) {
      seen += this.counts.get(k) ?? 0
      if (seen >= rank) return Math.min(this.max, Math.max(this.min, bucketUpper(k)))
    }
    return this.max
  }

  data(): HistogramData {
    return {
      buckets: [...this.counts.entries()],
      count: this.count,
      sum: this.sum,
      min: this.count === 0 ? 0 : this.min,
      max: this.count === 0 ? 0 : this.max
    }
  }

  /** Take the contents and start empty (worker deltas). */
  drain(): HistogramData {
    const d = this.data()
    this.counts = new Map()
    this.count = 0
    this.sum = 0
    this.min = Infinity
    this.max = -Infinity
    return d
  }

  summary(): Summary {
    const q = (p: number) => {
      const v = this.quantile(p)
      return v === null ? null : round3(v)
    }
    return {
      count: this.count,
      mean: this.count === 0 ? null : round3(this.sum / this.count),
      min: this.count === 0 ? null : round3(this.min),
      p50: q(0.5),
      p90: q(0.9),
      p99: q(0.99),
      max: this.count === 0 ? null : round3(this.max)
    }
  }
}
