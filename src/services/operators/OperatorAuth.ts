// Operator authentication: password login (with optional TOTP), sessions, tokens, logout, and the
// one question every guard and the Socket.IO layer asks — who is this request's operator?
// spec: config-bootstrap-tests.md §1.3 (OPAUTH), §6.9; STYLE: the handler only calls this service.
import * as Cookies from "@effect/platform/Cookies"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import { randomBytes, randomUUID } from "node:crypto"
import { EngineConfig } from "../../layers/Config.ts"
import { Audit } from "../audit/Audit.ts"
import { KeyMaterial } from "../../layers/keys/KeyMaterial.ts"
import { Forbidden, RateLimited, Unauthorized } from "../errors.ts"
import { M } from "../../layers/metrics.ts"
import { Revocations } from "../revocations/Revocations.ts"
import { DEFAULT_PASSWORD_SHA512, looksLikeSha512, passwordMatches } from "./credentials.ts"
import { LoginThrottle } from "./LoginThrottle.ts"
import type { LoginRequest, MfaVerifyRequest } from "./requests.ts"
import { hashPassword, needsRehash, verifyPassword } from "./passwords.ts"
import { hashSessionId, sessionDeadline, SessionsRepo, type StoredSession } from "./SessionsRepo.ts"
import { issueToken, verifyToken } from "./tokens.ts"
import { acceptedCounter, generateSecret, provisioningUri, qrDataUri } from "./totp.ts"
import { type OperatorAccount, UsersRepo } from "./UsersRepo.ts"

/** Cookie names: the session and the token bound to it (both HttpOnly). */
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
  /** Hash of the session the request's cookie or token belongs to. */
  readonly sessionHash?: string | undefined
  /** Token id when authenticated by token. */
  readonly tokenId?: string | undefined
  /** Epoch seconds after which the session is over unless it is used again (idle or absolute expiry). */
  readonly expiresAt?: number | undefined
}

/** The credentials a request presents: its Cookie and Authorization headers. */
interface PresentedCredentials {
  readonly cookie?: string | undefined
  readonly authorization?: string | undefined
}

interface ClientInfo {
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
  /** When the session (and its token) ends at the latest, epoch seconds. */
  readonly expiresAt: number
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

interface MeView {
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
const presentedToken = (cookies: Readonly<Record<string, string>>, authorization: string | undefined): string => {
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
    const users = yield* UsersRepo
    const sessions = yield* SessionsRepo
    const throttle = yield* LoginThrottle
    const audit = yield* Audit
    const revocations = yield* Revocations
    const keys = yield* KeyMaterial
    const key = keys.operatorTokens.key
    const sealer = keys.totpSealer
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

    /** The account of a live session whose epoch is still the account's (a reset retires it). */
    const accountOfSession = (session: StoredSession) =>
      Effect.map(users.findById(session.userId), Option.filter((a) => a.auth_epoch === session.authEpoch))

    /** The account a token names, if the token is genuine and its session still lives. */
    const accountForToken = (token: string) =>
      Effect.gen(function*() {
        const claims = yield* verifyToken(key, token)
        if (Option.isNone(claims)) return Option.none()
        const c = claims.value
        const session = yield* sessions.findByHash(c.sessionHash)
        if (Option.isNone(session) || session.value.userId !== c.userId) return Option.none()
        const account = yield* accountOfSession(session.value)
        if (Option.isNone(account)) return Option.none()
        const a = account.value
        if (a.username.toLowerCase() !== c.username.toLowerCase() || a.auth_epoch !== c.epoch) return Option.none()
        return Option.some({ account: a, claims: c, session: session.value })
      })

    const accountForSession = (value: string) =>
      Effect.gen(function*() {
        const stored = yield* sessions.find(value)
        if (Option.isNone(stored)) return Option.none()
        const account = yield* accountOfSession(stored.value)
        return Option.map(account, (a) => ({ account: a, session: stored.value }))
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
          const { account, session } = bySession.value
          return Option.some(operatorOf(account, "session", { sessionHash: session.idHash, expiresAt: sessionDeadline(session) }))
        }
      }
      const token = presentedToken(cookies, presented.authorization)
      if (token === "") return Option.none<AuthenticatedOperator>()
      const byToken = yield* accountForToken(token)
      if (Option.isNone(byToken)) return Option.none<AuthenticatedOperator>()
      const via = (cookies[TOKEN_COOKIE] ?? "") !== "" ? "cookie" as const : "bearer" as const
      const { account, claims, session } = byToken.value
      return Option.some(operatorOf(account, via, {
        sessionHash: session.idHash,
        tokenId: claims.jti,
        expiresAt: Math.min(claims.expiresAt, sessionDeadline(session))
      }))
    })

    /** Is this session (of a socket, say) still live? Touching it counts as use, as any request does. */
    const sessionAlive = (sessionHash: string) =>
      Effect.map(sessions.findByHash(sessionHash), Option.map(sessionDeadline))

    /** Contract for the Socket.IO layer: `{ username, role }` of a handshake's headers, if any. */
    const resolveOperator = (presented: PresentedCredentials) =>
      Effect.map(authenticate(presented), Option.map((op): Operator => ({ username: op.username, role: op.role })))

    /** Session, token and `last_login`, written together with the audit record. */
    const completeLogin = (account: OperatorAccount, method: "password" | "mfa", client: ClientInfo) =>
      users.transaction(Effect.gen(function*() {
        yield* users.touchLastLogin(account.id)
        const session = yield* sessions.create({
          userId: account.id,
          username: account.username,
          authEpoch: account.auth_epoch,
          ip: client.ip,
          userAgent: client.userAgent
        })
        const { token } = yield* issueToken(key, account, session)
        yield* audit.record({
          type: "auth.login.succeeded",
          actor: account.username,
          actor_ip: client.ip,
          target: account.username,
          details: { method, role: account.role }
        })
        return {
          _tag: "LoginSuccess",
          username: account.username,
          role: account.role,
          token,
          session: session.value,
          expiresAt: session.expiresAt
        } satisfies LoginSuccess
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

    /**
     * The account's TOTP seed in clear: sealed seeds are opened with the key folder's key; a plain
     * seed from before sealing is used and sealed in place. A seed the key cannot open (the key
     * folder was lost or replaced) counts as no seed, and says so in the log.
     */
    const storedSeed = (account: OperatorAccount) =>
      Effect.gen(function*() {
        const stored = account.mfa_secret
        if (stored === null) return undefined
        if (!sealer.isSealed(stored)) {
          yield* users.storeMfaSecret(account.id, sealer.seal(stored))
          return stored
        }
        const opened = sealer.open(stored)
        if (Option.isNone(opened)) {
          yield* Effect.logError("totp-seed-unreadable").pipe(
            Effect.annotateLogs({ username: account.username, hint: "the TOTP sealing key in the key folder changed; reset this account's MFA" })
          )
        }
        return Option.getOrUndefined(opened)
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

    /**
     * Does the presented credential open the account? Salted hashes are verified (and rehashed when
     * their parameters are old); a row still holding the original's unsalted SHA-512 is compared and,
     * on a match, upgraded on the spot. Missing accounts and malformed credentials cost the same.
     */
    const passwordOpens = (account: Option.Option<OperatorAccount>, presented: string) =>
      Effect.gen(function*() {
        const a = Option.getOrUndefined(account)
        const usable = looksLikeSha512(presented)
        if (a !== undefined && a.password_hash !== null) {
          const ok = yield* verifyPassword(usable ? a.password_hash : undefined, presented)
          if (ok && needsRehash(a.password_hash)) {
            yield* users.rehashPassword(a.id, yield* hashPassword(presented), presented === DEFAULT_PASSWORD_SHA512)
          }
          return ok
        }
        if (a !== undefined && a.legacy_sha512 !== "" && usable && passwordMatches(a.legacy_sha512, presented)) {
          yield* users.rehashPassword(a.id, yield* hashPassword(presented), presented === DEFAULT_PASSWORD_SHA512)
          yield* Effect.logInfo("operator-password-upgraded").pipe(Effect.annotateLogs({ username: a.username }))
          return true
        }
        yield* verifyPassword(undefined, presented)
        return false
      })

    /** POST /api/auth/login, its body decoded (LoginRequest). spec: §6.9 (H-AUTH) */
    const login = Effect.fn("OperatorAuth.login")(function*(request: LoginRequest, client: ClientInfo) {
      yield* refuseThrottled(request.username, client)
      const found = yield* users.findByUsername(request.username)
      if (!(yield* passwordOpens(found, request.password_sha512)) || Option.isNone(found)) {
        yield* failLogin(request.username, client, "invalid_credentials")
        return yield* invalidCredentials
      }
      yield* throttle.clearPair(client.ip, request.username)
      const account = Option.getOrElse(yield* users.findById(found.value.id), () => found.value)
      if (!account.mfa_enabled) return yield* completeLogin(account, "password", client)
      return yield* startChallenge(account, client)
    })

    const dropChallenge = (id: string) =>
      Ref.update(challenges, (all) => {
        const next = new Map(all)
        next.delete(id)
        return next
      })

    const mfaPending = new Unauthorized({ error: "mfa_pending" })

    /**
     * The MFA step needs a live challenge before its body is judged (401 `mfa_pending` comes before
     * 400): the edge calls this, then decodes the body, then calls `verifyMfa`.
     */
    const admitMfa = Effect.fn("OperatorAuth.admitMfa")(function*(challengeId: string | undefined) {
      if (challengeId === undefined || !(yield* Ref.get(challenges)).has(challengeId)) return yield* mfaPending
    })

    /** POST /api/auth/mfa/verify: the challenge named by the MFA cookie, the body's token and code. */
    const verifyMfa = Effect.fn("OperatorAuth.verifyMfa")(function*(challengeId: string | undefined, request: MfaVerifyRequest, client: ClientInfo) {
      const pending = challengeId === undefined ? undefined : (yield* Ref.get(challenges)).get(challengeId)
      if (challengeId === undefined || pending === undefined) return yield* mfaPending
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
      const secret = pending.stage === "setup" ? pending.secret : yield* storedSeed(account.value)
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
      yield* throttle.clearPair(client.ip, pending.username)
      if (pending.stage === "setup") {
        yield* users.transaction(Effect.zipRight(
          users.storeMfaSecret(pending.userId, sealer.seal(secret)),
          audit.record({ type: "auth.mfa.enrolled", actor: pending.username, actor_ip: client.ip, target: pending.username })
        )).pipe(Effect.orDie)
      }
      const current = yield* users.findById(pending.userId)
      if (Option.isNone(current)) return yield* invalidCredentials
      return yield* completeLogin(current.value, "mfa", client)
    })

    /** POST /api/auth/logout: ends the session of the presented cookie or token (and so both). Always succeeds. */
    const logout = Effect.fn("OperatorAuth.logout")(function*(presented: PresentedCredentials, client: ClientInfo) {
      const cookies = parseCookies(presented.cookie)
      const operator = yield* authenticate(presented)
      const ended = new Set<string>()
      const sessionValue = cookies[SESSION_COOKIE]
      if (sessionValue !== undefined && sessionValue !== "") ended.add(hashSessionId(sessionValue))
      const token = presentedToken(cookies, presented.authorization)
      if (token !== "") {
        const claims = yield* verifyToken(key, token)
        if (Option.isSome(claims)) ended.add(claims.value.sessionHash)
      }
      for (const sessionHash of ended) {
        if ((yield* sessions.remove(sessionHash)) > 0) yield* revocations.publish({ _tag: "OperatorSession", sessionHash, reason: "logout" })
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
        ...(a !== undefined && (a.password_is_default || a.legacy_sha512 === DEFAULT_PASSWORD_SHA512) ? { password_change_required: true as const } : {})
      }
      return view
    })

    return { authenticate, resolveOperator, sessionAlive, login, admitMfa, verifyMfa, logout, me } as const
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
      sessionAlive: () => Effect.succeed(Option.none()),
      login: () => Effect.fail(invalidCredentials),
      admitMfa: () => Effect.fail(new Unauthorized({ error: "mfa_pending" })),
      verifyMfa: () => Effect.fail(new Unauthorized({ error: "mfa_pending" })),
      logout: () => Effect.void,
      me: (operator) => Effect.succeed({ username: operator.username, display_name: operator.displayName, role: operator.role })
    }))
  }
}
