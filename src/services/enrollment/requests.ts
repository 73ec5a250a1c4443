// What an agent sends to enroll, as one schema each: the API declares them and the HTTP edge decodes
// with them. The first failing field gives the spec's error code. spec: auth-enrollment.md §1.1, §1.2
import * as Schema from "effect/Schema"
import { hostnameProblem } from "../devices/identity.ts"
import { checked, Lenient, lenientStruct, piece, read } from "../lenientSchema.ts"

/** Install codes are 39 characters; anything far longer is not one (and is never looked up). */
const MAX_CODE_CHARS = 128

export const EnrollRequest = lenientStruct({
  hostname: piece(
    Schema.String.annotations({ description: "the machine's name (≤ 253 characters, no control characters)" }),
    // Beyond the original: an oversized or control-character hostname is refused before it is
    // logged or stored anywhere (253 is the DNS limit; real agents send their machine name).
    checked(read.requiredText("hostname_required"), (h) => (hostnameProblem(h) === undefined ? undefined : "invalid_hostname"))
  ),
  enrollment_code: piece(
    Schema.String.annotations({ description: "the install code an operator created" }),
    checked(read.requiredText("enrollment_code_required"), (c) => (c.length > MAX_CODE_CHARS ? "invalid_enrollment_code" : undefined))
  ),
  agent_pubkey: Lenient.string("agent_pubkey_required", { description: "standard base64 of the Ed25519 SubjectPublicKeyInfo DER" }),
  client_nonce: Lenient.string("client_nonce_required", { description: "standard base64 of ≥ 16 random bytes (agents send 32)" })
}, "EnrollRequest")
export type EnrollRequest = typeof EnrollRequest.Type

export const EnrollPoll = lenientStruct({
  approval_reference: piece(
    Schema.String.annotations({ description: "the reference the request answered" }),
    checked(read.string("approval_reference_required"), (r) => (r === "" ? "approval_reference_required" : undefined))
  ),
  client_nonce: Lenient.string("client_nonce_required", { description: "the nonce of the request, as sent then" }),
  proof_sig: Lenient.string("proof_sig_required", { description: "base64 Ed25519 signature over server_nonce || approval_reference || client_nonce" })
}, "EnrollPoll")
export type EnrollPoll = typeof EnrollPoll.Type
