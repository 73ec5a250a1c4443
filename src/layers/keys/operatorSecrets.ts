// Operator-side secrets kept in the key folder: the key that signs operator tokens (generated at first
// start unless BOREALIS_FLASK_SECRET_KEY is set) and the key that seals TOTP seeds at rest.
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as crypto from "node:crypto"
import * as path from "node:path"
import { createOnce } from "./files.ts"

export const OPERATOR_SECRET_RELATIVE = path.join("auth_keys", "operator-token.secret")
export const TOTP_SEAL_KEY_RELATIVE = path.join("auth_keys", "totp-seal.key")

/** The HS256 key of operator tokens: HMAC-derived from the secret for this one purpose (the original's salt). */
export const operatorTokenKey = (secret: Redacted.Redacted<string>): Uint8Array =>
  new Uint8Array(crypto.createHmac("sha256", Redacted.value(secret)).update("borealis-auth").digest())

/**
 * A fingerprint of key material that is safe to log and compare between nodes (first 16 hex of a
 * SHA-256 over a domain-separated digest): equal fingerprints mean equal keys, and it reveals nothing.
 */
export const keyFingerprint = (key: Uint8Array): string =>
  crypto.createHash("sha256").update("borealis-key-fingerprint\0").update(key).digest("hex").slice(0, 16)

export interface OperatorSecret {
  readonly secret: Redacted.Redacted<string>
  /** Where it came from: the environment variable, or the file in the key folder. */
  readonly source: "environment" | string
  readonly created: boolean
}

/** The configured secret, else the one in the key folder (created once: 48 random bytes, mode 0600). */
export const loadOperatorSecret = (runtimeRoot: string, configured: Option.Option<Redacted.Redacted<string>>): OperatorSecret => {
  if (Option.isSome(configured)) return { secret: configured.value, source: "environment", created: false }
  const file = path.join(runtimeRoot, OPERATOR_SECRET_RELATIVE)
  const fresh = crypto.randomBytes(48).toString("base64url")
  const stored = createOnce(file, `${fresh}\n`).trim()
  if (stored.length < 32) throw new Error(`${file} holds ${stored.length} characters; at least 32 are needed (delete it to generate a new one)`)
  return { secret: Redacted.make(stored), source: file, created: stored === fresh }
}

/** AES-256-GCM sealing of small secrets (TOTP seeds): `v1:<iv>:<ciphertext>:<tag>`, base64url parts. */
export interface Sealer {
  readonly seal: (plain: string) => string
  /** The plain text of a sealed value; none when it is not sealed or does not open with this key. */
  readonly open: (stored: string) => Option.Option<string>
  readonly isSealed: (stored: string) => boolean
}

const SEALED = /^v1:([A-Za-z0-9_-]{16}):([A-Za-z0-9_-]*):([A-Za-z0-9_-]{22})$/

export const makeSealer = (key: Uint8Array, associatedData: string): Sealer => {
  if (key.length !== 32) throw new Error("a sealing key is 32 bytes")
  const aad = Buffer.from(associatedData, "utf8")
  return {
    seal: (plain) => {
      const iv = crypto.randomBytes(12)
      const cipher = crypto.createCipheriv("aes-256-gcm", key, iv)
      cipher.setAAD(aad)
      const body = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()])
      return `v1:${iv.toString("base64url")}:${body.toString("base64url")}:${cipher.getAuthTag().toString("base64url")}`
    },
    open: (stored) => {
      const m = SEALED.exec(stored)
      if (m === null) return Option.none()
      try {
        const decipher = crypto.createDecipheriv("aes-256-gcm", key, Buffer.from(m[1]!, "base64url"))
        decipher.setAAD(aad)
        decipher.setAuthTag(Buffer.from(m[3]!, "base64url"))
        return Option.some(Buffer.concat([decipher.update(Buffer.from(m[2]!, "base64url")), decipher.final()]).toString("utf8"))
      } catch {
        return Option.none()
      }
    },
    isSealed: (stored) => SEALED.test(stored)
  }
}

/** The TOTP sealing key (32 random bytes, base64url, mode 0600), created once in the key folder. */
export const loadTotpSealKey = (runtimeRoot: string): { readonly key: Uint8Array; readonly file: string } => {
  const file = path.join(runtimeRoot, TOTP_SEAL_KEY_RELATIVE)
  const stored = createOnce(file, `${crypto.randomBytes(32).toString("base64url")}\n`).trim()
  const key = Buffer.from(stored, "base64url")
  if (key.length !== 32) throw new Error(`${file} does not hold a 32-byte key`)
  return { key: new Uint8Array(key), file }
}
