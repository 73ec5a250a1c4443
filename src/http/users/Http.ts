import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as Effect from "effect/Effect"
import { OperatorAccounts } from "../../services/operators/OperatorAccounts.ts"
import { ChangeRoleRequest, CreateUserRequest, ResetPasswordRequest, UpdateMfaRequest } from "../../services/operators/requests.ts"
import { currentActor } from "../actor.ts"
import { BorealisApi } from "../api/Api.ts"
import { operatorPayload } from "../body.ts"

const ok = { status: "ok" } as const

const createBody = operatorPayload(CreateUserRequest)
const resetPasswordBody = operatorPayload(ResetPasswordRequest)
const changeRoleBody = operatorPayload(ChangeRoleRequest)
const updateMfaBody = operatorPayload(UpdateMfaRequest)

export const UsersLive = HttpApiBuilder.group(BorealisApi, "users", (handlers) =>
  Effect.gen(function*() {
    const accounts = yield* OperatorAccounts
    return handlers
      .handle("list", () => Effect.map(accounts.list(), (users) => ({ users })))
      .handleRaw("create", () =>
        Effect.gen(function*() {
          yield* accounts.create(yield* createBody, yield* currentActor)
          return ok
        }))
      .handle("remove", ({ path }) => Effect.as(Effect.flatMap(currentActor, (a) => accounts.remove(path.username, a)), ok))
      .handleRaw("resetPassword", ({ path }) =>
        Effect.gen(function*() {
          const body = yield* resetPasswordBody
          yield* accounts.resetPassword(path.username, body.password_sha512, yield* currentActor)
          return ok
        }))
      .handleRaw("changeRole", ({ path }) =>
        Effect.gen(function*() {
          const body = yield* changeRoleBody
          yield* accounts.changeRole(path.username, body.role, yield* currentActor)
          return ok
        }))
      .handleRaw("updateMfa", ({ path }) =>
        Effect.gen(function*() {
          const body = yield* updateMfaBody
          yield* accounts.updateMfa(path.username, body.enabled, body.reset_secret, yield* currentActor)
          return ok
        }))
  }))
