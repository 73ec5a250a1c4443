// The latest screenshot per agent (and per agent + node), bounded by entry count and total bytes with
// least-recently-used eviction — the original's dictionaries grew without bound. spec: realtime-jobs.md §3.4
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { EngineConfig } from "../../layers/Config.ts"

export interface Screenshot {
  readonly agent_id: string
  readonly node_id: string | null
  readonly image_base64: string
  readonly timestamp: number
}

export interface ScreenshotLimits {
  readonly maxEntries: number
  readonly maxBytes: number
}

/** A Map keeps insertion order: re-inserting on use makes its first key the least recently used. */
export const makeScreenshotStore = (limits: ScreenshotLimits) => {
  const entries = new Map<string, Screenshot>()
  let bytes = 0
  const keyOf = (agentId: string, nodeId: string | null) => (nodeId === null ? agentId : `${agentId}:${nodeId}`)
  const drop = (key: string) => {
    const old = entries.get(key)
    if (old !== undefined) {
      bytes -= old.image_base64.length
      entries.delete(key)
    }
  }
  return {
    put: (shot: Screenshot): void => {
      const key = keyOf(shot.agent_id, shot.node_id)
      drop(key)
      if (shot.image_base64.length > limits.maxBytes) return
      entries.set(key, shot)
      bytes += shot.image_base64.length
      while (entries.size > limits.maxEntries || bytes > limits.maxBytes) {
        const oldest = entries.keys().next()
        if (oldest.done === true) break
        drop(oldest.value)
      }
    },
    /** The agent's frame (or a node's), refreshing its recency. */
    get: (agentId: string, nodeId: string | null): Screenshot | undefined => {
      const key = keyOf(agentId, nodeId)
      const shot = entries.get(key)
      if (shot !== undefined) {
        entries.delete(key)
        entries.set(key, shot)
      }
      return shot
    },
    /** The newest frame of an agent, whichever node it came from. */
    latest: (agentId: string): Screenshot | undefined => {
      let best: Screenshot | undefined
      for (const shot of entries.values()) if (shot.agent_id === agentId && (best === undefined || shot.timestamp >= best.timestamp)) best = shot
      return best
    },
    stats: () => ({ entries: entries.size, bytes })
  }
}

export class ScreenshotCache extends Effect.Service<ScreenshotCache>()("borealis/ScreenshotCache", {
  effect: Effect.gen(function*() {
    const config = yield* EngineConfig
    const store = makeScreenshotStore(config.screenshots)
    return {
      put: (agentId: string, nodeId: string | null, imageBase64: string) =>
        Effect.map(Clock.currentTimeMillis, (now) => store.put({ agent_id: agentId, node_id: nodeId, image_base64: imageBase64, timestamp: now / 1000 })),
      get: (agentId: string, nodeId: Option.Option<string>) =>
        Effect.sync(() => Option.fromNullable(Option.isSome(nodeId) ? store.get(agentId, nodeId.value) : store.get(agentId, null) ?? store.latest(agentId))),
      stats: Effect.sync(store.stats)
    } as const
  })
}) {}
