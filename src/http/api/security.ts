// The security the API declares: the guards operator routes name (`RequireOperator`, `RequireUser`,
// `RequireAdmin`), what they provide (`CurrentOperator`) and the `x-required-role` every route states
// in the OpenAPI document. Their implementations are in ../auth/Middleware.ts.
import * as HttpApiMiddleware from "@effect/platform/HttpApiMiddleware"
import * as Context from "effect/Context"
import * as Schema from "effect/Schema"
import { Forbidden, Unauthorized, Wire } from "../../services/errors.ts"
import type { Role } from "../../services/operators/credentials.ts"
import type { AuthenticatedOperator } from "../../services/operators/OperatorAuth.ts"

/** The operator the current request acts as. */
export class CurrentOperator extends Context.Tag("borealis/CurrentOperator")<CurrentOperator, AuthenticatedOperator>() {}

export class RequireOperator extends HttpApiMiddleware.Tag<RequireOperator>()("borealis/RequireOperator", {
  provides: CurrentOperator,
  failure: Wire.Unauthorized
}) {}

export class RequireUser extends HttpApiMiddleware.Tag<RequireUser>()("borealis/RequireUser", {
  provides: CurrentOperator,
  failure: Schema.Union(Wire.Unauthorized, Wire.Forbidden)
}) {}

export class RequireAdmin extends HttpApiMiddleware.Tag<RequireAdmin>()("borealis/RequireAdmin", {
  provides: CurrentOperator,
  failure: Schema.Union(Wire.Unauthorized, Wire.Forbidden)
}) {}

/** Who may call a route, as the OpenAPI document states it: nobody in particular, an agent, or an operator role. */
type RouteAccess = "public" | "device" | Role

/** The `x-required-role` extension of an operation (`OpenApi.Override`). */
export const access = (who: RouteAccess) => ({ "x-required-role": who })

export const notAuthenticated = new Unauthorized({ error: "not_authenticated" })
export const forbidden = new Forbidden({ error: "forbidden" })
