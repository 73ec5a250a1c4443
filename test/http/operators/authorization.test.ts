// Authorization matrix, read from the API definition itself: every route guarded by RequireOperator
// or RequireAdmin answers 401 {"error":"not_authenticated"} without a session, every RequireAdmin
// route answers 403 {"error":"forbidden"} to a User, and the operator routes let a User through.
// spec: config-bootstrap-tests.md §6.10 (H-ADMIN guard), issue 4 §6
import { describe, expect, it } from "@effect/vitest"
import * as HttpApi from "@effect/platform/HttpApi"
import * as Effect from "effect/Effect"
import { BorealisApi } from "../../../src/http/Api.ts"
import { RequireAdmin, RequireOperator } from "../../../src/http/auth/Middleware.ts"
import { startEngine } from "../../support/engine.ts"
import { createUser, login } from "../../support/operators.ts"

const promise = <A>(f: () => Promise<A>) => Effect.promise(f)

interface Route {
  readonly group: string
  readonly method: string
  readonly path: string
  readonly guard: "operator" | "admin"
}

const routes: Array<Route> = []
HttpApi.reflect(BorealisApi, {
  onGroup: () => {},
  onEndpoint: ({ endpoint, group, middleware }) => {
    const guard = middleware.has(RequireAdmin as never) ? "admin" : middleware.has(RequireOperator as never) ? "operator" : undefined
    if (guard !== undefined) {
      routes.push({ group: group.identifier, method: endpoint.method, path: endpoint.path.replace(/:[A-Za-z_]+/g, "matrix-x"), guard })
    }
  }
})

/** The groups this issue owns: a User may call their operator routes without side effects on others. */
const OPERATOR_GROUPS = new Set(["auth", "users", "sites", "devices", "admin", "server", "audit"])

describe("authorization matrix", () => {
  it("covers every operator and admin route of the spec", () => {
    const keys = routes.map((r) => `${r.method} ${r.path} ${r.guard}`)
    for (const expected of [
      "GET /api/auth/me operator",
      "GET /api/users admin", "POST /api/users admin", "DELETE /api/users/matrix-x admin",
      "POST /api/users/matrix-x/reset_password admin", "POST /api/users/matrix-x/role admin", "POST /api/users/matrix-x/mfa admin",
      "GET /api/sites operator", "POST /api/sites operator", "POST /api/sites/delete operator", "GET /api/sites/device_map operator",
      "POST /api/sites/assign operator", "POST /api/sites/rename operator",
      "GET /api/devices operator", "GET /api/devices/matrix-x operator", "GET /api/device/details/matrix-x operator",
      "POST /api/device/description/matrix-x operator", "GET /api/device/activity/matrix-x operator",
      "DELETE /api/device/activity/matrix-x operator", "GET /api/device/activity/job/matrix-x operator",
      "GET /api/server/time operator",
      "GET /api/admin/enrollment-codes admin", "POST /api/admin/enrollment-codes admin", "DELETE /api/admin/enrollment-codes/matrix-x admin",
      "GET /api/admin/device-approvals admin", "POST /api/admin/device-approvals/matrix-x/approve admin",
      "POST /api/admin/device-approvals/matrix-x/deny admin",
      "GET /api/audit admin"
    ]) expect(keys).toContain(expected)
  })

  it.scoped("no session → 401; User on admin routes → 403; User on operator routes → allowed", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const admin = engine.client()
      yield* promise(() => login(admin))
      const user = yield* promise(() => createUser(admin, "plain-user", "User"))
      const userClient = engine.client()
      yield* promise(() => login(userClient, user))
      const anonymous = engine.client()
      for (const route of routes) {
        const body = route.method === "GET" || route.method === "DELETE" ? undefined : "{}"
        const options = { method: route.method, ...(body === undefined ? {} : { body, headers: { "content-type": "application/json" } }) }
        const denied = yield* promise(() => anonymous.request(route.path, options))
        expect([route.method, route.path, denied.status, denied.json]).toEqual([route.method, route.path, 401, { error: "not_authenticated" }])
        // A tampered token is no better than none.
        const forged = yield* promise(() => anonymous.request(route.path, { ...options, headers: { ...options.headers, authorization: "Bearer a.b.c" } }))
        expect([route.path, forged.status]).toEqual([route.path, 401])
        if (route.guard === "admin") {
          const asUser = yield* promise(() => userClient.request(route.path, options))
          expect([route.method, route.path, asUser.status, asUser.json]).toEqual([route.method, route.path, 403, { error: "forbidden" }])
        } else if (OPERATOR_GROUPS.has(route.group)) {
          const asUser = yield* promise(() => userClient.request(route.path, options))
          expect([route.method, route.path, asUser.status === 401 || asUser.status === 403]).toEqual([route.method, route.path, false])
        }
      }
    }))
})
