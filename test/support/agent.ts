// A test agent built from node:crypto, speaking the enrollment protocol the way the real agents do
// (spec: auth-enrollment.md §2.2–§2.3, §8).
import * as crypto from "node:crypto"
import type { Client, Reply } from "./http.ts"

export class TestAgent {
  readonly privateKey: crypto.KeyObject
  readonly publicKeyB64: string
  readonly fingerprint: string
  readonly clientNonce: string
  readonly client: Client
  hostname: string
  guid = ""
  accessToken = ""
  refreshToken = ""

  constructor(client: Client, hostname: string, keyPair = crypto.generateKeyPairSync("ed25519")) {
    this.client = client
    this.hostname = hostname
    this.privateKey = keyPair.privateKey
    const spki = keyPair.publicKey.export({ format: "der", type: "spki" })
    this.publicKeyB64 = spki.toString("base64")
    this.fingerprint = crypto.createHash("sha256").update(spki).digest("hex")
    this.clientNonce = crypto.randomBytes(32).toString("base64")
  }

  request(code: string, extra: Record<string, unknown> = {}, headers?: Record<string, string>): Promise<Reply> {
    return this.client.post("/api/agent/enroll/request", {
      hostname: this.hostname,
      enrollment_code: code,
      agent_pubkey: this.publicKeyB64,
      client_nonce: this.clientNonce,
      ...extra
    }, headers)
  }

  /** Ed25519 over `server_nonce || approval_reference || client_nonce` (raw bytes). */
  proof(serverNonceB64: string, reference: string): string {
    const message = Buffer.concat([Buffer.from(serverNonceB64, "base64"), Buffer.from(reference, "utf8"), Buffer.from(this.clientNonce, "base64")])
    return crypto.sign(null, message, this.privateKey).toString("base64")
  }

  async poll(reference: string, serverNonce: string): Promise<Reply> {
    const reply = await this.client.post("/api/agent/enroll/poll", {
      approval_reference: reference,
      client_nonce: this.clientNonce,
      proof_sig: this.proof(serverNonce, reference)
    })
    if (reply.json?.access_token) {
      this.guid = reply.json.guid
      this.accessToken = reply.json.access_token
      this.refreshToken = reply.json.refresh_token
    }
    return reply
  }

  refresh(extra: Record<string, unknown> = {}, headers?: Record<string, string>): Promise<Reply> {
    return this.client.post("/api/agent/token/refresh", { guid: this.guid, refresh_token: this.refreshToken, ...extra }, headers)
  }

  authed(path: string, body: unknown = {}, headers: Record<string, string> = {}): Promise<Reply> {
    return this.client.post(path, body, { authorization: `Bearer ${this.accessToken}`, ...headers })
  }
}
