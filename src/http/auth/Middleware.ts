// Guards for operator routes. `RequireOperator` answers 401 {"error":"not_authenticated"} without a
// logged-in operator; `RequireAdmin` also answers 403 {"error":"forbidden"} for a non-admin role
// (spec: config-bootstrap-tests.md §6.10, auth-enrollment.md §1.6). Both provide `CurrentOperator`.
import * as HttpApiMiddleware from "@effect/platform/HttpApiMiddleware"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { Forbidden, Unauthorized, Wire } from "../../services/errors.ts"
import { isAdminRole } from "../../services/operators/credentials.ts"
import { type AuthenticatedOperator, OperatorAuth } from "../../services/operators/OperatorAuth.ts"

/** The operator the current request acts as. */
export class CurrentOperator extends Context.Tag("borealis/CurrentOperator")<CurrentOperator, AuthenticatedOperator>() {}

export class RequireOperator extends HttpApiMiddleware.Tag<RequireOperator>()("borealis/RequireOperator", {
  provides: CurrentOperator,
  failure: Wire.Unauthorized
}) {}

export class RequireAdmin extends HttpApiMiddleware.Tag<RequireAdmin>()("borealis/RequireAdmin", {
  provides: CurrentOperator,
  failure: Schema.Union(Wire.Unauthorized, Wire.Forbidden)
}) {}

export const notAuthenticated = new Unauthorized({ error: "not_authenticated" })
export const forbidden = new Forbidden({ error: "forbidden" })

const operatorOfRequest = (auth: OperatorAuth) =>
  Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
    auth.authenticate({ cookie: request.headers["cookie"], authorization: request.headers["authorization"] }))

export const RequireOperatorLive: Layer.Layer<RequireOperator, never, OperatorAuth> = Layer.effect(
  RequireOperator,
  Effect.map(OperatorAuth, (auth) =>
    Effect.flatMap(operatorOfRequest(auth), Option.match({
      onNone: () => Effect.fail(notAuthenticated),
      onSome: Effect.succeed
    })).pipe(Effect.withSpan("RequireOperator")))
)

export const RequireAdminLive: Layer.Layer<RequireAdmin, never, OperatorAuth> = Layer.effect(
  RequireAdmin,
  Effect.map(OperatorAuth, (auth) =>
    Effect.flatMap(operatorOfRequest(auth), Option.match({
      onNone: () => Effect.fail<Unauthorized | Forbidden>(notAuthenticated),
      onSome: (operator) => (isAdminRole(operator.role) ? Effect.succeed(operator) : Effect.fail(forbidden))
    })).pipe(Effect.withSpan("RequireAdmin")))
)

/** Both guards, for `ApiLive`. */
export const AuthMiddlewareLive = Layer.mergeAll(RequireOperatorLive, RequireAdminLive)
