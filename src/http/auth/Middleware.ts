// Guards for operator routes, one per role: `RequireOperator` (any operator, Viewer and up),
// `RequireUser`, `RequireAdmin`. Without a logged-in operator they answer 401
// {"error":"not_authenticated"}; below the role, 403 {"error":"forbidden"} (spec:
// config-bootstrap-tests.md §6.10, auth-enrollment.md §1.6). Each provides `CurrentOperator`. Every
// route also states its role in the OpenAPI document (`x-required-role`), which a test walks.
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type { Forbidden, Unauthorized } from "../../services/errors.ts"
import { connectionAuthenticated } from "../connection.ts"
import { type Role, roleAtLeast } from "../../services/operators/credentials.ts"
import { forbidden, notAuthenticated, RequireAdmin, RequireOperator, RequireUser } from "../api/security.ts"
import { OperatorAuth } from "../../services/operators/OperatorAuth.ts"

const operatorOfRequest = (auth: OperatorAuth) =>
  Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
    auth.authenticate({ cookie: request.headers["cookie"], authorization: request.headers["authorization"] }).pipe(
      Effect.tap((operator) => (Option.isSome(operator) ? connectionAuthenticated : Effect.void))
    ))

/** The guard of one role: 401 without an operator, 403 below the role. */
const guard = (auth: OperatorAuth, role: Role, span: string) =>
  Effect.flatMap(operatorOfRequest(auth), Option.match({
    onNone: () => Effect.fail<Unauthorized | Forbidden>(notAuthenticated),
    onSome: (operator) => (roleAtLeast(operator.role, role) ? Effect.succeed(operator) : Effect.fail(forbidden))
  })).pipe(Effect.withSpan(span))

const RequireOperatorLive: Layer.Layer<RequireOperator, never, OperatorAuth> = Layer.effect(
  RequireOperator,
  Effect.map(OperatorAuth, (auth) =>
    Effect.flatMap(operatorOfRequest(auth), Option.match({
      onNone: () => Effect.fail(notAuthenticated),
      onSome: Effect.succeed
    })).pipe(Effect.withSpan("RequireOperator")))
)

const RequireUserLive: Layer.Layer<RequireUser, never, OperatorAuth> = Layer.effect(
  RequireUser,
  Effect.map(OperatorAuth, (auth) => guard(auth, "User", "RequireUser"))
)

const RequireAdminLive: Layer.Layer<RequireAdmin, never, OperatorAuth> = Layer.effect(
  RequireAdmin,
  Effect.map(OperatorAuth, (auth) => guard(auth, "Admin", "RequireAdmin"))
)

/** Every guard, for `ApiLive`. */
export const AuthMiddlewareLive = Layer.mergeAll(RequireOperatorLive, RequireUserLive, RequireAdminLive)
