// Operator accounts, sessions and authentication, assembled. Needs the database, config and `Audit`.
import * as Layer from "effect/Layer"
import { LoginThrottle } from "./LoginThrottle.ts"
import { OperatorAuth } from "./OperatorAuth.ts"
import { SessionsRepo } from "./SessionsRepo.ts"
import { UsersRepo } from "./UsersRepo.ts"

export const OperatorsLive = OperatorAuth.Default.pipe(
  Layer.provideMerge(Layer.mergeAll(UsersRepo.Default, SessionsRepo.Default, LoginThrottle.Default))
)
