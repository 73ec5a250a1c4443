import { describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import * as tls from "node:tls"
import { EngineConfig } from "../../src/layers/Config.ts"
import { KeyMaterial } from "../../src/layers/keys/KeyMaterial.ts"
import { keyId } from "../../src/layers/keys/signing.ts"
import { ensureTlsMaterial, sanList, serverNames, tlsFilesIn } from "../../src/layers/keys/tls.ts"
import { startEngine, tempRoot } from "../support/engine.ts"

const keysFor = (root: string, env: Record<string, string> = {}) =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const ctx = yield* Layer.buildWithScope(KeyMaterial.Live.pipe(Layer.provideMerge(EngineConfig.forRoot(root, env))), scope)
    return { keys: Context.get(ctx, KeyMaterial), config: Context.get(ctx, EngineConfig) }
  })

const mode = (file: string) => fs.statSync(file).mode & 0o777

describe("TLS material (spec §1.3 CERT)", () => {
  it.scoped("root CA and server certificate carry the specified fields", () =>
    Effect.gen(function*() {
      const root = tempRoot()
      const { config } = yield* keysFor(root, { BOREALIS_TLS_SANS: "rmm.example,10.1.2.3" })
      const files = tlsFilesIn(config.serverCertRoot)
      const ca = new crypto.X509Certificate(fs.readFileSync(files.caCertFile))
      const leaf = new crypto.X509Certificate(fs.readFileSync(files.certFile))
      expect(ca.subject).toBe("CN=Borealis Root CA\nO=Borealis")
      expect(ca.ca).toBe(true)
      expect(ca.publicKey.asymmetricKeyDetails?.namedCurve).toBe("secp384r1")
      const caYears = (new Date(ca.validTo).getTime() - new Date(ca.validFrom).getTime()) / (365.25 * 86400_000)
      expect(Math.round(caYears)).toBe(100)
      expect(Date.now() - new Date(ca.validFrom).getTime()).toBeGreaterThanOrEqual(4 * 60_000)
      expect(leaf.subject).toBe("CN=Borealis Engine\nO=Borealis")
      expect(leaf.issuer).toBe(ca.subject)
      expect(leaf.verify(ca.publicKey)).toBe(true)
      expect(leaf.ca).toBe(false)
      expect(leaf.publicKey.asymmetricKeyDetails?.namedCurve).toBe("secp384r1")
      expect(leaf.keyUsage).toEqual(["1.3.6.1.5.5.7.3.1"])
      const leafYears = (new Date(leaf.validTo).getTime() - new Date(leaf.validFrom).getTime()) / (365 * 86400_000)
      expect(Math.round(leafYears)).toBe(5)
      // IP SANs for 127.0.0.1 and ::1 (the original wrote them as DNS names), DNS localhost, the host, extras
      const sans = sanList(leaf)
      expect(sans).toEqual(expect.arrayContaining(["dns:localhost", "ip:127.0.0.1", "ip:::1", "dns:rmm.example", "ip:10.1.2.3"]))
      expect(sans).not.toContain("dns:127.0.0.1")
      expect(leaf.checkHost("localhost")).toBe("localhost")
      expect(leaf.checkIP("127.0.0.1")).toBe("127.0.0.1")
      // signature algorithm: ECDSA with SHA-384 (OID 1.2.840.10045.4.3.3 in the DER)
      expect(leaf.raw.includes(Buffer.from("06082a8648ce3d040303", "hex"))).toBe(true)
      // bundle = leaf + CA, stripped, newline-joined, final newline
      const bundle = fs.readFileSync(files.bundleFile, "utf8")
      expect(bundle).toBe(`${fs.readFileSync(files.certFile, "utf8").trim()}\n${fs.readFileSync(files.caCertFile, "utf8").trim()}\n`)
      for (const f of Object.values(files)) expect(mode(f)).toBe(0o600)
    }))

  it.scoped("a restart reuses the CA, the certificate and both signing keys", () =>
    Effect.gen(function*() {
      const root = tempRoot()
      const first = yield* keysFor(root)
      const files = tlsFilesIn(first.config.serverCertRoot)
      const before = Object.fromEntries(Object.entries(files).map(([k, f]) => [k, fs.readFileSync(f, "utf8")]))
      const second = yield* keysFor(root)
      for (const [k, f] of Object.entries(files)) expect(fs.readFileSync(f, "utf8")).toBe(before[k])
      expect(second.keys.accessToken.kid).toBe(first.keys.accessToken.kid)
      expect(Option.getOrThrow(second.keys.scriptSigner).publicKeyBase64).toBe(Option.getOrThrow(first.keys.scriptSigner).publicKeyBase64)
      expect(second.keys.agentBundle).toBe(before["bundleFile"])
      const jwtFile = path.join(first.config.runtimeRoot, "auth_keys", "engine-jwt-ed25519.key")
      expect(mode(jwtFile)).toBe(0o600)
      const spki = crypto.createPublicKey(crypto.createPrivateKey(fs.readFileSync(jwtFile))).export({ format: "der", type: "spki" })
      expect(first.keys.accessToken.kid).toBe(crypto.createHash("sha256").update(spki).digest("hex").slice(0, 16))
      expect(first.keys.accessToken.kid).toBe(keyId(spki))
      expect(first.keys.accessToken.publicJwk).toMatchObject({ kty: "OKP", crv: "Ed25519", alg: "EdDSA", use: "sig" })
      const pub = fs.readFileSync(path.join(first.config.serverCertRoot, "Code-Signing", "engine-script-ed25519.pub"))
      expect(pub.toString("base64")).toBe(Option.getOrThrow(first.keys.scriptSigner).publicKeyBase64)
    }))

  it.effect("changing the configured names regenerates only the server certificate", () =>
    Effect.promise(async () => {
      const dir = path.join(tempRoot(), "Server")
      const legacyDir = path.join(dir, "..", "legacy")
      const a = await ensureTlsMaterial({ dir, legacyDir, names: serverNames("host-a", []) })
      const ca = fs.readFileSync(a.files.caCertFile, "utf8")
      const same = await ensureTlsMaterial({ dir, legacyDir, names: serverNames("host-a", []) })
      expect(same.regenerated).toEqual([])
      const b = await ensureTlsMaterial({ dir, legacyDir, names: serverNames("host-a", ["extra.example"]) })
      expect(b.regenerated).toEqual(["server (configured names changed)"])
      expect(fs.readFileSync(b.files.caCertFile, "utf8")).toBe(ca)
    }))

  it.effect("an expired or foreign server certificate and a non-CA root are replaced", () =>
    Effect.promise(async () => {
      const dir = path.join(tempRoot(), "Server")
      const legacyDir = path.join(dir, "..", "legacy")
      const names = serverNames("h", [])
      const first = await ensureTlsMaterial({ dir, legacyDir, names })
      const later = await ensureTlsMaterial({ dir, legacyDir, names, now: new Date(Date.now() + 6 * 365 * 86400_000) })
      expect(later.regenerated).toEqual(["server (expired)"])
      // replace the CA with the server certificate (not a CA): both are regenerated
      fs.copyFileSync(first.files.certFile, first.files.caCertFile)
      fs.copyFileSync(first.files.keyFile, first.files.caKeyFile)
      const repaired = await ensureTlsMaterial({ dir, legacyDir, names })
      expect(repaired.regenerated).toEqual(["root-ca (not a CA)", "server (issuer no longer matches the CA)"])
    }))

  it.scoped("the presented chain is exactly the bundle agents receive", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const keys = Context.get(engine.context, KeyMaterial)
      const presented = yield* Effect.promise(() =>
        new Promise<Array<string>>((resolve, reject) => {
          const socket = tls.connect({ host: "127.0.0.1", port: engine.port, servername: "localhost", ca: engine.ca }, () => {
            const chain: Array<string> = []
            let cert: tls.DetailedPeerCertificate | undefined = socket.getPeerCertificate(true)
            const seen = new Set<string>()
            while (cert !== undefined && cert.raw !== undefined && !seen.has(cert.fingerprint256)) {
              seen.add(cert.fingerprint256)
              chain.push(new crypto.X509Certificate(cert.raw).toString().trim())
              cert = cert.issuerCertificate
            }
            socket.end()
            resolve(chain)
          })
          socket.on("error", reject)
        }))
      expect(presented.join("\n") + "\n").toBe(keys.agentBundle)
    }))
})
