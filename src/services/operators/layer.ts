// The operator side, assembled: accounts, sessions and authentication, sites, the device directory
// and activity, and enrollment administration. Needs the database, config and `Audit`.
import * as Layer from "effect/Layer"
import { DeviceActivity } from "../devices/DeviceActivity.ts"
import { DeviceControl } from "../devices/DeviceControl.ts"
import { DeviceDirectory } from "../devices/DeviceDirectory.ts"
import { DeviceDirectoryRepo } from "../devices/DeviceDirectoryRepo.ts"
import { DeviceRecords } from "../devices/DeviceRecords.ts"
import { EnrollmentAdmin } from "../enrollment/EnrollmentAdmin.ts"
import { EnrollmentAdminRepo } from "../enrollment/EnrollmentAdminRepo.ts"
import { Sites } from "../sites/Sites.ts"
import { SitesRepo } from "../sites/SitesRepo.ts"
import { CredentialUpgradeLive } from "./CredentialUpgrade.ts"
import { LoginThrottle } from "./LoginThrottle.ts"
import { OperatorAccounts } from "./OperatorAccounts.ts"
import { OperatorAuth } from "./OperatorAuth.ts"
import { SessionsRepo } from "./SessionsRepo.ts"
import { UsersRepo } from "./UsersRepo.ts"

const Repos = Layer.mergeAll(
  UsersRepo.Default,
  SessionsRepo.Default,
  LoginThrottle.Default,
  SitesRepo.Default,
  DeviceDirectoryRepo.Default,
  DeviceRecords.Default,
  EnrollmentAdminRepo.Default
)

export const OperatorsLive = Layer.mergeAll(
  OperatorAuth.Default,
  OperatorAccounts.Default,
  Sites.Default,
  DeviceDirectory.Default,
  DeviceActivity.Default,
  DeviceControl.Default,
  EnrollmentAdmin.Default,
  CredentialUpgradeLive
).pipe(Layer.provideMerge(Repos))
