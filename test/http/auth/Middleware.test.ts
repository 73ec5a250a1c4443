// The guards on their own, with OperatorAuth's test layer standing in for sessions and tokens.
import { describe, expect, it } from "@effect/vitest"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { AuthMiddlewareLive } from "../../../src/http/auth/Middleware.ts"
import { RequireAdmin, RequireOperator } from "../../../src/http/api/security.ts"
import { OperatorAuth } from "../../../src/services/operators/OperatorAuth.ts"

const operators = { "admin-key": { username: "root", role: "Admin" }, "user-key": { username: "viewer", role: "User" } }
const Guards = AuthMiddlewareLive.pipe(Layer.provideMerge(OperatorAuth.Test(operators)))

const request = (headers: Record<string, string>) =>
  HttpServerRequest.fromWeb(new Request("https://engine.test/api/x", { headers }))

/** The guards read only the request of the router context they are typed against. */
const guarded = <A, E, R>(guard: Effect.Effect<A, E, R>, headers: Record<string, string>) =>
  Effect.either(
    Effect.provideService(guard as Effect.Effect<A, E, HttpServerRequest.HttpServerRequest>, HttpServerRequest.HttpServerRequest, request(headers))
  )

describe("RequireOperator / RequireAdmin", () => {
  it.effect("provide the operator, or fail 401 not_authenticated / 403 forbidden", () =>
    Effect.gen(function*() {
      const requireOperator = yield* RequireOperator
      const requireAdmin = yield* RequireAdmin
      const asAdmin = yield* guarded(requireAdmin, { authorization: "Bearer admin-key" })
      expect(asAdmin._tag === "Right" && asAdmin.right).toMatchObject({ username: "root", role: "Admin" })
      const asUser = yield* guarded(requireAdmin, { authorization: "Bearer user-key" })
      expect(asUser._tag === "Left" && asUser.left).toMatchObject({ _tag: "Forbidden", error: "forbidden" })
      const userOnOperatorRoute = yield* guarded(requireOperator, { cookie: "borealis_auth=user-key" })
      expect(userOnOperatorRoute._tag === "Right" && userOnOperatorRoute.right.username).toBe("viewer")
      for (const headers of [{}, { authorization: "Bearer nope" }, { authorization: "Basic admin-key" }]) {
        const denied = yield* guarded(requireOperator, headers)
        expect(denied._tag === "Left" && denied.left).toMatchObject({ _tag: "Unauthorized", error: "not_authenticated" })
        const deniedAdmin = yield* guarded(requireAdmin, headers)
        expect(deniedAdmin._tag === "Left" && deniedAdmin.left).toMatchObject({ _tag: "Unauthorized", error: "not_authenticated" })
      }
    }).pipe(Effect.provide(Guards)))
})
