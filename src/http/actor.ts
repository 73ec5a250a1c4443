// Who an operator request acts as, for the services' audit records and ownership rules: the
// operator's name and role, and the real client address.
import * as Effect from "effect/Effect"
import { CurrentOperator } from "./api/security.ts"
import { clientIp } from "./clientIp.ts"

export const currentActor = Effect.gen(function*() {
  const operator = yield* CurrentOperator
  return { username: operator.username, role: operator.role, ip: yield* clientIp }
})
