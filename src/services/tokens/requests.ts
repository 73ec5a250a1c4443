// What an agent sends to refresh its access token: one schema that the API declares and the HTTP edge
// decodes with. Every malformed body answers 400 {"error":"invalid_request"}. spec: auth-enrollment.md §1.3
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { normalizeGuid } from "../devices/identity.ts"
import { lenientStruct, piece, read } from "../lenientSchema.ts"
import { pyText } from "../pyValues.ts"

// Oversized values are no GUID or token of ours: refused before any work or lookup.
const MAX_GUID_CHARS = 64
const MAX_REFRESH_TOKEN_CHARS = 512

export const RefreshRequest = lenientStruct({
  guid: piece(Schema.String.annotations({ description: "the device GUID (any case, braces allowed); decoded to canonical form" }), (value) => {
    const raw = pyText(value)
    const guid = raw.length > MAX_GUID_CHARS ? "" : normalizeGuid(raw)
    return guid === "" ? Either.left("invalid_request") : Either.right(guid)
  }),
  refresh_token: piece(Schema.String, (value) => {
    const token = pyText(value)
    return token === "" || token.length > MAX_REFRESH_TOKEN_CHARS ? Either.left("invalid_request") : Either.right(token)
  }),
  rotate: piece(Schema.Boolean.annotations({ description: "opt in to refresh-token rotation (JSON true only)" }), read.isTrue)
}, "RefreshRequest")
export type RefreshRequest = typeof RefreshRequest.Type
