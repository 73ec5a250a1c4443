// The agent-facing capabilities and what they share: access tokens, DPoP, device rows, write-behind.
import * as Layer from "effect/Layer"
import { DeviceAuth } from "../deviceAuth/DeviceAuth.ts"
import { DeviceRecords } from "../devices/DeviceRecords.ts"
import { Enrollment } from "../enrollment/Enrollment.ts"
import { DeviceWriteBehind } from "../presence/DeviceWriteBehind.ts"
import { AccessTokens } from "../tokens/AccessTokens.ts"
import { Dpop } from "../tokens/Dpop.ts"
import { TokenRefresh } from "../tokens/TokenRefresh.ts"
import { AgentInventory } from "./AgentInventory.ts"

export const AgentSideLive = Layer.mergeAll(Enrollment.Default, TokenRefresh.Default, DeviceAuth.Default, AgentInventory.Default).pipe(
  Layer.provideMerge(Layer.mergeAll(AccessTokens.Default, Dpop.Default, DeviceWriteBehind.Default, DeviceRecords.Default))
)
