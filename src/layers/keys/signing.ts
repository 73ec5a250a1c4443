// Persistent Ed25519 keys: the access-token (JWT) key and the script-signing key.
// spec: config-bootstrap-tests.md §1.3 (JWT, SIGN), auth-enrollment.md §3.1, §2.6
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { createOnce, readIfExists, writeSecretFile } from "./files.ts"

export interface Ed25519Key {
  readonly privateKey: crypto.KeyObject
  readonly publicKey: crypto.KeyObject
  /** DER SubjectPublicKeyInfo of the public key. */
  readonly spkiDer: Buffer
  /** Where it was read from (or written to). */
  readonly file: string
  readonly created: boolean
}

const fromPem = (pem: string, file: string, created: boolean): Ed25519Key => {
  const privateKey = crypto.createPrivateKey(pem)
  if (privateKey.asymmetricKeyType !== "ed25519") {
    throw new Error(`${file} holds a ${privateKey.asymmetricKeyType ?? "non-asymmetric"} key, not Ed25519`)
  }
  const publicKey = crypto.createPublicKey(privateKey)
  return { privateKey, publicKey, spkiDer: publicKey.export({ format: "der", type: "spki" }), file, created }
}

const newPem = (): string =>
  crypto.generateKeyPairSync("ed25519").privateKey.export({ format: "pem", type: "pkcs8" }).toString()

/**
 * Load the key at `primary`, else the first legacy file that exists (read, never written), else create
 * `primary` once (mode 0600) and reuse it forever.
 */
export const loadOrCreateEd25519 = (primary: string, legacy: ReadonlyArray<string>): Ed25519Key => {
  const existing = readIfExists(primary)
  if (existing !== undefined) return fromPem(existing, primary, false)
  for (const file of legacy) {
    const pem = readIfExists(file)
    if (pem !== undefined) return fromPem(pem, file, false)
  }
  const pem = newPem()
  const stored = createOnce(primary, pem)
  return fromPem(stored, primary, stored === pem)
}

/** `kid` = first 16 hex characters of SHA-256 over the DER SubjectPublicKeyInfo. */
export const keyId = (spkiDer: Uint8Array): string => crypto.createHash("sha256").update(spkiDer).digest("hex").slice(0, 16)

export const JWT_KEY_RELATIVE = path.join("auth_keys", "engine-jwt-ed25519.key")
export const JWT_LEGACY_RELATIVE = path.join("keys", "borealis-jwt-ed25519.key")

export const loadJwtKey = (runtimeRoot: string): Ed25519Key =>
  loadOrCreateEd25519(path.join(runtimeRoot, JWT_KEY_RELATIVE), [path.join(runtimeRoot, JWT_LEGACY_RELATIVE)])

export const scriptKeyFiles = (serverCertRoot: string, runtimeRoot: string) => ({
  primary: {
    key: path.join(serverCertRoot, "Code-Signing", "engine-script-ed25519.key"),
    pub: path.join(serverCertRoot, "Code-Signing", "engine-script-ed25519.pub")
  },
  legacy: [
    // current Engine (L-sign) name, then the modular Engine's legacy fallback (ES-sign)
    path.join(serverCertRoot, "Code-Signing", "borealis-script-ed25519.key"),
    path.join(runtimeRoot, "keys", "borealis-script-ed25519.key")
  ]
})

/** The script-signing key; its public half is also written as raw SPKI DER next to a created key. */
export const loadScriptKey = (serverCertRoot: string, runtimeRoot: string): Ed25519Key => {
  const files = scriptKeyFiles(serverCertRoot, runtimeRoot)
  const key = loadOrCreateEd25519(files.primary.key, files.legacy)
  if (key.file === files.primary.key && !fs.existsSync(files.primary.pub)) writeSecretFile(files.primary.pub, key.spkiDer)
  return key
}

/** Ed25519 over the exact bytes; base64 signature (what agents verify). spec: realtime-jobs.md §2.4 */
export const signDetached = (key: crypto.KeyObject, data: Uint8Array): string =>
  crypto.sign(null, data, key).toString("base64")
