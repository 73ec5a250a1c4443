// spec: config-bootstrap-tests.md §6.13 (test_operator_auth_service.py), §1.3 (OPAUTH: MFA timings).
import { describe, expect, it } from "@effect/vitest"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import { Audit } from "../../../src/services/audit/Audit.ts"
import { KeyMaterial } from "../../../src/layers/keys/KeyMaterial.ts"
import { DEFAULT_PASSWORD_SHA512, sha512Hex } from "../../../src/services/operators/credentials.ts"
import { OperatorAuth, type LoginSuccess, type MfaChallenge } from "../../../src/services/operators/OperatorAuth.ts"
import { currentCode, generateSecret } from "../../../src/services/operators/totp.ts"
import { lenientDecoder } from "../../../src/services/lenientSchema.ts"
import { MfaVerifyRequest } from "../../../src/services/operators/requests.ts"
import { operatorServices } from "../../support/operatorServices.ts"

const client = { ip: "10.0.0.1" }
/** The body as the HTTP edge decodes it (spaces and dashes in the code dropped). */
const decodeMfaBody = lenientDecoder(MfaVerifyRequest)
const adminLogin = { username: "admin", password_sha512: DEFAULT_PASSWORD_SHA512 }

/** The typed failure of an exit (undefined when it succeeded or died). */
const failureOf = <A, E>(exit: Exit.Exit<A, E>): E | undefined =>
  Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined

const errorOf = (e: unknown) => (e as { error?: string; _tag?: string })

describe("OperatorAuth (test_operator_auth_service.py)", () => {
  it.effect("a correct hash logs in and stamps last_login (test_authenticate_success_updates_last_login)", () =>
    Effect.gen(function*() {
      const auth = yield* OperatorAuth
      const sql = yield* SqlClient.SqlClient
      const result = yield* auth.login(adminLogin, client)
      expect(result._tag).toBe("LoginSuccess")
      expect((result as LoginSuccess).username).toBe("admin")
      const rows = yield* sql<{ last_login: number }>`SELECT last_login FROM users WHERE username = 'admin'`
      expect(rows[0]?.last_login).toBeGreaterThan(0)
      // The session and token it hands out authenticate, in the original's order.
      const bySession = yield* auth.resolveOperator({ cookie: `session=${(result as LoginSuccess).session}` })
      expect(bySession).toEqual(Option.some({ username: "admin", role: "Admin" }))
      const byBearer = yield* auth.resolveOperator({ authorization: `Bearer ${(result as LoginSuccess).token}` })
      expect(byBearer).toEqual(Option.some({ username: "admin", role: "Admin" }))
      // A bad cookie token is not rescued by a good bearer (the cookie wins, as in the original).
      const shadowed = yield* auth.resolveOperator({ cookie: "borealis_auth=bad", authorization: `Bearer ${(result as LoginSuccess).token}` })
      expect(shadowed).toEqual(Option.none())
      expect(yield* auth.resolveOperator({})).toEqual(Option.none())
    }).pipe(Effect.provide(operatorServices())))

  it.effect("an unknown user is invalid credentials (test_authenticate_invalid_credentials)", () =>
    Effect.gen(function*() {
      const auth = yield* OperatorAuth
      const exit = yield* Effect.exit(auth.login({ username: "ghost", password_sha512: sha512Hex("x") }, client))
      expect(errorOf(failureOf(exit))).toMatchObject({ _tag: "Unauthorized", error: "invalid username or password" })
    }).pipe(Effect.provide(operatorServices())))

  it.effect("MFA verify: a stored secret gives stage verify; the current code logs in (test_mfa_verify_flow)", () =>
    Effect.gen(function*() {
      const auth = yield* OperatorAuth
      const sql = yield* SqlClient.SqlClient
      const secret = generateSecret()
      yield* sql`UPDATE users SET mfa_enabled = 1, mfa_secret = ${secret} WHERE username = 'admin'`
      yield* TestClock.setTime(Date.UTC(2025, 0, 1))
      const challenge = (yield* auth.login(adminLogin, client)) as MfaChallenge
      expect(challenge._tag).toBe("MfaChallenge")
      expect(challenge.stage).toBe("verify")
      expect(challenge.secret).toBeUndefined()
      expect(challenge.qr_image).toBeUndefined()
      const code = currentCode(secret, Date.UTC(2025, 0, 1))
      const body = Either.getOrThrow(decodeMfaBody({ pending_token: challenge.pending_token, code: `${code.slice(0, 3)} ${code.slice(3)}` }))
      const done = yield* auth.verifyMfa(challenge.challenge, body, client)
      expect(done).toMatchObject({ _tag: "LoginSuccess", username: "admin", role: "Admin" })
    }).pipe(Effect.provide(operatorServices())))

  it.effect("MFA setup: no secret gives stage setup with a secret; verifying stores it (test_mfa_setup_flow_persists_secret)", () =>
    Effect.gen(function*() {
      const auth = yield* OperatorAuth
      const sql = yield* SqlClient.SqlClient
      yield* sql`UPDATE users SET mfa_enabled = 1, mfa_secret = NULL WHERE username = 'admin'`
      yield* TestClock.setTime(Date.UTC(2025, 0, 1))
      const challenge = (yield* auth.login(adminLogin, client)) as MfaChallenge
      expect(challenge.stage).toBe("setup")
      expect(challenge.secret).toMatch(/^[A-Z2-7]{32}$/)
      expect(challenge.otpauth_url).toMatch(/^otpauth:\/\/totp\/Borealis:admin\?/)
      expect(challenge.otpauth_url).toContain(`secret=${challenge.secret}`)
      expect(challenge.qr_image).toMatch(/^data:image\/png;base64,/)
      // One step late is still accepted (±1 window).
      const code = currentCode(challenge.secret ?? "", Date.UTC(2025, 0, 1) - 30_000)
      yield* auth.verifyMfa(challenge.challenge, { pending_token: challenge.pending_token, code }, client)
      const rows = yield* sql<{ mfa_secret: string }>`SELECT mfa_secret FROM users WHERE username = 'admin'`
      // Issue 19: the seed is sealed at rest with the key folder's key, and opens to what was enrolled.
      expect(rows[0]?.mfa_secret).not.toContain(challenge.secret)
      const { totpSealer } = yield* KeyMaterial
      expect(totpSealer.open(rows[0]?.mfa_secret ?? "")).toEqual(Option.some(challenge.secret))
      const audit = yield* Audit
      const events = yield* audit.query({ limit: 10, offset: 0, type: "auth." })
      expect(events.events.map((e) => e.type).reverse()).toEqual(["auth.mfa.challenged", "auth.mfa.enrolled", "auth.login.succeeded"])
    }).pipe(Effect.provide(operatorServices())))

  it.effect("an invalid code, a replayed code, a wrong pending token and an expired challenge are refused (test_mfa_invalid_code_raises)", () =>
    Effect.gen(function*() {
      const auth = yield* OperatorAuth
      const sql = yield* SqlClient.SqlClient
      const secret = generateSecret()
      yield* sql`UPDATE users SET mfa_enabled = 1, mfa_secret = ${secret} WHERE username = 'admin'`
      const t0 = Date.UTC(2025, 0, 1, 12)
      yield* TestClock.setTime(t0)
      const c1 = (yield* auth.login(adminLogin, client)) as MfaChallenge
      const wrong = yield* Effect.exit(auth.verifyMfa(c1.challenge, { pending_token: c1.pending_token, code: "000000" }, client))
      expect(errorOf(failureOf(wrong))).toMatchObject({ _tag: "Unauthorized", error: "invalid_code" })
      const twoSteps = currentCode(secret, t0 + 60_000)
      const outside = yield* Effect.exit(auth.verifyMfa(c1.challenge, { pending_token: c1.pending_token, code: twoSteps }, client))
      expect(errorOf(failureOf(outside))).toMatchObject({ error: "invalid_code" })
      yield* auth.verifyMfa(c1.challenge, { pending_token: c1.pending_token, code: currentCode(secret, t0) }, client)
      // Same code again on a new challenge: already used.
      const c2 = (yield* auth.login(adminLogin, client)) as MfaChallenge
      const replay = yield* Effect.exit(auth.verifyMfa(c2.challenge, { pending_token: c2.pending_token, code: currentCode(secret, t0) }, client))
      expect(errorOf(failureOf(replay))).toMatchObject({ error: "invalid_code" })
      const badToken = yield* Effect.exit(auth.verifyMfa(c2.challenge, { pending_token: "other", code: currentCode(secret, t0) }, client))
      expect(errorOf(failureOf(badToken))).toMatchObject({ _tag: "Unauthorized", error: "invalid_session" })
      // The challenge is gone after a session failure.
      const gone = yield* Effect.exit(auth.verifyMfa(c2.challenge, { pending_token: c2.pending_token, code: currentCode(secret, t0) }, client))
      expect(errorOf(failureOf(gone))).toMatchObject({ error: "mfa_pending" })
      const c3 = (yield* auth.login(adminLogin, client)) as MfaChallenge
      expect(c3.expires_at).toBe(Math.floor(t0 / 1000) + 300)
      yield* TestClock.adjust("301 seconds")
      const expired = yield* Effect.exit(auth.verifyMfa(c3.challenge, { pending_token: c3.pending_token, code: currentCode(secret, t0 + 301_000) }, client))
      expect(errorOf(failureOf(expired))).toMatchObject({ error: "expired" })
      const noCookie = yield* Effect.exit(auth.verifyMfa(undefined, { pending_token: "x", code: "123456" }, client))
      expect(errorOf(failureOf(noCookie))).toMatchObject({ error: "mfa_pending" })
    }).pipe(Effect.provide(operatorServices())))

  it.effect("failed attempts are throttled per (account, client), whether or not the user exists; other clients still sign in", () =>
    Effect.gen(function*() {
      const auth = yield* OperatorAuth
      for (const username of ["admin", "ghost"]) {
        for (let i = 0; i < 5; i++) {
          const e = yield* Effect.exit(auth.login({ username, password_sha512: sha512Hex("wrong") }, { ip: "10.1.0.1" }))
          expect(errorOf(failureOf(e)).error).toBe("invalid username or password")
        }
        const limited = yield* Effect.exit(auth.login({ username, password_sha512: username === "admin" ? DEFAULT_PASSWORD_SHA512 : sha512Hex("x") }, { ip: "10.1.0.1" }))
        const error = failureOf(limited) as { _tag: string; retry_after: number }
        expect(error._tag).toBe("RateLimited")
        expect(error.retry_after).toBeGreaterThanOrEqual(1)
        expect(error.retry_after).toBeLessThanOrEqual(300)
      }
      // Issue 19: failures elsewhere never lock the real operator out of a client with no recent failures.
      for (let i = 0; i < 5; i++) yield* Effect.exit(auth.login({ username: "admin", password_sha512: sha512Hex("wrong") }, { ip: `10.3.0.${i}` }))
      const owner = yield* auth.login(adminLogin, { ip: "10.2.0.1" })
      expect(owner._tag).toBe("LoginSuccess")
    }).pipe(Effect.provide(operatorServices())))
})
