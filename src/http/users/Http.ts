import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as Effect from "effect/Effect"
import { OperatorAccounts } from "../../services/operators/OperatorAccounts.ts"
import { pyStrOrEmpty, pyTruthy } from "../../services/pyValues.ts"
import { currentActor } from "../actor.ts"
import { BorealisApi } from "../api/Api.ts"
import { operatorJson } from "../body.ts"

const ok = { status: "ok" } as const

export const UsersLive = HttpApiBuilder.group(BorealisApi, "users", (handlers) =>
  Effect.gen(function*() {
    const accounts = yield* OperatorAccounts
    return handlers
      .handle("list", () => Effect.map(accounts.list(), (users) => ({ users })))
      .handleRaw("create", () =>
        Effect.gen(function*() {
          const payload = yield* operatorJson
          const username = pyStrOrEmpty(payload["username"]).trim()
          yield* accounts.create({
            username,
            password_sha512: pyStrOrEmpty(payload["password_sha512"]).trim(),
            role: pyStrOrEmpty(payload["role"]) || "User",
            display_name: pyStrOrEmpty(payload["display_name"]) || username
          }, yield* currentActor)
          return ok
        }))
      .handle("remove", ({ path }) => Effect.as(Effect.flatMap(currentActor, (a) => accounts.remove(path.username, a)), ok))
      .handleRaw("resetPassword", ({ path }) =>
        Effect.gen(function*() {
          const payload = yield* operatorJson
          yield* accounts.resetPassword(path.username, pyStrOrEmpty(payload["password_sha512"]).trim(), yield* currentActor)
          return ok
        }))
      .handleRaw("changeRole", ({ path }) =>
        Effect.gen(function*() {
          const payload = yield* operatorJson
          yield* accounts.changeRole(path.username, pyStrOrEmpty(payload["role"]).trim(), yield* currentActor)
          return ok
        }))
      .handleRaw("updateMfa", ({ path }) =>
        Effect.gen(function*() {
          const payload = yield* operatorJson
          yield* accounts.updateMfa(path.username, pyTruthy(payload["enabled"]), pyTruthy(payload["reset_secret"]), yield* currentActor)
          return ok
        }))
  }))
