// Root CA + server certificate, generated with @peculiar/x509 on WebCrypto and validated with Node's
// X509Certificate. spec: config-bootstrap-tests.md §1.3 (CERT), auth-enrollment.md §2.6
// @peculiar/x509 resolves its providers through tsyringe, which needs the Reflect metadata polyfill first.
import "reflect-metadata"
import * as x509 from "@peculiar/x509"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { isIP } from "node:net"
import { makePrivateDir } from "../fileModes.ts"
import { readIfExists, writeSecretFile } from "./files.ts"

type WebCrypto = Parameters<typeof x509.cryptoProvider.set>[0]
type CryptoKey = crypto.webcrypto.CryptoKey
interface CryptoKeyPair {
  readonly privateKey: CryptoKey
  readonly publicKey: CryptoKey
}
x509.cryptoProvider.set(crypto.webcrypto as unknown as WebCrypto)

export const CA_COMMON_NAME = "Borealis Root CA"
export const SERVER_COMMON_NAME = "Borealis Engine"
export const ORGANISATION = "Borealis"
const EC = { name: "ECDSA", namedCurve: "P-384", hash: "SHA-384" } as const
const FIVE_MINUTES = 5 * 60 * 1000
const DAY = 24 * 60 * 60 * 1000

export const TLS_FILES = {
  cert: "borealis-server-cert.pem",
  key: "borealis-server-key.pem",
  bundle: "borealis-server-bundle.pem",
  caCert: "borealis-root-ca.pem",
  caKey: "borealis-root-ca-key.pem"
} as const

export interface TlsFiles {
  readonly certFile: string
  readonly keyFile: string
  readonly bundleFile: string
  readonly caCertFile: string
  readonly caKeyFile: string
}

export const tlsFilesIn = (dir: string): TlsFiles => ({
  certFile: path.join(dir, TLS_FILES.cert),
  keyFile: path.join(dir, TLS_FILES.key),
  bundleFile: path.join(dir, TLS_FILES.bundle),
  caCertFile: path.join(dir, TLS_FILES.caCert),
  caKeyFile: path.join(dir, TLS_FILES.caKey)
})

/** Names the server certificate covers: DNS localhost, IP 127.0.0.1 and ::1 (as IP SANs), the host, extras. */
export const serverNames = (hostname: string, extra: ReadonlyArray<string>): ReadonlyArray<string> => {
  const names = ["localhost", "127.0.0.1", "::1", hostname, ...extra].map((n) => n.trim()).filter((n) => n !== "")
  return Array.from(new Set(names.map((n) => (isIP(n) ? n : n.toLowerCase()))))
}

const sanEntries = (names: ReadonlyArray<string>) =>
  names.map((value) => ({ type: isIP(value) ? ("ip" as const) : ("dns" as const), value }))

/** Node renders SANs as `DNS:a, IP Address:b`; normalise to a sorted comparable list. */
export const sanList = (cert: crypto.X509Certificate): ReadonlyArray<string> =>
  (cert.subjectAltName ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "")
    .map((s) => {
      const [kind, ...rest] = s.split(":")
      const value = rest.join(":")
      return kind === "IP Address" ? `ip:${normaliseIp(value)}` : `${(kind ?? "").toLowerCase()}:${value.toLowerCase()}`
    })
    .sort()

const normaliseIp = (ip: string): string => {
  if (isIP(ip) !== 6) return ip
  // Node prints IPv6 SANs fully expanded (0:0:0:0:0:0:0:1); compare in a canonical compressed form.
  return new URL(`http://[${ip}]`).hostname.slice(1, -1)
}

export const expectedSanList = (names: ReadonlyArray<string>): ReadonlyArray<string> =>
  names.map((n) => (isIP(n) ? `ip:${normaliseIp(n)}` : `dns:${n.toLowerCase()}`)).sort()

const randomSerial = (): string => {
  const bytes = crypto.randomBytes(16)
  bytes[0] = bytes[0]! & 0x7f
  return bytes.toString("hex")
}

const exportPrivatePem = async (key: CryptoKey): Promise<string> => {
  const der = Buffer.from(await crypto.webcrypto.subtle.exportKey("pkcs8", key))
  return crypto.createPrivateKey({ key: der, format: "der", type: "pkcs8" }).export({ format: "pem", type: "pkcs8" }).toString()
}

const importEcPrivate = async (pem: string): Promise<CryptoKeyPair> => {
  const keyObject = crypto.createPrivateKey(pem)
  const pkcs8 = keyObject.export({ format: "der", type: "pkcs8" })
  const spki = crypto.createPublicKey(keyObject).export({ format: "der", type: "spki" })
  const subtle = crypto.webcrypto.subtle
  const privateKey = await subtle.importKey("pkcs8", pkcs8, EC, true, ["sign"])
  const publicKey = await subtle.importKey("spki", spki, EC, true, ["verify"])
  return { privateKey, publicKey }
}

const generateEcKeys = async (): Promise<CryptoKeyPair> =>
  (await crypto.webcrypto.subtle.generateKey(EC, true, ["sign", "verify"])) as CryptoKeyPair

const parseCert = (pem: string | undefined): crypto.X509Certificate | undefined => {
  if (pem === undefined) return undefined
  try {
    return new crypto.X509Certificate(pem)
  } catch {
    return undefined
  }
}

const parseKey = (pem: string | undefined): crypto.KeyObject | undefined => {
  if (pem === undefined) return undefined
  try {
    return crypto.createPrivateKey(pem)
  } catch {
    return undefined
  }
}

const commonName = (dn: string): string | undefined =>
  dn.split("\n").map((l) => l.trim()).find((l) => l.startsWith("CN="))?.slice(3)

/** Why a stored root CA must be replaced, or undefined when it is still good (CERT rules). */
export const caProblem = (cert: crypto.X509Certificate | undefined, key: crypto.KeyObject | undefined, now: Date): string | undefined => {
  if (cert === undefined) return "missing"
  if (key === undefined || !cert.checkPrivateKey(key)) return "key missing or not matching"
  if (new Date(cert.validTo) <= now) return "expired"
  if (!cert.ca) return "not a CA"
  if (commonName(cert.subject) !== CA_COMMON_NAME) return "common name differs"
  return undefined
}

/** Why a stored server certificate must be replaced, or undefined (CERT rules plus configured names). */
export const serverProblem = (
  cert: crypto.X509Certificate | undefined,
  key: crypto.KeyObject | undefined,
  ca: crypto.X509Certificate,
  names: ReadonlyArray<string>,
  now: Date
): string | undefined => {
  if (cert === undefined) return "missing"
  if (key === undefined || !cert.checkPrivateKey(key)) return "key missing or not matching"
  if (cert.issuer !== ca.subject || !cert.verify(ca.publicKey)) return "issuer no longer matches the CA"
  if (new Date(cert.validTo) <= now) return "expired"
  if (cert.ca) return "is a CA"
  if (!(cert.keyUsage ?? []).includes(x509.ExtendedKeyUsage.serverAuth)) return "serverAuth missing"
  if (sanList(cert).join(",") !== expectedSanList(names).join(",")) return "configured names changed"
  return undefined
}

const createCa = async (now: Date) => {
  const keys = await generateEcKeys()
  const name = `CN=${CA_COMMON_NAME}, O=${ORGANISATION}`
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: name,
    issuer: name,
    notBefore: new Date(now.getTime() - FIVE_MINUTES),
    notAfter: new Date(now.getTime() + 100 * 365.25 * DAY),
    signingAlgorithm: EC,
    publicKey: keys.publicKey,
    signingKey: keys.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(keys.publicKey)
    ]
  })
  return { certPem: cert.toString("pem"), keyPem: await exportPrivatePem(keys.privateKey) }
}

const createServer = async (caCertPem: string, caKeyPem: string, names: ReadonlyArray<string>, now: Date) => {
  const ca = new x509.X509Certificate(caCertPem)
  const caKeys = await importEcPrivate(caKeyPem)
  const keys = await generateEcKeys()
  const fiveYears = now.getTime() + 5 * 365 * DAY
  const notAfter = new Date(Math.min(fiveYears, ca.notAfter.getTime() - DAY))
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: `CN=${SERVER_COMMON_NAME}, O=${ORGANISATION}`,
    issuer: ca.subject,
    notBefore: new Date(now.getTime() - FIVE_MINUTES),
    notAfter,
    signingAlgorithm: EC,
    publicKey: keys.publicKey,
    signingKey: caKeys.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(sanEntries(names)),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey)
    ]
  })
  return { certPem: cert.toString("pem"), keyPem: await exportPrivatePem(keys.privateKey) }
}

/** Leaf PEM and CA PEM, each stripped, joined by a newline, with a final newline (`_write_bundle`). */
export const bundleOf = (leafPem: string, caPem: string): string => `${leafPem.trim()}\n${caPem.trim()}\n`

export interface EnsuredTls {
  readonly files: TlsFiles
  readonly keyPem: string
  readonly bundlePem: string
  readonly caCertPem: string
  readonly regenerated: ReadonlyArray<string>
}

/**
 * Make sure the CA, server certificate and bundle exist and satisfy the regeneration rules; reuse
 * everything that is still good. `legacyDir` (`<runtime>/certs`) seeds a missing server cert and key.
 */
export const ensureTlsMaterial = async (options: {
  readonly dir: string
  readonly legacyDir: string
  readonly names: ReadonlyArray<string>
  readonly now?: Date
}): Promise<EnsuredTls> => {
  const now = options.now ?? new Date()
  const files = tlsFilesIn(options.dir)
  makePrivateDir(options.dir)
  const regenerated: Array<string> = []

  for (const [name, target] of [[TLS_FILES.cert, files.certFile], [TLS_FILES.key, files.keyFile]] as const) {
    const legacy = path.join(options.legacyDir, name)
    if (!fs.existsSync(target) && fs.existsSync(legacy)) writeSecretFile(target, fs.readFileSync(legacy, "utf8"))
  }

  let caCertPem = readIfExists(files.caCertFile)
  let caKeyPem = readIfExists(files.caKeyFile)
  const caWhy = caProblem(parseCert(caCertPem), parseKey(caKeyPem), now)
  if (caWhy !== undefined) {
    const ca = await createCa(now)
    writeSecretFile(files.caKeyFile, ca.keyPem)
    writeSecretFile(files.caCertFile, ca.certPem)
    caCertPem = ca.certPem
    caKeyPem = ca.keyPem
    regenerated.push(`root-ca (${caWhy})`)
  }
  const caCert = parseCert(caCertPem)!

  let certPem = readIfExists(files.certFile)
  let keyPem = readIfExists(files.keyFile)
  const serverWhy = serverProblem(parseCert(certPem), parseKey(keyPem), caCert, options.names, now)
  if (serverWhy !== undefined) {
    const server = await createServer(caCertPem!, caKeyPem!, options.names, now)
    writeSecretFile(files.keyFile, server.keyPem)
    writeSecretFile(files.certFile, server.certPem)
    certPem = server.certPem
    keyPem = server.keyPem
    regenerated.push(`server (${serverWhy})`)
  }

  const bundlePem = bundleOf(certPem!, caCertPem!)
  if (readIfExists(files.bundleFile) !== bundlePem) writeSecretFile(files.bundleFile, bundlePem)
  for (const file of Object.values(files)) fs.chmodSync(file, 0o600)
  return { files, keyPem: keyPem!, bundlePem, caCertPem: caCertPem!, regenerated }
}
