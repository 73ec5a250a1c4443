// What a refresh token is: its shape, how it is stored and how long it lives. Enrollment issues the
// first one and TokenRefresh rotates it; both take these rules from here. spec: auth-enrollment.md §2.3, §3.2
import * as crypto from "node:crypto"

/** A refresh token lives this long after its last use (sliding expiry). */
export const REFRESH_TOKEN_LIFETIME_DAYS = 90

/** `secrets.token_urlsafe(48)`: 48 random bytes, base64url without padding (64 characters). */
export const newRefreshToken = (): string => crypto.randomBytes(48).toString("base64url")

/** Only this digest of a refresh token is stored. */
export const hashRefreshToken = (token: string): string => crypto.createHash("sha256").update(token, "utf8").digest("hex")
