// The agent-facing capabilities and what they share: access tokens, DPoP, device rows, write-behind,
// the agent registry actor and realtime delivery.
import * as Layer from "effect/Layer"
import { DeviceAuth } from "../deviceAuth/DeviceAuth.ts"
import { DeviceRecords } from "../devices/DeviceRecords.ts"
import { Enrollment } from "../enrollment/Enrollment.ts"
import { DeviceWriteBehind } from "../presence/DeviceWriteBehind.ts"
import { AgentDirectory } from "../realtime/AgentDirectory.ts"
import { AgentRegistry } from "../realtime/AgentRegistry.ts"
import { RealtimeOutbox } from "../realtime/RealtimeOutbox.ts"
import { ScreenshotCache } from "../realtime/ScreenshotCache.ts"
import { AccessTokens } from "../tokens/AccessTokens.ts"
import { Dpop } from "../tokens/Dpop.ts"
import { TokenRefresh } from "../tokens/TokenRefresh.ts"
import { AgentInventory } from "./AgentInventory.ts"

const Shared = Layer.mergeAll(AccessTokens.Default, Dpop.Default, DeviceRecords.Default, ScreenshotCache.Default).pipe(
  Layer.provideMerge(AgentRegistry.Default),
  Layer.provideMerge(DeviceWriteBehind.Default)
)

export const AgentSideLive = Layer.mergeAll(
  Enrollment.Default,
  TokenRefresh.Default,
  DeviceAuth.Default,
  AgentInventory.Default,
  AgentDirectory.Default
).pipe(
  Layer.provideMerge(RealtimeOutbox.Default),
  Layer.provideMerge(Shared)
)
