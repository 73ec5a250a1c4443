// The operator token behind the `borealis_auth` cookie and `Authorization: Bearer`: an HS256 JWS keyed
// from the operator-token secret (BOREALIS_FLASK_SECRET_KEY, else the generated one in the key folder),
// opaque to clients. The original used an
// itsdangerous timed serializer with salt `borealis-auth` and payload {u, r, ts}; the same claims are
// kept, plus the account id, its auth epoch, a token id and the session it belongs to (`sid`): the
// token lives exactly as long as that session, and logout, expiry or a password reset end both.
// spec: config-bootstrap-tests.md §1.3 (OPAUTH)
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { jwtVerify, SignJWT } from "jose"
import { randomBytes } from "node:crypto"
import { field, piece } from "../lenientSchema.ts"

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

/** `value` when it is an `A`, else `fallback` (claims an older or foreign issuer may have left out). */
const orElse = <A>(to: Schema.Schema<A>, is: (value: unknown) => value is A, fallback: A) =>
  field(piece(to, (value) => Either.right(is(value) ? value : fallback)))

const isNumber = (value: unknown): value is number => typeof value === "number"

/**
 * The payload of a verified token, decoded once per request: `u`, `uid`, `jti` and `sid` must be
 * there (a token without its session, as minted before sessions bound tokens, is not accepted).
 */
const TokenPayload = Schema.transform(
  Schema.Struct({
    u: Schema.Trim.pipe(Schema.nonEmptyString()),
    r: orElse(Schema.String, (v): v is string => typeof v === "string" && v !== "", "User"),
    uid: Schema.Number,
    ep: orElse(Schema.Number, isNumber, 0),
    jti: Schema.String,
    sid: Schema.String,
    iat: orElse(Schema.Number, isNumber, 0),
    exp: orElse(Schema.Number, isNumber, 0)
  }),
  Schema.typeSchema(Schema.Struct({
    username: Schema.String,
    role: Schema.String,
    userId: Schema.Number,
    epoch: Schema.Number,
    jti: Schema.String,
    sessionHash: Schema.String,
    issuedAt: Schema.Number,
    expiresAt: Schema.Number
  })),
  {
    strict: true,
    decode: (p) => ({ username: p.u, role: p.r, userId: p.uid, epoch: p.ep, jti: p.jti, sessionHash: p.sid, issuedAt: p.iat, expiresAt: p.exp }),
    encode: (c) => ({ u: c.username, r: c.role, uid: c.userId, ep: c.epoch, jti: c.jti, sid: c.sessionHash, iat: c.issuedAt, exp: c.expiresAt })
  }
)
const claimsOf = Schema.decodeUnknownOption(TokenPayload)

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
    Effect.map(({ payload }): Option.Option<TokenClaims> => claimsOf(payload)),
    Effect.orElseSucceed(() => Option.none())
  )
}
