// Operator authentication: password login (with optional TOTP), sessions, tokens, logout, and the
// one question every guard and the Socket.IO layer asks — who is this request's operator?
// spec: config-bootstrap-tests.md §1.3 (OPAUTH), §6.9; STYLE: the handler only calls this service.
import * as SqlClient from "@effect/sql/SqlClient"
import * as Cookies from "@effect/platform/Cookies"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import { randomBytes, randomUUID } from "node:crypto"
import type { JsonObject } from "../../http/body.ts"
import { EngineConfig } from "../../layers/Config.ts"
import { Audit } from "../audit/Audit.ts"
import { KeyMaterial } from "../keys/KeyMaterial.ts"
import { BadRequest, Forbidden, RateLimited, Unauthorized } from "../errors.ts"
import { M } from "../metrics/metrics.ts"
import { buildLoginRequest, buildMfaRequest, DEFAULT_PASSWORD_SHA512, passwordMatches } from "./credentials.ts"
import { LoginThrottle } from "./LoginThrottle.ts"
import { hashSessionId, SessionsRepo } from "./SessionsRepo.ts"
import { issueToken, verifyToken } from "./tokens.ts"
import { acceptedCounter, generateSecret, provisioningUri, qrDataUri } from "./totp.ts"
import { type OperatorAccount, UsersRepo } from "./UsersRepo.ts"

/** Cookie names: the session (HttpOnly) and the token the web UI also writes itself (not HttpOnly). */
export const SESSION_COOKIE = "session"
export const TOKEN_COOKIE = "borealis_auth"
/** Names the pending MFA challenge between login and verify (HttpOnly, 300 s). */
export const MFA_COOKIE = "borealis_mfa"

export const MFA_CHALLENGE_SECONDS = 300
const MFA_MAX_ATTEMPTS = 5

/** The operator a request acts as: what `resolveOperator` answers and `CurrentOperator` carries. */
export interface Operator {
  readonly username: string
  readonly role: string
}

export interface AuthenticatedOperator extends Operator {
  readonly userId: number
  readonly displayName: string
  readonly via: "session" | "cookie" | "bearer" | "cli"
  /** Hash of the session cookie when authenticated by session. */
  readonly sessionHash?: string | undefined
  /** Token id and expiry when authenticated by token. */
  readonly tokenId?: string | undefined
  readonly tokenExpiresAt?: number | undefined
}

/** The credentials a request presents: its Cookie and Authorization headers. */
export interface PresentedCredentials {
  readonly cookie?: string | undefined
  readonly authorization?: string | undefined
}

export interface ClientInfo {
  readonly ip: string
  readonly userAgent?: string | undefined
}

export interface LoginSuccess {
  readonly _tag: "LoginSuccess"
  readonly username: string
  readonly role: string
  readonly token: string
  /** The new session cookie value. */
  readonly session: string
}

export interface MfaChallenge {
  readonly _tag: "MfaChallenge"
  readonly username: string
  readonly role: string
  readonly stage: "setup" | "verify"
  readonly pending_token: string
  readonly expires_at: number
  /** The challenge cookie value. */
  readonly challenge: string
  readonly secret?: string | undefined
  readonly otpauth_url?: string | undefined
  readonly qr_image?: string | undefined
}

interface PendingChallenge {
  readonly pendingToken: string
  readonly userId: number
  readonly username: string
  readonly role: string
  readonly stage: "setup" | "verify"
  readonly secret: string | undefined
  readonly expiresAt: number
  readonly attempts: number
}

export interface MeView {
  readonly username: string
  readonly display_name: string
  readonly role: string
  readonly password_change_required?: true
}

const invalidCredentials = new Unauthorized({ error: "invalid username or password" })
/** Challenge expiry and TOTP steps follow Effect's clock, so tests can move time. */
const nowMillis = Clock.currentTimeMillis
const nowSeconds = Effect.map(nowMillis, (ms) => Math.floor(ms / 1000))

/** The token a request carries: the `borealis_auth` cookie, else `Authorization: Bearer` (original order). */
export const presentedToken = (cookies: Readonly<Record<string, string>>, authorization: string | undefined): string => {
  const fromCookie = cookies[TOKEN_COOKIE] ?? ""
  if (fromCookie !== "") return fromCookie
  const header = authorization ?? ""
  if (header.toLowerCase().startsWith("bearer ")) return header.slice(7).trim()
  return ""
}

export const parseCookies = (header: string | undefined): Readonly<Record<string, string>> => {
  if (header === undefined || header === "") return {}
  try {
    return Cookies.parseHeader(header)
  } catch {
    return {}
  }
}

export class OperatorAuth extends Effect.Service<OperatorAuth>()("borealis/OperatorAuth", {
  effect: Effect.gen(function*() {
    const config = yield* EngineConfig
    const sql = yield* SqlClient.SqlClient
    const users = yield* UsersRepo
    const sessions = yield* SessionsRepo
    const throttle = yield* LoginThrottle
    const audit = yield* Audit
    const key = (yield* KeyMaterial).operatorTokens.key
    const challenges = yield* Ref.make<ReadonlyMap<string, PendingChallenge>>(new Map())
    // Last accepted TOTP step per account: a code works once (RFC 6238 §5.2).
    const usedSteps = yield* Ref.make<ReadonlyMap<number, number>>(new Map())

    const operatorOf = (account: OperatorAccount, via: AuthenticatedOperator["via"], extra: Partial<AuthenticatedOperator> = {}): AuthenticatedOperator => ({
      username: account.username,
      role: account.role || "User",
      userId: account.id,
      displayName: account.display_name || account.username,
      via,
      ...extra
    })

    /** The account a token names, if the token is genuine, unrevoked and still current for it. */
    const accountForToken = (token: string) =>
      Effect.gen(function*() {
        const claims = yield* verifyToken(key, token)
        if (Option.isNone(claims)) return Option.none()
        const c = claims.value
        if (yield* sessions.isTokenRevoked(c.jti)) return Option.none()
        const account = yield* users.findById(c.userId)
        if (Option.isNone(account)) return Option.none()
        const a = account.value
        if (a.username.toLowerCase() !== c.username.toLowerCase() || a.auth_epoch !== c.epoch) return Option.none()
        return Option.some({ account: a, claims: c })
      })

    const accountForSession = (value: string) =>
      Effect.gen(function*() {
        const stored = yield* sessions.find(value)
        if (Option.isNone(stored)) return Option.none()
        const s = stored.value
        const account = yield* users.findById(s.userId)
        if (Option.isNone(account) || account.value.auth_epoch !== s.authEpoch) return Option.none()
        return Option.some({ account: account.value, session: s })
      })

    /**
     * The request's operator, in the original's order: the session cookie, then the `borealis_auth`
     * cookie, then `Authorization: Bearer`. Roles come from the account as it is now.
     */
    const authenticate = Effect.fn("OperatorAuth.authenticate")(function*(presented: PresentedCredentials) {
      const cookies = parseCookies(presented.cookie)
      const sessionValue = cookies[SESSION_COOKIE]
      if (sessionValue !== undefined && sessionValue !== "") {
        const bySession = yield* accountForSession(sessionValue)
        if (Option.isSome(bySession)) {
          return Option.some(operatorOf(bySession.value.account, "session", { sessionHash: bySession.value.session.idHash }))
        }
      }
      const token = presentedToken(cookies, presented.authorization)
      if (token === "") return Option.none<AuthenticatedOperator>()
      const byToken = yield* accountForToken(token)
      if (Option.isNone(byToken)) return Option.none<AuthenticatedOperator>()
      const via = (cookies[TOKEN_COOKIE] ?? "") !== "" ? "cookie" as const : "bearer" as const
      return Option.some(operatorOf(byToken.value.account, via, {
        tokenId: byToken.value.claims.jti,
        tokenExpiresAt: byToken.value.claims.expiresAt
      }))
    })

    /** Contract for the Socket.IO layer: `{ username, role }` of a handshake's headers, if any. */
    const resolveOperator = (presented: PresentedCredentials) =>
      Effect.map(authenticate(presented), Option.map((op): Operator => ({ username: op.username, role: op.role })))

    /** Session, token and `last_login`, written together with the audit record. */
    const completeLogin = (account: OperatorAccount, method: "password" | "mfa", client: ClientInfo) =>
      sql.withTransaction(Effect.gen(function*() {
        yield* users.touchLastLogin(account.id)
        const session = yield* sessions.create({
          userId: account.id,
          username: account.username,
          authEpoch: account.auth_epoch,
          ip: client.ip,
          userAgent: client.userAgent
        })
        const { token } = yield* issueToken(key, account)
        yield* audit.record({
          type: "auth.login.succeeded",
          actor: account.username,
          actor_ip: client.ip,
          target: account.username,
          details: { method, role: account.role }
        })
        return { _tag: "LoginSuccess", username: account.username, role: account.role, token, session } satisfies LoginSuccess
      })).pipe(Effect.orDie)

    const failLogin = (username: string, client: ClientInfo, reason: "invalid_credentials" | "invalid_mfa_code", stage?: string) =>
      Effect.zipRight(
        throttle.recordFailure(client.ip, username),
        audit.record({
          type: "auth.login.failed",
          actor: username,
          actor_ip: client.ip,
          target: username,
          details: stage === undefined ? { reason } : { reason, stage }
        })
      )

    const refuseThrottled = (username: string, client: ClientInfo, stage?: string) =>
      Effect.gen(function*() {
        const wait = yield* throttle.check(client.ip, username)
        if (Option.isNone(wait)) return
        yield* audit.record({
          type: "auth.login.failed",
          actor: username,
          actor_ip: client.ip,
          target: username,
          details: stage === undefined ? { reason: "rate_limited" } : { reason: "rate_limited", stage }
        })
        M.rateLimited.inc({ limiter: "operator_login" })
        return yield* RateLimited.of(wait.value)
      })

    const pruneChallenges = Effect.flatMap(nowSeconds, (now) =>
      Ref.update(challenges, (all) => new Map([...all].filter(([, c]) => c.expiresAt >= now))))

    const startChallenge = (account: OperatorAccount, client: ClientInfo) =>
      Effect.gen(function*() {
        yield* pruneChallenges
        const stage = account.mfa_secret === null ? "setup" as const : "verify" as const
        const secret = stage === "setup" ? generateSecret() : undefined
        const otpauthUrl = secret === undefined ? undefined : provisioningUri(secret, account.username, config.mfaIssuer)
        const qr = otpauthUrl === undefined ? Option.none<string>() : yield* qrDataUri(otpauthUrl)
        const challengeId = randomBytes(32).toString("base64url")
        const pending: PendingChallenge = {
          pendingToken: randomUUID().replaceAll("-", ""),
          userId: account.id,
          username: account.username,
          role: account.role,
          stage,
          secret,
          expiresAt: (yield* nowSeconds) + MFA_CHALLENGE_SECONDS,
          attempts: 0
        }
        yield* Ref.update(challenges, (all) => new Map(all).set(challengeId, pending))
        yield* audit.record({
          type: "auth.mfa.challenged",
          actor: account.username,
          actor_ip: client.ip,
          target: account.username,
          details: { stage }
        })
        return {
          _tag: "MfaChallenge",
          username: account.username,
          role: account.role,
          stage,
          pending_token: pending.pendingToken,
          expires_at: pending.expiresAt,
          challenge: challengeId,
          ...(secret === undefined ? {} : { secret }),
          ...(otpauthUrl === undefined ? {} : { otpauth_url: otpauthUrl }),
          ...(Option.isSome(qr) ? { qr_image: qr.value } : {})
        } satisfies MfaChallenge
      })

    /** POST /api/auth/login. spec: §6.9 (H-AUTH) */
    const login = Effect.fn("OperatorAuth.login")(function*(payload: JsonObject, client: ClientInfo) {
      const built = buildLoginRequest(payload)
      if (Either.isLeft(built)) return yield* new BadRequest({ error: built.left })
      const request = built.right
      yield* refuseThrottled(request.username, client)
      const account = yield* users.findByUsername(request.username)
      // The comparison runs whether or not the account exists, so timing does not tell them apart.
      const matches = passwordMatches(Option.match(account, { onNone: () => "", onSome: (a) => a.password_sha512 }), request.password_sha512)
      if (Option.isNone(account) || !matches) {
        yield* failLogin(request.username, client, "invalid_credentials")
        return yield* invalidCredentials
      }
      yield* throttle.clearUsername(request.username)
      if (!account.value.mfa_enabled) return yield* completeLogin(account.value, "password", client)
      return yield* startChallenge(account.value, client)
    })

    const dropChallenge = (id: string) =>
      Ref.update(challenges, (all) => {
        const next = new Map(all)
        next.delete(id)
        return next
      })

    /** POST /api/auth/mfa/verify: the challenge named by the MFA cookie, the body's token and code. */
    const verifyMfa = Effect.fn("OperatorAuth.verifyMfa")(function*(challengeId: string | undefined, payload: JsonObject, client: ClientInfo) {
      const pending = challengeId === undefined ? undefined : (yield* Ref.get(challenges)).get(challengeId)
      if (challengeId === undefined || pending === undefined) return yield* new Unauthorized({ error: "mfa_pending" })
      const built = buildMfaRequest(payload)
      if (Either.isLeft(built)) return yield* new BadRequest({ error: built.left })
      const request = built.right
      yield* refuseThrottled(pending.username, client, "mfa")
      const sessionFailure = (reason: "mfa_session_invalid" | "mfa_expired", error: string) =>
        Effect.gen(function*() {
          yield* dropChallenge(challengeId)
          yield* audit.record({
            type: "auth.login.failed",
            actor: pending.username,
            actor_ip: client.ip,
            target: pending.username,
            details: { reason, stage: pending.stage }
          })
          return yield* new Unauthorized({ error })
        })
      if (pending.pendingToken !== request.pending_token) return yield* sessionFailure("mfa_session_invalid", "invalid_session")
      if (pending.expiresAt < (yield* nowSeconds)) return yield* sessionFailure("mfa_expired", "expired")

      const account = yield* users.findById(pending.userId)
      if (Option.isNone(account)) {
        yield* dropChallenge(challengeId)
        return yield* invalidCredentials
      }
      const secret = pending.stage === "setup" ? pending.secret : account.value.mfa_secret ?? undefined
      if (secret === undefined || secret.trim() === "") {
        yield* dropChallenge(challengeId)
        yield* audit.record({
          type: "auth.login.failed",
          actor: pending.username,
          actor_ip: client.ip,
          target: pending.username,
          details: { reason: "mfa_not_configured", stage: pending.stage }
        })
        return yield* new Forbidden({ error: "mfa_not_configured" })
      }
      const step = acceptedCounter(secret, request.code, yield* nowMillis)
      const lastUsed = (yield* Ref.get(usedSteps)).get(pending.userId)
      if (Option.isNone(step) || (lastUsed !== undefined && step.value <= lastUsed)) {
        yield* failLogin(pending.username, client, "invalid_mfa_code", pending.stage)
        if (pending.attempts + 1 >= MFA_MAX_ATTEMPTS) yield* dropChallenge(challengeId)
        else yield* Ref.update(challenges, (all) => new Map(all).set(challengeId, { ...pending, attempts: pending.attempts + 1 }))
        return yield* new Unauthorized({ error: "invalid_code" })
      }
      yield* Ref.update(usedSteps, (all) => new Map(all).set(pending.userId, step.value))
      yield* dropChallenge(challengeId)
      yield* throttle.clearUsername(pending.username)
      if (pending.stage === "setup") {
        yield* sql.withTransaction(Effect.zipRight(
          users.storeMfaSecret(pending.userId, secret),
          audit.record({ type: "auth.mfa.enrolled", actor: pending.username, actor_ip: client.ip, target: pending.username })
        )).pipe(Effect.orDie)
      }
      const current = yield* users.findById(pending.userId)
      if (Option.isNone(current)) return yield* invalidCredentials
      return yield* completeLogin(current.value, "mfa", client)
    })

    /** POST /api/auth/logout: ends the session and retires the presented token. Always succeeds. */
    const logout = Effect.fn("OperatorAuth.logout")(function*(presented: PresentedCredentials, client: ClientInfo) {
      const cookies = parseCookies(presented.cookie)
      const operator = yield* authenticate(presented)
      const sessionValue = cookies[SESSION_COOKIE]
      if (sessionValue !== undefined && sessionValue !== "") yield* sessions.remove(hashSessionId(sessionValue))
      const token = presentedToken(cookies, presented.authorization)
      if (token !== "") {
        const claims = yield* verifyToken(key, token)
        if (Option.isSome(claims)) yield* sessions.revokeToken(claims.value.jti, claims.value.expiresAt)
      }
      const challengeId = cookies[MFA_COOKIE]
      if (challengeId !== undefined) yield* dropChallenge(challengeId)
      if (Option.isSome(operator)) {
        yield* audit.record({ type: "auth.logout", actor: operator.value.username, actor_ip: client.ip, target: operator.value.username })
      }
    })

    /** GET /api/auth/me for an authenticated operator. */
    const me = Effect.fn("OperatorAuth.me")(function*(operator: AuthenticatedOperator) {
      const account = yield* users.findById(operator.userId)
      const a = Option.getOrUndefined(account)
      const view: MeView = {
        username: a?.username ?? operator.username,
        display_name: a?.display_name || a?.username || operator.username,
        role: a?.role ?? operator.role,
        ...(a !== undefined && a.password_sha512 === DEFAULT_PASSWORD_SHA512 ? { password_change_required: true as const } : {})
      }
      return view
    })

    return { authenticate, resolveOperator, login, verifyMfa, logout, me } as const
  })
}) {
  /**
   * For tests of code that only asks "who is this?" (guards, Socket.IO): `Authorization: Bearer <key>`
   * resolves to `operators[key]`; logins are refused.
   */
  static readonly Test = (operators: Readonly<Record<string, Operator>>): Layer.Layer<OperatorAuth> => {
    const authenticate = (presented: PresentedCredentials) => {
      const token = presentedToken(parseCookies(presented.cookie), presented.authorization)
      const operator = operators[token]
      return Effect.succeed(
        operator === undefined
          ? Option.none<AuthenticatedOperator>()
          : Option.some<AuthenticatedOperator>({ ...operator, userId: 0, displayName: operator.username, via: "bearer" })
      )
    }
    return Layer.succeed(OperatorAuth, OperatorAuth.make({
      authenticate,
      resolveOperator: (presented) => Effect.map(authenticate(presented), Option.map((o): Operator => ({ username: o.username, role: o.role }))),
      login: () => Effect.fail(invalidCredentials),
      verifyMfa: () => Effect.fail(new Unauthorized({ error: "mfa_pending" })),
      logout: () => Effect.void,
      me: (operator) => Effect.succeed({ username: operator.username, display_name: operator.displayName, role: operator.role })
    }))
  }
}
