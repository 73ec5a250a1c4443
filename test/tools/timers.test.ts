import { describe, expect, it } from "@effect/vitest"
import { TimerQueue, type Wakeable } from "../../src/tools/simulator/timers.ts"

class Target implements Wakeable {
  timerAt = Infinity
  readonly woke: Array<number> = []
  readonly name: string
  readonly log: Array<string>
  constructor(name: string, log: Array<string>) {
    this.name = name
    this.log = log
  }
  wake(now: number): void {
    this.woke.push(now)
    this.log.push(this.name)
  }
}

describe("TimerQueue (manual clock)", () => {
  it("wakes targets in deadline order, once each, keeping only the earliest schedule", () => {
    let now = 1_000
    const q = new TimerQueue(() => now, 0)
    const log: Array<string> = []
    const targets = Array.from({ length: 200 }, (_, i) => new Target(`t${i}`, log))
    // Deterministic shuffle of deadlines.
    targets.forEach((t, i) => q.schedule(t, 1_000 + ((i * 7919) % 200) * 10))
    const a = targets[0]!
    q.schedule(a, 5_000) // later than its live entry: ignored
    q.schedule(a, 999) // earlier: replaces it
    now = 10_000
    q.runDue()
    expect(log).toHaveLength(200)
    expect(log[0]).toBe("t0")
    const order = log.map((n) => targets.findIndex((t) => t.name === n))
    const deadlines = order.map((i) => (i === 0 ? 999 : 1_000 + ((i * 7919) % 200) * 10))
    expect(deadlines).toEqual([...deadlines].sort((x, y) => x - y))
    expect(a.woke).toHaveLength(1)
    expect(q.runDue()).toBe(0)
  })

  it("skips cancelled and superseded entries and survives a throwing target", () => {
    let now = 0
    const q = new TimerQueue(() => now, 0)
    const errors: Array<unknown> = []
    q.onError = (e) => errors.push(e)
    const log: Array<string> = []
    const a = new Target("a", log)
    const b = new Target("b", log)
    const boom: Wakeable = { timerAt: Infinity, wake: () => { throw new Error("boom") } }
    q.schedule(a, 10)
    q.schedule(b, 20)
    q.schedule(boom, 15)
    q.cancel(a)
    now = 30
    expect(q.runDue()).toBe(2)
    expect(log).toEqual(["b"])
    expect(errors).toHaveLength(1)
    // A woken target may schedule itself again.
    q.schedule(a, 40)
    now = 40
    q.runDue()
    expect(log).toEqual(["b", "a"])
  })

  it("drives wake-ups from one real timer and resolves sleeps", async () => {
    const q = new TimerQueue()
    const log: Array<string> = []
    const t = new Target("real", log)
    q.schedule(t, Date.now() + 20)
    await q.sleep(60)
    expect(log).toEqual(["real"])
    q.stop()
    expect(q.size).toBe(0)
  })
})
