// What operators send to sign in and to manage accounts, one schema per body: the API declares them
// and the HTTP edge decodes with them. Readings and error strings are the original's (`str(x or
// "").strip()`, truthiness); account rules the CLI shares (role, hash shape) stay in OperatorAccounts.
// spec: config-bootstrap-tests.md §6.9 (H-AUTH), §6.13 (test_operator_auth_builders, test_http_users)
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { checked, Lenient, lenientRule, lenientStruct, piece, read } from "../lenientSchema.ts"
import { pyStrOrEmpty, pyText } from "../pyValues.ts"
import { MAX_PASSWORD_LENGTH, sha512Hex, usernameProblem } from "./credentials.ts"

const username = piece(
  Schema.String.annotations({ description: "trimmed; at most 128 characters, no control characters" }),
  checked(read.requiredText("username is required"), usernameProblem)
)

/**
 * `username` (trimmed) plus `password_sha512` (trimmed, lowercased) or a plain `password` that is
 * hashed here. Errors are the original's messages, plus a refusal of oversized or control-character
 * usernames and oversized passwords before anything is logged or stored.
 */
export const LoginRequest = lenientRule(
  lenientStruct({
    username,
    password_sha512: piece(
      Schema.String.annotations({ description: "SHA-512 hex of the password (what the web UI sends)" }),
      (value) => Either.right(pyText(value).toLowerCase())
    ),
    password: piece(
      Schema.UndefinedOr(Schema.String.annotations({ description: "Plain password, hashed by the server when no hash is given" })),
      read.stringOrUndefined
    )
  }, "LoginRequest"),
  Schema.Struct({ username: Schema.String, password_sha512: Schema.String }),
  ({ username, password_sha512: hash, password }) => {
    if (hash !== "") return hash.length > MAX_PASSWORD_LENGTH ? Either.left("password is too long") : Either.right({ username, password_sha512: hash })
    if (password === undefined || password === "") return Either.left("password is required")
    if (password.length > MAX_PASSWORD_LENGTH) return Either.left("password is too long")
    return Either.right({ username, password_sha512: sha512Hex(password) })
  }
)
export type LoginRequest = typeof LoginRequest.Type

/** `"12 34-56"` → `"123456"`; the code needs at least 6 digits. */
export const MfaVerifyRequest = lenientStruct({
  pending_token: Lenient.requiredText("pending_token is required", { description: "the `pending_token` the login answered" }),
  code: piece(
    Schema.String.annotations({ description: "6 digits; spaces and dashes are ignored" }),
    checked((value) => Either.right(pyText(value).replace(/\D/g, "")), (digits) => (digits.length < 6 ? "code must contain 6 digits" : undefined))
  )
}, "MfaVerifyRequest")
export type MfaVerifyRequest = typeof MfaVerifyRequest.Type

/** `POST /api/users`: read as the original reads it; OperatorAccounts judges the values. */
export const CreateUserRequest = lenientStruct({
  username: piece(Schema.String.annotations({ description: "required" }), read.text),
  password_sha512: piece(Schema.String.annotations({ description: "required: 128 hex characters (SHA-512 of the password)" }), read.text),
  role: piece(
    Schema.String.annotations({ description: "Viewer, User or Admin in any casing; default User" }),
    (value) => Either.right(pyStrOrEmpty(value) || "User")
  ),
  display_name: piece(Schema.String.annotations({ description: "default: the username" }), read.str)
}, "CreateUserRequest")
export type CreateUserRequest = typeof CreateUserRequest.Type

export const ResetPasswordRequest = lenientStruct({
  password_sha512: piece(Schema.String.annotations({ description: "required: 128 hex characters (SHA-512 of the new password)" }), read.text)
}, "ResetPasswordRequest")
export type ResetPasswordRequest = typeof ResetPasswordRequest.Type

export const ChangeRoleRequest = lenientStruct({
  role: piece(Schema.String.annotations({ description: "Viewer, User or Admin in any casing; empty means User" }), read.text)
}, "ChangeRoleRequest")
export type ChangeRoleRequest = typeof ChangeRoleRequest.Type

export const UpdateMfaRequest = lenientStruct({
  enabled: piece(Schema.Boolean.annotations({ description: "truthy enables MFA" }), read.truthy),
  reset_secret: piece(Schema.Boolean.annotations({ description: "truthy clears the stored secret and ends the account's sessions" }), read.truthy)
}, "UpdateMfaRequest")
export type UpdateMfaRequest = typeof UpdateMfaRequest.Type
