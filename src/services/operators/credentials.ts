// Pure rules for operator credentials, as the original's account service applies them (the login and
// MFA bodies are read by requests.ts).
// spec: config-bootstrap-tests.md §6.13 (test_operator_auth_builders, test_operator_account_service)
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import { createHash, timingSafeEqual } from "node:crypto"

export const sha512Hex = (text: string): string => createHash("sha512").update(text, "utf8").digest("hex")

/** The hash of the default admin password (`Password`). */
export const DEFAULT_PASSWORD_SHA512 = sha512Hex("Password")

const SHA512_HEX = /^[0-9a-f]{128}$/

/** Longest username accepted anywhere (login, create): longer ones are refused before being logged. */
const MAX_USERNAME_LENGTH = 128
/** Longest plain password hashed for a login; the web UI sends a SHA-512 instead. */
export const MAX_PASSWORD_LENGTH = 4096
const INVALID_USERNAME = "username is invalid"

const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/

/** Identifiers an operator types: bounded, and no control characters (they end up in logs and audit). */
export const usernameProblem = (username: string): string | undefined =>
  username.length > MAX_USERNAME_LENGTH || CONTROL.test(username) ? INVALID_USERNAME : undefined

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

/** A presented credential that could be a SHA-512 hex (only those are worth an scrypt). */
export const looksLikeSha512 = (value: string): boolean => SHA512_HEX.test(value)

/**
 * Operator roles, lowest first: a `Viewer` reads the fleet; a `User` also runs library scripts and
 * manages its own jobs; an `Admin` does everything (accounts, enrollment, the script library, sites,
 * device revocation, provisioning, playbook relays).
 */
export const ROLES = ["Viewer", "User", "Admin"] as const
export type Role = (typeof ROLES)[number]

/** `Viewer` / `User` / `Admin` from any casing (Python `str.title()`); empty means `User`. */
export const normaliseRole = (raw: string): Either.Either<Role, "invalid role"> => {
  const trimmed = raw.trim()
  const titled = trimmed === "" ? "User" : trimmed.charAt(0).toUpperCase() + trimmed.slice(1).toLowerCase()
  return (ROLES as ReadonlyArray<string>).includes(titled) ? Either.right(titled as Role) : Either.left("invalid role")
}

/** The role an account's stored text grants; anything unrecognised grants the least. */
const roleOf = (stored: string): Role => {
  const normalised = normaliseRole(stored)
  return Either.isRight(normalised) && stored.trim() !== "" ? normalised.right : stored.trim() === "" ? "User" : "Viewer"
}

/** Does `role` include everything `required` may do? */
export const roleAtLeast = (role: string, required: Role): boolean => ROLES.indexOf(roleOf(role)) >= ROLES.indexOf(required)

export const isAdminRole = (role: string): boolean => roleOf(role) === "Admin"
