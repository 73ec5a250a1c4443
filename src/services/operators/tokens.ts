// The operator token behind the `borealis_auth` cookie and `Authorization: Bearer`: an HS256 JWS keyed
// from the operator-token secret (BOREALIS_FLASK_SECRET_KEY, else the generated one in the key folder),
// opaque to clients. The original used an
// itsdangerous timed serializer with salt `borealis-auth` and payload {u, r, ts}; the same claims are
// kept, plus the account id, its auth epoch, a token id and the session it belongs to (`sid`): the
// token lives exactly as long as that session, and logout, expiry or a password reset end both.
// spec: config-bootstrap-tests.md §1.3 (OPAUTH)
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { jwtVerify, SignJWT } from "jose"
import { randomBytes } from "node:crypto"

const TOKEN_MAX_AGE_SECONDS = 30 * 24 * 3600

interface TokenClaims {
  readonly username: string
  readonly role: string
  readonly userId: number
  readonly epoch: number
  readonly jti: string
  /** Hash of the session the token was issued with. */
  readonly sessionHash: string
  readonly issuedAt: number
  readonly expiresAt: number
}

export const issueToken = (
  key: Uint8Array,
  account: { readonly id: number; readonly username: string; readonly role: string; readonly auth_epoch: number },
  session: { readonly idHash: string; readonly expiresAt: number },
  now: number = Math.floor(Date.now() / 1000)
): Effect.Effect<{ readonly token: string; readonly claims: TokenClaims }> =>
  Effect.gen(function*() {
    const jti = randomBytes(16).toString("hex")
    const claims: TokenClaims = {
      username: account.username,
      role: account.role || "User",
      userId: account.id,
      epoch: account.auth_epoch,
      jti,
      sessionHash: session.idHash,
      issuedAt: now,
      expiresAt: Math.min(session.expiresAt, now + TOKEN_MAX_AGE_SECONDS)
    }
    const token = yield* Effect.promise(() =>
      new SignJWT({ u: claims.username, r: claims.role, ts: now, uid: claims.userId, ep: claims.epoch, sid: claims.sessionHash })
        .setProtectedHeader({ alg: "HS256", typ: "JWT" })
        .setJti(jti)
        .setIssuedAt(now)
        .setExpirationTime(claims.expiresAt)
        .sign(key)
    )
    return { token, claims }
  })

const JWS_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/

/**
 * The claims of a genuine, unexpired token (signature compared in constant time by jose), or none:
 * tampered, expired, foreign or malformed tokens are all simply not authentication.
 */
export const verifyToken = (key: Uint8Array, token: string): Effect.Effect<Option.Option<TokenClaims>> => {
  const candidate = token.trim()
  if (candidate.length === 0 || candidate.length > 4096 || !JWS_SHAPE.test(candidate)) return Effect.succeed(Option.none())
  return Effect.tryPromise(() =>
    jwtVerify(candidate, key, { algorithms: ["HS256"], maxTokenAge: TOKEN_MAX_AGE_SECONDS, requiredClaims: ["jti", "iat", "exp"] })
  ).pipe(
    Effect.map(({ payload }) => {
      const { u, r, uid, ep, jti, sid, iat, exp } = payload as Record<string, unknown>
      // A token without its session (as minted before sessions bound tokens) is not accepted.
      if (typeof u !== "string" || u.trim() === "" || typeof uid !== "number" || typeof jti !== "string" || typeof sid !== "string") {
        return Option.none()
      }
      return Option.some<TokenClaims>({
        username: u.trim(),
        role: typeof r === "string" && r !== "" ? r : "User",
        userId: uid,
        epoch: typeof ep === "number" ? ep : 0,
        jti,
        sessionHash: sid,
        issuedAt: typeof iat === "number" ? iat : 0,
        expiresAt: typeof exp === "number" ? exp : 0
      })
    }),
    Effect.orElseSucceed(() => Option.none())
  )
}
