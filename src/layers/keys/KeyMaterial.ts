// One service for the Engine's key and certificate material: the TLS identity the listener presents
// (and hands to agents), the access-token signing key, and the script-signing key.
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type * as jose from "jose"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { EngineConfig } from "../Config.ts"
import { makePrivateDir } from "../fileModes.ts"
import { ensureTlsMaterial, serverNames, type TlsFiles } from "./tls.ts"
import { type Ed25519Key, keyId, loadJwtKey, loadScriptKey, signDetached } from "./signing.ts"
import { keyFingerprint, loadOperatorSecret, loadTotpSealKey, makeSealer, operatorTokenKey, type Sealer } from "./operatorSecrets.ts"

export class KeyMaterialError extends Schema.TaggedError<KeyMaterialError>()("KeyMaterialError", {
  what: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `${this.what}: ${this.reason}`
  }
}

export interface TlsIdentity {
  readonly keyPem: string
  /** The PEM chain the listener presents; byte-for-byte what agents receive as `server_certificate`. */
  readonly chainPem: string
  readonly minVersion: "TLSv1.2" | "TLSv1.3"
  readonly files: Partial<TlsFiles> & { readonly chainFile: string; readonly keyFile: string }
}

export interface AccessTokenKey {
  readonly privateKey: crypto.KeyObject
  readonly publicKey: crypto.KeyObject
  readonly kid: string
  /** `{kty:"OKP", crv:"Ed25519", kid, alg:"EdDSA", use:"sig", x}` (JWT `public_jwk()`). */
  readonly publicJwk: jose.JWK
}

export interface ScriptSigner {
  /** base64 of the SPKI DER (`signing_key` in enrollment answers and `quick_job_run`). */
  readonly publicKeyBase64: string
  readonly publicKey: crypto.KeyObject
  readonly sign: (data: Uint8Array) => string
}

export interface KeyMaterialShape {
  /** None when serving plain HTTP behind a TLS-terminating proxy. */
  readonly tls: Option.Option<TlsIdentity>
  /** The `server_certificate` agents pin: the presented chain, or "" in plain-HTTP mode. */
  readonly agentBundle: string
  readonly accessToken: AccessTokenKey
  /** None when the signing key could not be loaded (the original then runs without a signer). */
  readonly scriptSigner: Option.Option<ScriptSigner>
  /**
   * The HS256 key of operator tokens and its fingerprint (safe to log; nodes sharing a database must
   * show the same one).
   */
  readonly operatorTokens: { readonly key: Uint8Array; readonly fingerprint: string }
  /** Seals TOTP seeds at rest. */
  readonly totpSealer: Sealer
}

/** What TOTP seeds are sealed for (bound into the ciphertext, so a sealed value cannot be moved elsewhere). */
export const TOTP_SEAL_CONTEXT = "borealis-totp-seed"

export const accessTokenKeyOf = (key: Pick<Ed25519Key, "privateKey" | "publicKey" | "spkiDer">): AccessTokenKey => {
  const kid = keyId(key.spkiDer)
  const jwk = key.publicKey.export({ format: "jwk" })
  return {
    privateKey: key.privateKey,
    publicKey: key.publicKey,
    kid,
    publicJwk: { kty: "OKP", crv: "Ed25519", kid, alg: "EdDSA", use: "sig", x: String(jwk.x) }
  }
}

export const scriptSignerOf = (key: Pick<Ed25519Key, "privateKey" | "publicKey" | "spkiDer">): ScriptSigner => ({
  publicKeyBase64: Buffer.from(key.spkiDer).toString("base64"),
  publicKey: key.publicKey,
  sign: (data) => signDetached(key.privateKey, data)
})

const attempt = <A>(what: string, f: () => A | Promise<A>) =>
  Effect.tryPromise({
    try: async () => f(),
    catch: (cause) => new KeyMaterialError({ what, reason: cause instanceof Error ? cause.message : String(cause) })
  })

const leafMatchesKey = (chainPem: string, keyPem: string): boolean => {
  try {
    return new crypto.X509Certificate(chainPem).checkPrivateKey(crypto.createPrivateKey(keyPem))
  } catch {
    return false
  }
}

export class KeyMaterial extends Context.Tag("borealis/KeyMaterial")<KeyMaterial, KeyMaterialShape>() {
  /** Files under the configured roots; created once, reused on every start. Logs `tls-material-ready`. */
  static readonly Live: Layer.Layer<KeyMaterial, KeyMaterialError, EngineConfig> = Layer.effect(
    KeyMaterial,
    Effect.gen(function*() {
      const config = yield* EngineConfig
      let tls: Option.Option<TlsIdentity> = Option.none()
      if (config.tls.enabled) {
        if (Option.isSome(config.tls.certFile) && Option.isSome(config.tls.keyFile)) {
          const certFile = config.tls.certFile.value
          const keyFile = config.tls.keyFile.value
          const chainFile = Option.getOrElse(config.tls.bundleFile, () => certFile)
          const keyPem = yield* attempt("BOREALIS_TLS_KEY", () => fs.readFileSync(keyFile, "utf8"))
          const chainPem = yield* attempt("BOREALIS_TLS_CERT", () => fs.readFileSync(chainFile, "utf8"))
          if (!leafMatchesKey(chainPem, keyPem)) {
            return yield* new KeyMaterialError({
              what: chainFile,
              reason: "the first certificate does not match BOREALIS_TLS_KEY"
            })
          }
          tls = Option.some({ keyPem, chainPem, minVersion: config.tls.minVersion, files: { chainFile, keyFile, certFile } })
        } else {
          const names = serverNames(os.hostname(), config.tls.extraNames)
          const ensured = yield* attempt("TLS certificates", () =>
            ensureTlsMaterial({
              dir: config.serverCertRoot,
              legacyDir: path.join(config.runtimeRoot, "certs"),
              names
            }))
          for (const why of ensured.regenerated) {
            yield* Effect.logInfo("tls-certificate-generated").pipe(Effect.annotateLogs({ which: why }))
          }
          let chainPem = ensured.bundlePem
          let chainFile = ensured.files.bundleFile
          if (Option.isSome(config.tls.bundleFile) && config.tls.bundleFile.value !== ensured.files.bundleFile) {
            chainFile = config.tls.bundleFile.value
            chainPem = yield* attempt("BOREALIS_TLS_BUNDLE", () => fs.readFileSync(chainFile, "utf8"))
            if (!leafMatchesKey(chainPem, ensured.keyPem)) {
              return yield* new KeyMaterialError({ what: chainFile, reason: "the first certificate does not match the server key" })
            }
          }
          tls = Option.some({
            keyPem: ensured.keyPem,
            chainPem,
            minVersion: config.tls.minVersion,
            files: { ...ensured.files, chainFile, keyFile: ensured.files.keyFile }
          })
        }
      }
      makePrivateDir(config.agentCertRoot)
      const jwt = yield* attempt("access-token signing key", () => loadJwtKey(config.runtimeRoot))
      const script = yield* attempt("script-signing key", () => loadScriptKey(config.serverCertRoot, config.runtimeRoot)).pipe(
        Effect.map(Option.some),
        Effect.catchAll((error) =>
          Effect.as(Effect.logWarning(`script signer unavailable: ${error.reason}`), Option.none<Ed25519Key>())
        )
      )
      const operatorSecret = yield* attempt("operator-token secret", () => loadOperatorSecret(config.runtimeRoot, config.secretKey))
      const operatorKey = operatorTokenKey(operatorSecret.secret)
      if (operatorSecret.created) yield* Effect.logInfo("operator-secret-generated").pipe(Effect.annotateLogs({ file: operatorSecret.source }))
      const totpKey = yield* attempt("TOTP sealing key", () => loadTotpSealKey(config.runtimeRoot))
      yield* Effect.logInfo("tls-material-ready").pipe(
        Effect.annotateLogs({
          tls: Option.isSome(tls) ? "enabled" : "disabled",
          ...(Option.isSome(tls) ? { chain: tls.value.files.chainFile, key: tls.value.files.keyFile } : {}),
          jwt_key: jwt.file,
          ...(Option.isSome(script) ? { script_key: script.value.file } : {}),
          operator_secret: operatorSecret.source,
          operator_secret_fingerprint: keyFingerprint(operatorKey)
        })
      )
      return {
        tls,
        agentBundle: Option.match(tls, { onNone: () => "", onSome: (t) => t.chainPem }),
        accessToken: accessTokenKeyOf(jwt),
        scriptSigner: Option.map(script, scriptSignerOf),
        operatorTokens: { key: operatorKey, fingerprint: keyFingerprint(operatorKey) },
        totpSealer: makeSealer(totpKey.key, TOTP_SEAL_CONTEXT)
      }
    })
  )

  /** Fresh in-memory keys, no TLS: for tests that do not care where keys live. */
  static readonly Test: Layer.Layer<KeyMaterial> = Layer.sync(KeyMaterial, () => {
    const make = () => {
      const { privateKey, publicKey } = crypto.generateKeyPairSync("ed25519")
      return { privateKey, publicKey, spkiDer: publicKey.export({ format: "der", type: "spki" }) }
    }
    const operatorKey = new Uint8Array(crypto.randomBytes(32))
    return {
      tls: Option.none(),
      agentBundle: "",
      accessToken: accessTokenKeyOf(make()),
      scriptSigner: Option.some(scriptSignerOf(make())),
      operatorTokens: { key: operatorKey, fingerprint: keyFingerprint(operatorKey) },
      totpSealer: makeSealer(new Uint8Array(crypto.randomBytes(32)), TOTP_SEAL_CONTEXT)
    }
  })
}
