import { describe, expect, it } from "@effect/vitest"
import { bucketOf, bucketUpper, Histogram } from "../../src/tools/simulator/histogram.ts"

describe("Histogram", () => {
  it("reports quantiles within one bucket (~2 %) of the exact ones", () => {
    const h = new Histogram()
    const values = Array.from({ length: 10_000 }, (_, i) => 0.5 + (i % 1000) * 0.37)
    for (const v of values) h.record(v)
    const sorted = [...values].sort((a, b) => a - b)
    for (const q of [0.5, 0.9, 0.99]) {
      const exact = sorted[Math.ceil(q * sorted.length) - 1]!
      const got = h.quantile(q)!
      expect(got).toBeGreaterThanOrEqual(exact * 0.999)
      expect(got).toBeLessThanOrEqual(exact * 1.021)
    }
    expect(h.summary()).toMatchObject({ count: 10_000, min: 0.5 })
  })

  it("merges sparse deltas into the same result as recording everything in one place", () => {
    const whole = new Histogram()
    const parts = [new Histogram(), new Histogram(), new Histogram()]
    for (let i = 0; i < 3000; i++) {
      const v = (i * 17) % 523 + 0.01 * i
      whole.record(v)
      parts[i % 3]!.record(v)
    }
    const merged = new Histogram()
    for (const p of parts) merged.merge(JSON.parse(JSON.stringify(p.drain())))
    expect(merged.summary()).toEqual(whole.summary())
    expect(parts[0]!.count).toBe(0)
  })

  it("has monotone buckets and handles edges", () => {
    expect(bucketOf(0)).toBe(0)
    expect(bucketOf(-5)).toBe(0)
    expect(bucketOf(1e12)).toBe(999)
    for (const v of [0.02, 1, 3.3, 250, 59_000]) expect(bucketUpper(bucketOf(v))).toBeGreaterThanOrEqual(v * 0.9999)
    expect(new Histogram().quantile(0.5)).toBeNull()
  })
})
