// spec: config-bootstrap-tests.md §6.13 (test_operator_auth_builders.py) and the pure credential rules.
import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import {
  constantTimeEqual,
  DEFAULT_PASSWORD_SHA512,
  normalisePasswordHash,
  normaliseRole,
  passwordMatches,
  sha512Hex
} from "../../../src/services/operators/credentials.ts"
import { lenientDecoder } from "../../../src/services/lenientSchema.ts"
import { LoginRequest, MfaVerifyRequest } from "../../../src/services/operators/requests.ts"
import { pyIntOption, pyStrOrEmpty, pyTruthy } from "../../../src/services/pyValues.ts"

// The original's builders are the login and MFA body schemas now.
const buildLoginRequest = lenientDecoder(LoginRequest)
const buildMfaRequest = lenientDecoder(MfaVerifyRequest)

describe("operator auth builders", () => {
  it("keeps an explicit hash (trimmed, lowercased)", () => {
    const hash = sha512Hex("x").toUpperCase()
    expect(buildLoginRequest({ username: " admin ", password_sha512: ` ${hash} ` })).toEqual(
      Either.right({ username: "admin", password_sha512: hash.toLowerCase() })
    )
  })

  it("hashes a plain password, so the result differs from the input", () => {
    const built = buildLoginRequest({ username: "admin", password: "Password" })
    expect(built).toEqual(Either.right({ username: "admin", password_sha512: DEFAULT_PASSWORD_SHA512 }))
    expect(Either.getOrThrow(built).password_sha512).not.toBe("Password")
  })

  it("refuses {password}, {username: ''} and {username}", () => {
    expect(buildLoginRequest({ password: "x" })).toEqual(Either.left("username is required"))
    expect(buildLoginRequest({ username: "" })).toEqual(Either.left("username is required"))
    expect(buildLoginRequest({ username: "admin" })).toEqual(Either.left("password is required"))
    expect(buildLoginRequest({ username: "admin", password: "" })).toEqual(Either.left("password is required"))
  })

  it("normalises an MFA code ('12 34-56' → '123456') and needs a token and 6 digits", () => {
    expect(buildMfaRequest({ pending_token: "tok", code: "12 34-56" })).toEqual(Either.right({ pending_token: "tok", code: "123456" }))
    expect(buildMfaRequest({ code: "123456" })).toEqual(Either.left("pending_token is required"))
    expect(buildMfaRequest({ pending_token: "tok", code: "12" })).toEqual(Either.left("code must contain 6 digits"))
    expect(buildMfaRequest({ pending_token: "tok", code: 123456 })).toEqual(Either.right({ pending_token: "tok", code: "123456" }))
  })
})

describe("credential rules", () => {
  it("password comparison needs both hashes and matches case-insensitively", () => {
    expect(passwordMatches(DEFAULT_PASSWORD_SHA512, DEFAULT_PASSWORD_SHA512.toUpperCase())).toBe(true)
    expect(passwordMatches(DEFAULT_PASSWORD_SHA512, sha512Hex("other"))).toBe(false)
    expect(passwordMatches("", DEFAULT_PASSWORD_SHA512)).toBe(false)
    expect(passwordMatches(DEFAULT_PASSWORD_SHA512, "")).toBe(false)
    expect(constantTimeEqual("abc", "abcd")).toBe(false)
    expect(constantTimeEqual("abc", "abc")).toBe(true)
  })

  it("hashes for create/reset are 128 hex characters", () => {
    expect(normalisePasswordHash("abc")).toEqual(Option.none())
    expect(normalisePasswordHash("z".repeat(128))).toEqual(Option.none())
    expect(normalisePasswordHash(` ${DEFAULT_PASSWORD_SHA512.toUpperCase()} `)).toEqual(Option.some(DEFAULT_PASSWORD_SHA512))
  })

  it("roles are User or Admin in any casing; empty means User", () => {
    expect(normaliseRole("admin")).toEqual(Either.right("Admin"))
    expect(normaliseRole(" USER ")).toEqual(Either.right("User"))
    expect(normaliseRole("")).toEqual(Either.right("User"))
    expect(normaliseRole("invalid")).toEqual(Either.left("invalid role"))
  })

  it("Python coercions of JSON values", () => {
    expect([pyTruthy([]), pyTruthy({}), pyTruthy(0), pyTruthy("0"), pyTruthy([0])]).toEqual([false, false, false, true, true])
    expect([pyStrOrEmpty(null), pyStrOrEmpty(0), pyStrOrEmpty(5), pyStrOrEmpty(true), pyStrOrEmpty(" a ")]).toEqual(["", "", "5", "True", " a "])
    expect([pyIntOption("3"), pyIntOption(" -2 "), pyIntOption(3.9), pyIntOption(true), pyIntOption("3.5"), pyIntOption(null)]).toEqual([
      Option.some(3), Option.some(-2), Option.some(3), Option.some(1), Option.none(), Option.none()
    ])
  })
})
