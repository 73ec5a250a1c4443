// What operators send to manage sites, one schema per body: the API declares them and the HTTP edge
// decodes with them. Readings and error strings are the original's (`str(x or "").strip()`,
// `payload.get(key) or []`, `int(x)`); the first failing field gives the answer.
// spec: config-bootstrap-tests.md §6.11 (H-SITES)
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { Lenient, lenientStruct, piece, type Reader } from "../lenientSchema.ts"
import { pyInt, pyIntOption, pyTruthy } from "../pyValues.ts"

/** `payload.get(key) or []`, which must then be a list. */
const list = (code: string): Reader<ReadonlyArray<unknown>> => (value) =>
  !pyTruthy(value) ? Either.right([]) : Array.isArray(value) ? Either.right(value) : Either.left(code)

/** Python `int(x)`, failing with `code` where it would raise. */
const integer = (code: string): Reader<number> => (value) => {
  const n = pyInt(value)
  return n === undefined ? Either.left(code) : Either.right(n)
}

export const CreateSiteRequest = lenientStruct({
  name: Lenient.requiredText("name is required", { description: "trimmed; unique" }),
  description: Lenient.text
}, "CreateSiteRequest")
export type CreateSiteRequest = typeof CreateSiteRequest.Type

export const DeleteSitesRequest = lenientStruct({
  ids: piece(
    Schema.Array(Schema.Number).annotations({ description: "Site ids; entries that are not integers are skipped" }),
    // Ids that are not integers are skipped, as the original does.
    (value) => Either.map(list("ids must be a list")(value), (ids) => [...new Set(ids.flatMap((v) => Option.toArray(pyIntOption(v))))])
  )
}, "DeleteSitesRequest")
export type DeleteSitesRequest = typeof DeleteSitesRequest.Type

export const AssignSiteRequest = lenientStruct({
  hostnames: piece(
    Schema.Array(Schema.String).annotations({ description: "Hostnames (trimmed; blanks and non-strings skipped); at least one" }),
    (value) =>
      Either.map(list("hostnames must be a list of strings")(value), (hostnames) => [
        ...new Set(hostnames.flatMap((h) => (typeof h === "string" && h.trim() !== "" ? [h.trim()] : [])))
      ])
  ),
  site_id: piece(Schema.Number, integer("invalid site_id"))
}, "AssignSiteRequest")
export type AssignSiteRequest = typeof AssignSiteRequest.Type

export const RenameSiteRequest = lenientStruct({
  new_name: Lenient.requiredText("new_name is required", { description: "trimmed; unique" }),
  // The original crashed here (500); an unusable id is the caller's error.
  id: piece(Schema.Number, integer("invalid id"))
}, "RenameSiteRequest")
export type RenameSiteRequest = typeof RenameSiteRequest.Type
