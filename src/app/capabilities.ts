// The capabilities, assembled from their services and repositories. Each service declares what it
// needs (its `Default` layer requires it); only this file wires one capability's services to another's.
import * as Layer from "effect/Layer"
import { Scheduler } from "../scheduler/Scheduler.ts"
import { AgentInventory } from "../services/agents/AgentInventory.ts"
import { DeviceAuth } from "../services/deviceAuth/DeviceAuth.ts"
import { DeviceActivity } from "../services/devices/DeviceActivity.ts"
import { DeviceControl } from "../services/devices/DeviceControl.ts"
import { DeviceDirectory } from "../services/devices/DeviceDirectory.ts"
import { DeviceDirectoryRepo } from "../services/devices/DeviceDirectoryRepo.ts"
import { DeviceRecords } from "../services/devices/DeviceRecords.ts"
import { Enrollment } from "../services/enrollment/Enrollment.ts"
import { EnrollmentAdmin } from "../services/enrollment/EnrollmentAdmin.ts"
import { EnrollmentAdminRepo } from "../services/enrollment/EnrollmentAdminRepo.ts"
import { EnrollmentRepo } from "../services/enrollment/EnrollmentRepo.ts"
import { ProofReplayCache } from "../services/enrollment/ProofReplayCache.ts"
import { JobChannels } from "../services/jobs/JobChannels.ts"
import { JobDispatch } from "../services/jobs/JobDispatch.ts"
import { JobResults } from "../services/jobs/JobResults.ts"
import { JobsRepo } from "../services/jobs/JobsRepo.ts"
import { ScheduledJobs } from "../services/jobs/ScheduledJobs.ts"
import { CredentialUpgradeLive } from "../services/operators/CredentialUpgrade.ts"
import { LoginThrottle } from "../services/operators/LoginThrottle.ts"
import { OperatorAccounts } from "../services/operators/OperatorAccounts.ts"
import { OperatorAuth } from "../services/operators/OperatorAuth.ts"
import { SessionsRepo } from "../services/operators/SessionsRepo.ts"
import { UsersRepo } from "../services/operators/UsersRepo.ts"
import { DeviceWriteBehind } from "../services/presence/DeviceWriteBehind.ts"
import { AgentDirectory } from "../services/realtime/AgentDirectory.ts"
import { AgentRegistry } from "../services/realtime/AgentRegistry.ts"
import { RealtimeOutbox } from "../services/realtime/RealtimeOutbox.ts"
import { ScreenshotCache } from "../services/realtime/ScreenshotCache.ts"
import { Sites } from "../services/sites/Sites.ts"
import { SitesRepo } from "../services/sites/SitesRepo.ts"
import { AccessTokens } from "../services/tokens/AccessTokens.ts"
import { Dpop } from "../services/tokens/Dpop.ts"
import { DpopReplay } from "../services/tokens/DpopReplay.ts"
import { RefreshTokensRepo } from "../services/tokens/RefreshTokensRepo.ts"
import { TokenRefresh } from "../services/tokens/TokenRefresh.ts"

/** Device rows as identity (enrollment, tokens, device auth, operators' device control share them). */
const DeviceIdentityLive = DeviceRecords.Default

/** The operator side: accounts, sessions and authentication, sites, the device directory and control, enrollment administration. */
export const OperatorsLive = Layer.mergeAll(
  OperatorAuth.Default,
  OperatorAccounts.Default,
  Sites.Default,
  DeviceDirectory.Default,
  DeviceActivity.Default,
  DeviceControl.Default,
  EnrollmentAdmin.Default,
  CredentialUpgradeLive
).pipe(
  Layer.provideMerge(Layer.mergeAll(
    UsersRepo.Default,
    SessionsRepo.Default,
    LoginThrottle.Default,
    SitesRepo.Default,
    DeviceDirectoryRepo.Default,
    DeviceIdentityLive,
    EnrollmentAdminRepo.Default
  ))
)

/** The agent side: enrollment, tokens, DPoP, device auth, reports, the agent registry actor and realtime delivery. */
export const AgentSideLive = Layer.mergeAll(
  Enrollment.Default,
  TokenRefresh.Default,
  DeviceAuth.Default,
  AgentInventory.Default,
  AgentDirectory.Default
).pipe(
  Layer.provideMerge(Layer.mergeAll(RealtimeOutbox.Default, EnrollmentRepo.Default, RefreshTokensRepo.Default, ProofReplayCache.Default)),
  Layer.provideMerge(Layer.mergeAll(AccessTokens.Default, Dpop.Default, DeviceIdentityLive, ScreenshotCache.Default)),
  Layer.provideMerge(DpopReplay.Default),
  Layer.provideMerge(AgentRegistry.Default),
  Layer.provideMerge(DeviceWriteBehind.Default)
)

/** The jobs capability without its realtime seam, so tests and benchmarks can supply `JobChannels.Test`. */
export const JobsCore = Layer.mergeAll(ScheduledJobs.Default, JobResults.Default, Scheduler.Default).pipe(
  Layer.provideMerge(JobDispatch.Default),
  Layer.provideMerge(JobsRepo.Default)
)

export const JobsLive = JobsCore.pipe(Layer.provideMerge(JobChannels.Default))
