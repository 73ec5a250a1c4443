// Authorization, read from what the server publishes: every operation of GET /api/openapi.json states
// who may call it (`x-required-role`: public, device, Viewer, User, Admin), the statement matches the
// guard the route really has, and against a real server every operator route refuses each role below
// its own (403 {"error":"forbidden"}) and anyone without a session (401 {"error":"not_authenticated"}),
// while its own role gets through. spec: config-bootstrap-tests.md §6.10; issue 19 §5
import { describe, expect, it } from "@effect/vitest"
import * as HttpApi from "@effect/platform/HttpApi"
import * as Effect from "effect/Effect"
import { DeviceAuthentication } from "../../../src/http/api/agent.ts"
import { BorealisApi } from "../../../src/http/api/Api.ts"
import { RequireAdmin, RequireOperator, RequireUser } from "../../../src/http/api/security.ts"
import { startEngine } from "../../support/engine.ts"
import { createUser, login } from "../../support/operators.ts"

const promise = <A>(f: () => Promise<A>) => Effect.promise(f)

const ROLES = ["Viewer", "User", "Admin"] as const
type Role = (typeof ROLES)[number]
const ACCESS = new Set(["public", "device", ...ROLES])

/** What the route's middleware actually enforces, from the API definition. */
const enforced = new Map<string, string>()
HttpApi.reflect(BorealisApi, {
  onGroup: () => {},
  onEndpoint: ({ endpoint, middleware }) => {
    const has = (tag: unknown) => middleware.has(tag as never)
    const guard = has(RequireAdmin) ? "Admin" : has(RequireUser) ? "User" : has(RequireOperator) ? "Viewer" : has(DeviceAuthentication) ? "device" : "public"
    enforced.set(`${endpoint.method} ${endpoint.path.replace(/:(\w+)/g, "{$1}")}`, guard)
  }
})

interface Operation {
  readonly method: string
  readonly path: string
  readonly role: string
}

const operationsOf = (document: { paths: Record<string, Record<string, Record<string, unknown>>> }): Array<Operation> =>
  Object.entries(document.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => ({ method: method.toUpperCase(), path, role: String(op["x-required-role"]) })))

describe("authorization, walked from the OpenAPI document", () => {
  it.scoped("every route states its role, the statement is what its guard enforces, and the spec's routes have theirs", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const document = (yield* promise(() => engine.client().get("/api/openapi.json"))).json
      const operations = operationsOf(document)
      expect(operations.length).toBeGreaterThan(60)
      for (const op of operations) {
        expect([op.method, op.path, ACCESS.has(op.role)]).toEqual([op.method, op.path, true])
        expect([op.method, op.path, op.role]).toEqual([op.method, op.path, enforced.get(`${op.method} ${op.path}`)])
      }
      const keys = new Set(operations.map((o) => `${o.method} ${o.path} ${o.role}`))
      for (const expected of [
        "POST /api/auth/login public", "GET /api/auth/me Viewer", "GET /health public",
        "GET /api/users Admin", "POST /api/users Admin", "DELETE /api/users/{username} Admin", "POST /api/users/{username}/role Admin",
        "GET /api/sites Viewer", "POST /api/sites Admin", "POST /api/sites/delete Admin", "POST /api/sites/assign Admin",
        "GET /api/devices Viewer", "POST /api/device/description/{hostname} User", "DELETE /api/device/activity/{hostname} Admin",
        "GET /api/admin/enrollment-codes Admin", "POST /api/admin/device-approvals/{id}/approve Admin", "GET /api/audit Admin",
        // Running code on devices: a User runs library scripts and manages jobs; authoring scripts,
        // provisioning agents and relaying playbooks stay with an Admin.
        "POST /api/scripts/quick_run User", "POST /api/scheduled_jobs User", "DELETE /api/scheduled_jobs/{id} User",
        "GET /api/scheduled_jobs Viewer", "GET /api/assembly/list User",
        "POST /api/assembly/create Admin", "POST /api/assembly/edit Admin", "POST /api/assembly/delete Admin",
        "POST /api/agent/provision Admin", "DELETE /api/agent/{agent_id} Admin", "GET /api/agents Viewer",
        "POST /api/agent/heartbeat device", "POST /api/agent/enroll/request public", "POST /api/ansible/recap/report public"
      ]) expect(keys).toContain(expected)
    }))

  it.scoped("each operator route: 401 without a session or with a forged token, 403 for every role below its own, through for its own", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const admin = engine.client()
      yield* promise(() => login(admin))
      const clients: Record<Role, ReturnType<typeof engine.client>> = { Admin: admin, User: engine.client(), Viewer: engine.client() }
      for (const role of ["User", "Viewer"] as const) {
        const credentials = yield* promise(() => createUser(admin, `matrix-${role.toLowerCase()}`, role))
        yield* promise(() => login(clients[role], credentials))
      }
      const anonymous = engine.client()
      const document = (yield* promise(() => anonymous.get("/api/openapi.json"))).json
      let checked = 0
      for (const op of operationsOf(document)) {
        const path = op.path.replace(/\{[^}]+\}/g, "matrix-x")
        const body = op.method === "GET" || op.method === "DELETE" ? undefined : "{}"
        const options = { method: op.method, ...(body === undefined ? {} : { body, headers: { "content-type": "application/json" } }) }
        if (op.role === "device") {
          // An agent route: an operator's session is not a device credential.
          const asAdmin = yield* promise(() => admin.request(path, options))
          expect([op.method, path, asAdmin.status]).toEqual([op.method, path, 401])
          continue
        }
        if (op.role === "public") continue
        const required = ROLES.indexOf(op.role as Role)
        const denied = yield* promise(() => anonymous.request(path, options))
        expect([op.method, path, denied.status, denied.json]).toEqual([op.method, path, 401, { error: "not_authenticated" }])
        const forged = yield* promise(() => anonymous.request(path, { ...options, headers: { ...options.headers, authorization: "Bearer a.b.c" } }))
        expect([op.method, path, forged.status]).toEqual([op.method, path, 401])
        for (const role of ROLES) {
          const reply = yield* promise(() => clients[role].request(path, options))
          if (ROLES.indexOf(role) < required) {
            expect([op.method, path, role, reply.status, reply.json]).toEqual([op.method, path, role, 403, { error: "forbidden" }])
          } else {
            expect([op.method, path, role, reply.status === 401 || (reply.status === 403 && reply.json?.error === "forbidden")])
              .toEqual([op.method, path, role, false])
          }
        }
        checked++
      }
      expect(checked).toBeGreaterThan(40)
    }))
})
