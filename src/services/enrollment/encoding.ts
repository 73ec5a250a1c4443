// Byte-level rules of the enrollment handshake. spec: auth-enrollment.md §1.1, §1.2, §2.2, §2.3
import * as crypto from "node:crypto"

const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

/** Python `base64.b64decode(value, validate=True)`: standard alphabet, correct padding, else undefined. */
export const decodeStrictBase64 = (value: string): Buffer | undefined =>
  STRICT_BASE64.test(value) ? Buffer.from(value, "base64") : undefined

/** The agent key as sent: whitespace dropped, URL-safe alphabet mapped back (`normalize_base64`). */
export const normalizeBase64 = (value: string): string => value.replace(/\s+/g, "").replaceAll("-", "+").replaceAll("_", "/")

/** Lowercase hex SHA-256 over the SPKI DER: the device identity anchor. */
export const fingerprintOfSpki = (spkiDer: Uint8Array): string => crypto.createHash("sha256").update(spkiDer).digest("hex")

/** An Ed25519 public key from SPKI DER, or undefined for anything else (RSA, P-256, garbage). */
export const ed25519PublicKey = (spkiDer: Uint8Array): crypto.KeyObject | undefined => {
  try {
    const key = crypto.createPublicKey({ key: Buffer.from(spkiDer), format: "der", type: "spki" })
    return key.asymmetricKeyType === "ed25519" ? key : undefined
  } catch {
    return undefined
  }
}

/** `server_nonce_raw || UTF-8(approval_reference) || client_nonce_raw`, no separators. */
export const proofMessage = (serverNonce: Uint8Array, approvalReference: string, clientNonce: Uint8Array): Buffer =>
  Buffer.concat([serverNonce, Buffer.from(approvalReference, "utf8"), clientNonce])

export const verifyEd25519 = (key: crypto.KeyObject, message: Uint8Array, signature: Uint8Array): boolean => {
  try {
    return crypto.verify(null, message, key, signature)
  } catch {
    return false
  }
}

/** 32 CSPRNG bytes, standard base64 with padding. */
export const newServerNonce = (): string => crypto.randomBytes(32).toString("base64")

/** Codes are never logged whole: `ABC***XYZ`. */
export const maskCode = (code: string): string => {
  const trimmed = code.trim()
  if (trimmed === "") return "<missing>"
  return trimmed.length <= 6 ? "***" : `${trimmed.slice(0, 3)}***${trimmed.slice(-3)}`
}
