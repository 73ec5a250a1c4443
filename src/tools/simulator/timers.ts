// One timer for a whole process: a binary min-heap of wake-ups driven by a single re-armed
// `setTimeout`. Thousands of simulated agents each keep at most one live entry (their earliest
// deadline) instead of their own timers; a later or earlier re-schedule leaves a stale entry that is
// skipped when it surfaces (lazy cancellation).

/** Something the queue wakes. `timerAt` is owned by the queue: the time of the live entry, or Infinity. */
export interface Wakeable {
  timerAt: number
  wake(now: number): void
}

interface Entry {
  readonly at: number
  readonly target: Wakeable
}

class Sleeper implements Wakeable {
  timerAt = Infinity
  readonly resolve: () => void
  constructor(resolve: () => void) {
    this.resolve = resolve
  }
  wake(): void {
    this.resolve()
  }
}

export class TimerQueue {
  private readonly heap: Array<Entry> = []
  private timer: NodeJS.Timeout | undefined
  private armedFor = Infinity
  private stopped = false
  private readonly clock: () => number
  /** Wake-ups closer together than this share one timer firing (ms). */
  private readonly resolutionMs: number
  /** Called when a target's `wake` throws; the queue keeps running. */
  onError: (error: unknown) => void = () => {}

  constructor(clock: () => number = Date.now, resolutionMs = 5) {
    this.clock = clock
    this.resolutionMs = resolutionMs
  }

  get size(): number {
    return this.heap.length
  }

  /**
   * Wake `target` at `at` (ms epoch) unless it is already due earlier; a target holds one live wake-up,
   * so re-scheduling to an earlier time replaces the later one.
   */
  schedule(target: Wakeable, at: number): void {
    if (this.stopped) return
    if (target.timerAt <= at) return
    target.timerAt = at
    this.push({ at, target })
    if (at < this.armedFor - this.resolutionMs) this.arm()
  }

  /** Forget `target`'s pending wake-up. */
  cancel(target: Wakeable): void {
    target.timerAt = Infinity
  }

  /** A promise resolved after `ms` by the shared timer. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.schedule(new Sleeper(resolve), this.clock() + Math.max(0, ms)))
  }

  /** Drop everything and release the timer (pending sleeps never resolve). */
  stop(): void {
    this.stopped = true
    this.heap.length = 0
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    this.armedFor = Infinity
  }

  /**
   * Run every wake-up due at `now` (exposed for tests with a manual clock). A target woken up to
   * `resolutionMs` early is told the time of its deadline, so it always sees its deadline as reached
   * and moves on. One pass handles at most what was queued plus a margin, then yields to I/O, so a
   * target that keeps re-scheduling itself "now" cannot stall the process.
   */
  runDue(now = this.clock()): number {
    let ran = 0
    let budget = this.heap.length + 1024
    const limit = now + this.resolutionMs
    while (budget-- > 0) {
      const top = this.heap[0]
      if (top === undefined || top.at > limit) break
      this.pop()
      if (top.target.timerAt !== top.at) continue // superseded by a later schedule/cancel
      top.target.timerAt = Infinity
      ran++
      try {
        top.target.wake(top.at > now ? top.at : now)
      } catch (error) {
        this.onError(error)
      }
    }
    return ran
  }

  private arm(): void {
    if (this.stopped) return
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    this.armedFor = Infinity
    const top = this.heap[0]
    if (top === undefined) return
    const delay = Math.max(0, top.at - this.clock())
    this.armedFor = top.at
    this.timer = setTimeout(() => this.fire(), delay)
  }

  private fire(): void {
    this.timer = undefined
    this.armedFor = Infinity
    this.runDue()
    this.arm()
  }

  private push(entry: Entry): void {
    const heap = this.heap
    heap.push(entry)
    let i = heap.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      const p = heap[parent]
      if (p === undefined || p.at <= entry.at) break
      heap[i] = p
      i = parent
    }
    heap[i] = entry
  }

  private pop(): void {
    const heap = this.heap
    const last = heap.pop()
    if (last === undefined || heap.length === 0) return
    let i = 0
    const n = heap.length
    for (;;) {
      const l = 2 * i + 1
      if (l >= n) break
      const r = l + 1
      const left = heap[l]
      const right = heap[r]
      if (left === undefined) break
      let child = l
      let c = left
      if (right !== undefined && right.at < left.at) {
        child = r
        c = right
      }
      if (c.at >= last.at) break
      heap[i] = c
      i = child
    }
    heap[i] = last
  }
}
