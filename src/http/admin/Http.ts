import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import { ApproveRequest, CreateInstallCodeRequest } from "../../services/enrollment/adminRequests.ts"
import { EnrollmentAdmin } from "../../services/enrollment/EnrollmentAdmin.ts"
import { currentActor } from "../actor.ts"
import { BorealisApi } from "../api/Api.ts"
import { operatorPayload } from "../body.ts"

const createCodeBody = operatorPayload(CreateInstallCodeRequest)
const approveBody = operatorPayload(ApproveRequest)

export const AdminLive = HttpApiBuilder.group(BorealisApi, "admin", (handlers) =>
  Effect.gen(function*() {
    const admin = yield* EnrollmentAdmin
    return handlers
      .handle("listCodes", ({ urlParams }) => Effect.map(admin.listCodes(urlParams.status), (codes) => ({ codes })))
      .handleRaw("createCode", () =>
        Effect.gen(function*() {
          const body = yield* createCodeBody
          const record = yield* admin.createCode(body.ttl_hours, body.max_uses, yield* currentActor)
          return HttpServerResponse.unsafeJson(record, { status: 201 })
        }))
      .handle("deleteCode", ({ path }) =>
        Effect.as(Effect.flatMap(currentActor, (a) => admin.deleteCode(path.id, a)), { status: "deleted" as const }))
      .handle("listApprovals", ({ urlParams }) =>
        Effect.map(admin.listApprovals(urlParams.status), (approvals) => ({ approvals })))
      .handleRaw("approve", ({ path }) =>
        Effect.gen(function*() {
          const body = yield* approveBody
          return yield* admin.approve(path.id, body, yield* currentActor)
        }))
      .handle("deny", ({ path }) => Effect.flatMap(currentActor, (a) => admin.deny(path.id, a)))
  }))
