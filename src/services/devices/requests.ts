// What operators send about a device, one schema per body: the API declares them and the HTTP edge
// decodes with them. spec: config-bootstrap-tests.md §6.11 (H-DEV)
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { checked, lenientStruct, piece, read } from "../lenientSchema.ts"

export const DescriptionRequest = lenientStruct({
  description: piece(Schema.String.annotations({ description: "the new description (`str(x or \"\")`)" }), read.str)
}, "DescriptionRequest")
export type DescriptionRequest = typeof DescriptionRequest.Type

/** Revoke, quarantine, restore: why, as text (anything but a string counts as none). */
export const ReasonRequest = lenientStruct({
  reason: piece(
    Schema.String.annotations({ description: "Why (required; kept in the audit trail, at most 500 characters)" }),
    checked((value) => Either.right(typeof value === "string" ? value.trim() : ""), (reason) => (reason === "" ? "reason is required" : undefined))
  )
}, "ReasonRequest")
export type ReasonRequest = typeof ReasonRequest.Type
