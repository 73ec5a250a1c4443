// What operators send to create install codes and approve devices, one schema per body: the API
// declares them and the HTTP edge decodes with them, with the original's aliases and readings
// (`int(x)`, truthiness). EnrollmentAdmin judges the values (the CLI calls it too).
// spec: auth-enrollment.md §1.6, §2.4; config-bootstrap-tests.md §6.10, §6.12
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { lenientRule, lenientStruct, piece } from "../lenientSchema.ts"
import { pyInt, pyTruthy } from "../pyValues.ts"
import { approvalChoice, clampMaxUses, DEFAULT_MAX_USES, DEFAULT_TTL_HOURS } from "./adminRecords.ts"

const present = (value: unknown) => value !== undefined && value !== null

const count = (description: string) => Schema.UndefinedOr(Schema.Number.annotations({ description }))

/**
 * `ttl_hours` (alias `ttl`, default 1) and `max_uses` (alias `allowed_uses`, default 2, clamped to
 * 1..10); `int()` of something unparseable means the default, not the alias.
 */
export const CreateInstallCodeRequest = lenientRule(
  lenientStruct({
    ttl_hours: piece(count("1, 3, 6, 12 or 24 (alias ttl); default 1"), (v) => Either.right(present(v) ? pyInt(v) ?? DEFAULT_TTL_HOURS : undefined)),
    ttl: piece(count("alias of ttl_hours"), (v) => Either.right(pyTruthy(v) ? pyInt(v) ?? DEFAULT_TTL_HOURS : undefined)),
    max_uses: piece(count("clamped to 1..10 (alias allowed_uses); default 2"), (v) => Either.right(present(v) ? pyInt(v) ?? DEFAULT_MAX_USES : undefined)),
    allowed_uses: piece(count("alias of max_uses"), (v) => Either.right(v === undefined ? undefined : pyInt(v) ?? DEFAULT_MAX_USES))
  }, "CreateInstallCodeRequest"),
  Schema.Struct({ ttl_hours: Schema.Number, max_uses: Schema.Number }),
  (f) => Either.right({ ttl_hours: f.ttl_hours ?? f.ttl ?? DEFAULT_TTL_HOURS, max_uses: clampMaxUses(f.max_uses ?? f.allowed_uses ?? DEFAULT_MAX_USES) })
)
export type CreateInstallCodeRequest = typeof CreateInstallCodeRequest.Type

const resolution = (description: string) =>
  piece(
    Schema.UndefinedOr(Schema.String.annotations({ description })),
    // A non-string resolution asks for none (`""`); only a falsy `conflict_resolution` defers to the alias.
    (v) => Either.right(!pyTruthy(v) ? undefined : typeof v === "string" ? v : "")
  )

/**
 * `conflict_resolution` (alias `resolution`): `overwrite` or `coexist`; then `guid`, a GUID to bind.
 * An invalid resolution is refused before an invalid GUID, as the original orders its checks.
 */
export const ApproveRequest = lenientRule(
  lenientStruct({
    conflict_resolution: resolution("overwrite or coexist, when the hostname is held by another device"),
    resolution: resolution("alias of conflict_resolution"),
    guid: piece(
      Schema.UndefinedOr(Schema.NullOr(Schema.String).annotations({ description: "a GUID to bind the device to" })),
      // Absent, null or "" is none; anything but a string is no GUID (null here, refused below).
      (v) => Either.right(!present(v) || v === "" ? undefined : typeof v === "string" ? v : null)
    )
  }, "ApproveRequest"),
  Schema.Struct({ conflictResolution: Schema.UndefinedOr(Schema.String), guid: Schema.UndefinedOr(Schema.String) }),
  (f) => {
    const conflictResolution = f.conflict_resolution ?? f.resolution
    return Either.map(approvalChoice(conflictResolution, f.guid), (choice) => ({
      conflictResolution: choice.resolution ?? undefined,
      guid: choice.guid ?? undefined
    }))
  }
)
export type ApproveRequest = typeof ApproveRequest.Type
