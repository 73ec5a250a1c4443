// Operator passwords at rest: a salted scrypt over what the client sends (the SHA-512 hex the web UI
// computes, or the server's SHA-512 of a plain password), so a copy of the database is no longer a
// login for every operator. The wire format of login is unchanged. Parameters travel with each hash,
// so they can be raised later and old hashes upgraded at the next login.
import * as Effect from "effect/Effect"
import { randomBytes, scrypt, timingSafeEqual } from "node:crypto"

/** scrypt cost: N = 2^15, r = 8, p = 1 (32 MiB, ~0.1 s here), 16-byte salt, 32-byte key. */
const SCRYPT_PARAMS = { logN: 15, r: 8, p: 1, keyLength: 32, saltLength: 16 } as const

const HASH_SHAPE = /^scrypt\$(\d{1,2})\$(\d{1,2})\$(\d{1,2})\$([A-Za-z0-9_-]{16,64})\$([A-Za-z0-9_-]{32,128})$/

interface Parsed {
  readonly logN: number
  readonly r: number
  readonly p: number
  readonly salt: Buffer
  readonly key: Buffer
}

const parse = (stored: string): Parsed | undefined => {
  const m = HASH_SHAPE.exec(stored)
  if (m === null) return undefined
  const [logN, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])]
  if (logN < 10 || logN > 20 || r < 1 || r > 32 || p < 1 || p > 16) return undefined
  return { logN, r, p, salt: Buffer.from(m[4]!, "base64url"), key: Buffer.from(m[5]!, "base64url") }
}

/** Off the event loop (libuv's thread pool): a login never stalls other requests. */
const derive = (secret: string, salt: Buffer, logN: number, r: number, p: number, keyLength: number) =>
  Effect.async<Buffer>((resume) => {
    const N = 2 ** logN
    scrypt(secret, salt, keyLength, { N, r, p, maxmem: 256 * N * r + 1024 * 1024 }, (error, key) =>
      resume(error === null ? Effect.succeed(key) : Effect.die(error)))
  })

/** `scrypt$<logN>$<r>$<p>$<salt>$<key>` of the presented credential. */
export const hashPassword = (presented: string): Effect.Effect<string> =>
  Effect.gen(function*() {
    const { logN, r, p, keyLength, saltLength } = SCRYPT_PARAMS
    const salt = randomBytes(saltLength)
    const key = yield* derive(presented, salt, logN, r, p, keyLength)
    return `scrypt$${logN}$${r}$${p}$${salt.toString("base64url")}$${key.toString("base64url")}`
  }).pipe(Effect.withSpan("passwords.hash", { captureStackTrace: false }))

/** Hashed with other parameters than today's: rehash at the next successful login. */
export const needsRehash = (stored: string): boolean => {
  const parsed = parse(stored)
  return parsed === undefined || parsed.logN !== SCRYPT_PARAMS.logN || parsed.r !== SCRYPT_PARAMS.r || parsed.p !== SCRYPT_PARAMS.p ||
    parsed.key.length !== SCRYPT_PARAMS.keyLength
}

// What a login against a missing account is compared with, so it costs the same as a wrong password.
const DUMMY = `scrypt$${SCRYPT_PARAMS.logN}$${SCRYPT_PARAMS.r}$${SCRYPT_PARAMS.p}$${"A".repeat(22)}$${"A".repeat(43)}`

/**
 * Does the presented credential match the stored hash? A missing or malformed hash is compared
 * against a dummy at full cost and never matches.
 */
export const verifyPassword = (stored: string | undefined, presented: string): Effect.Effect<boolean> =>
  Effect.gen(function*() {
    const parsed = stored === undefined ? undefined : parse(stored)
    const target = parsed ?? parse(DUMMY)!
    const key = yield* derive(presented, target.salt, target.logN, target.r, target.p, target.key.length)
    return timingSafeEqual(key, target.key) && parsed !== undefined && presented !== ""
  }).pipe(Effect.withSpan("passwords.verify", { captureStackTrace: false }))
