// Pure rules for operator credentials, as the original's builders and account service apply them.
// spec: config-bootstrap-tests.md §6.13 (test_operator_auth_builders, test_operator_account_service)
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import { createHash, timingSafeEqual } from "node:crypto"
import type { JsonObject } from "../../http/body.ts"
import { pyStrOrEmpty } from "../pyValues.ts"

export const sha512Hex = (text: string): string => createHash("sha512").update(text, "utf8").digest("hex")

/** The hash of the default admin password (`Password`). */
export const DEFAULT_PASSWORD_SHA512 = sha512Hex("Password")

const SHA512_HEX = /^[0-9a-f]{128}$/

export interface LoginRequest {
  readonly username: string
  readonly password_sha512: string
}

/**
 * `username` (trimmed) plus `password_sha512` (trimmed, lowercased) or a plain `password` that is
 * hashed here. Errors are the original's messages.
 */
export const buildLoginRequest = (payload: JsonObject): Either.Either<LoginRequest, string> => {
  const username = pyStrOrEmpty(payload["username"]).trim()
  const hash = pyStrOrEmpty(payload["password_sha512"]).trim().toLowerCase()
  const password = payload["password"]
  if (username === "") return Either.left("username is required")
  if (hash !== "") return Either.right({ username, password_sha512: hash })
  if (typeof password !== "string" || password === "") return Either.left("password is required")
  return Either.right({ username, password_sha512: sha512Hex(password) })
}

export interface MfaRequest {
  readonly pending_token: string
  readonly code: string
}

/** `"12 34-56"` → `"123456"`; the code needs at least 6 digits. */
export const buildMfaRequest = (payload: JsonObject): Either.Either<MfaRequest, string> => {
  const pending = pyStrOrEmpty(payload["pending_token"]).trim()
  const digits = pyStrOrEmpty(payload["code"]).trim().replace(/\D/g, "")
  if (pending === "") return Either.left("pending_token is required")
  if (digits.length < 6) return Either.left("code must contain 6 digits")
  return Either.right({ pending_token: pending, code: digits })
}

/** Equal lengths compared in constant time; a mismatch in length still costs one comparison. */
export const constantTimeEqual = (a: string, b: string): boolean => {
  const left = Buffer.from(a, "utf8")
  const right = Buffer.from(b, "utf8")
  if (left.length !== right.length) {
    timingSafeEqual(left, left)
    return false
  }
  return timingSafeEqual(left, right)
}

/** The stored hash matches the presented one (both non-empty). */
export const passwordMatches = (stored: string, presented: string): boolean => {
  const expected = stored.trim().toLowerCase()
  const candidate = presented.trim().toLowerCase()
  // Always compare, so a missing hash costs the same as a wrong one.
  const same = constantTimeEqual(expected === "" ? DEFAULT_PASSWORD_SHA512 : expected, candidate)
  return expected !== "" && candidate !== "" && same
}

/** A password hash as accepted for create/reset: 128 hex characters, stored lowercase. */
export const normalisePasswordHash = (raw: string): Option.Option<string> => {
  const hash = raw.trim().toLowerCase()
  return SHA512_HEX.test(hash) ? Option.some(hash) : Option.none()
}

/** `User` / `Admin` from any casing (Python `str.title()`); empty means `User`. */
export const normaliseRole = (raw: string): Either.Either<"User" | "Admin", "invalid role"> => {
  const trimmed = raw.trim()
  const titled = trimmed === "" ? "User" : trimmed.charAt(0).toUpperCase() + trimmed.slice(1).toLowerCase()
  return titled === "User" || titled === "Admin" ? Either.right(titled) : Either.left("invalid role")
}

export const isAdminRole = (role: string): boolean => role.trim().toLowerCase() === "admin"
