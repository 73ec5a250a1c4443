import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import { maxUsesFromPayload, ttlFromPayload } from "../../services/enrollment/adminRecords.ts"
import { EnrollmentAdmin } from "../../services/enrollment/EnrollmentAdmin.ts"
import { pyTruthy } from "../../services/pyValues.ts"
import { currentActor } from "../actor.ts"
import { BorealisApi } from "../api/Api.ts"
import { operatorJson } from "../body.ts"

const firstParam = (raw: string | ReadonlyArray<string> | undefined): string | undefined =>
  typeof raw === "string" ? raw : raw?.[0]

export const AdminLive = HttpApiBuilder.group(BorealisApi, "admin", (handlers) =>
  Effect.gen(function*() {
    const admin = yield* EnrollmentAdmin
    return handlers
      .handle("listCodes", ({ urlParams }) => Effect.map(admin.listCodes(firstParam(urlParams.status)), (codes) => ({ codes })))
      .handleRaw("createCode", () =>
        Effect.gen(function*() {
          const payload = yield* operatorJson
          const record = yield* admin.createCode(
            ttlFromPayload(payload["ttl_hours"], payload["ttl"]),
            maxUsesFromPayload(payload["max_uses"], payload["allowed_uses"]),
            yield* currentActor
          )
          return HttpServerResponse.unsafeJson(record, { status: 201 })
        }))
      .handle("deleteCode", ({ path }) =>
        Effect.as(Effect.flatMap(currentActor, (a) => admin.deleteCode(path.id, a)), { status: "deleted" as const }))
      .handle("listApprovals", ({ urlParams }) =>
        Effect.map(admin.listApprovals(firstParam(urlParams.status)), (approvals) => ({ approvals })))
      .handleRaw("approve", ({ path }) =>
        Effect.gen(function*() {
          const payload = yield* operatorJson
          const raw = pyTruthy(payload["conflict_resolution"]) ? payload["conflict_resolution"] : payload["resolution"]
          return yield* admin.approve(path.id, {
            guid: payload["guid"],
            conflictResolution: typeof raw === "string" ? raw : undefined
          }, yield* currentActor)
        }))
      .handle("deny", ({ path }) => Effect.flatMap(currentActor, (a) => admin.deny(path.id, a)))
  }))
