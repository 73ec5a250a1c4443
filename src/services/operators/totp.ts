// TOTP for operator MFA: RFC 6238, SHA-1, 6 digits, 30 s step, ±1 step accepted (what pyotp and every
// authenticator app do). spec: config-bootstrap-tests.md §1.3 (OPAUTH)
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as OTPAuth from "otpauth"
import * as QRCode from "qrcode"

const TOTP_DIGITS = 6
const TOTP_PERIOD_SECONDS = 30
const TOTP_WINDOW = 1

/** A fresh 160-bit secret, base32 (32 characters, like pyotp.random_base32). */
export const generateSecret = (): string => new OTPAuth.Secret({ size: 20 }).base32

/** Spaces removed and uppercased, as the original normalises stored secrets. */
const normaliseSecret = (secret: string): string => secret.replace(/\s+/g, "").toUpperCase()

const totpFor = (secret: string, username = "", issuer = "") =>
  new OTPAuth.TOTP({
    issuer,
    label: username,
    secret: OTPAuth.Secret.fromBase32(normaliseSecret(secret)),
    algorithm: "SHA1",
    digits: TOTP_DIGITS,
    period: TOTP_PERIOD_SECONDS
  })

/** `otpauth://totp/<issuer>:<username>?…` for authenticator apps. */
export const provisioningUri = (secret: string, username: string, issuer: string): string =>
  totpFor(secret, username, issuer).toString()

/** The current code (tests and the CLI use it). */
export const currentCode = (secret: string, timestampMs: number = Date.now()): string =>
  totpFor(secret).generate({ timestamp: timestampMs })

/**
 * The time-step counter the code belongs to when it is valid within ±1 step, so a caller can refuse a
 * code already used (replay). A malformed secret is never valid.
 */
export const acceptedCounter = (secret: string, code: string, timestampMs: number = Date.now()): Option.Option<number> => {
  try {
    const totp = totpFor(secret)
    const delta = totp.validate({ token: code, timestamp: timestampMs, window: TOTP_WINDOW })
    return delta === null ? Option.none() : Option.some(totp.counter({ timestamp: timestampMs }) + delta)
  } catch {
    return Option.none()
  }
}

/** The provisioning URI as a PNG data URI, or none if it cannot be rendered. */
export const qrDataUri = (uri: string): Effect.Effect<Option.Option<string>> =>
  Effect.tryPromise(() => QRCode.toDataURL(uri, { margin: 4, scale: 6, errorCorrectionLevel: "M" })).pipe(
    Effect.map(Option.some),
    Effect.orElseSucceed(() => Option.none())
  )
