// Enrollment as a real agent does it, and the operator calls that approve it.
// spec: auth-enrollment.md §1.1–§1.3, §1.6, §2.2–§2.3, §8 (enrollment loop, poll pacing)
import * as crypto from "node:crypto"
import { errorCode, failureKind, field, type RestClient, RestNetworkError, type RestReply, retryAfterMs } from "./rest.ts"

export interface AgentKey {
  readonly privateKey: crypto.KeyObject
  /** Standard base64 of the Ed25519 SubjectPublicKeyInfo DER (starts `MCowBQYDK2VwAyEA`). */
  readonly publicKeyBase64: string
  /** Lowercase hex SHA-256 of the SPKI DER. */
  readonly fingerprint: string
}

export const spkiFingerprint = (spkiDer: Uint8Array): string => crypto.createHash("sha256").update(spkiDer).digest("hex")

export const newAgentKey = (): AgentKey => {
  const { privateKey, publicKey } = crypto.generateKeyPairSync("ed25519")
  const der = publicKey.export({ format: "der", type: "spki" })
  return { privateKey, publicKeyBase64: der.toString("base64"), fingerprint: spkiFingerprint(der) }
}

/** `server_nonce raw bytes || UTF-8(approval_reference) || client_nonce raw bytes` (§2.3). */
export const proofMessage = (serverNonceB64: string, approvalReference: string, clientNonceB64: string): Buffer =>
  Buffer.concat([Buffer.from(serverNonceB64, "base64"), Buffer.from(approvalReference, "utf8"), Buffer.from(clientNonceB64, "base64")])

export const signProof = (key: crypto.KeyObject, message: Uint8Array): string => crypto.sign(null, message, key).toString("base64")

/** The Python agent's pacing: `min(max(poll_after_ms / 1000, 1), 15)` seconds (§8). */
export const pythonPollDelayMs = (pollAfterMs: unknown): number => {
  const ms = typeof pollAfterMs === "number" && Number.isFinite(pollAfterMs) ? pollAfterMs : 5_000
  return Math.min(Math.max(ms, 1_000), 15_000)
}

/** `<HOSTNAME upper-cased, spaces→->_<GUID upper-cased>_<SYSTEM|CURRENTUSER>` (§8, realtime §2.2). */
export const composeAgentId = (hostname: string, guid: string, context: string): string =>
  `${hostname.trim().toUpperCase().replace(/\s+/g, "-")}_${guid.trim().toUpperCase()}_${context.toUpperCase()}`

export interface EnrolledTokens {
  readonly guid: string
  readonly accessToken: string
  readonly refreshToken: string
  /** Seconds (default 900 when the server omits it). */
  readonly expiresIn: number
}

export class EnrollmentFailed extends Error {
  override readonly name = "EnrollmentFailed"
  /** For counting: `request:http_400:invalid_enrollment_code`, `poll:denied`, `timeout`, … */
  readonly kind: string
  constructor(kind: string, message: string) {
    super(message)
    this.kind = kind
  }
}

export interface EnrollOptions {
  readonly hostname: string
  readonly enrollmentCode: string
  /** `X-Borealis-Agent-Context` */
  readonly context: string
  readonly key: AgentKey
  /** Delay between polls: a fixed override (benchmarks), else the Python agent's pacing. */
  readonly pollIntervalMs?: number
  /** Give up after this long (ms) waiting for approval. */
  readonly maxWaitMs: number
  readonly sleep: (ms: number) => Promise<void>
  /** Each request/poll call's latency (ms), for the stats. */
  readonly onCall?: (ms: number) => void
  readonly isCancelled?: () => boolean
}

const call = async (rest: RestClient, path: string, body: unknown, headers: Record<string, string>, onCall?: (ms: number) => void): Promise<RestReply> => {
  const t0 = performance.now()
  try {
    return await rest.post(path, body, headers)
  } finally {
    onCall?.(performance.now() - t0)
  }
}

/**
 * request → poll (proof signature) until approved → tokens. Rate-limited calls (429) are retried after
 * `Retry-After`; every other refusal fails with its kind, as the real agents stop on them.
 */
export const enroll = async (rest: RestClient, options: EnrollOptions): Promise<EnrolledTokens> => {
  const headers = { "x-borealis-agent-context": options.context }
  const clientNonce = crypto.randomBytes(32).toString("base64")
  const deadline = Date.now() + options.maxWaitMs
  const cancelled = () => options.isCancelled?.() === true
  const body = {
    hostname: options.hostname,
    enrollment_code: options.enrollmentCode,
    agent_pubkey: options.key.publicKeyBase64,
    client_nonce: clientNonce
  }
  let started: RestReply
  for (;;) {
    started = await call(rest, "/api/agent/enroll/request", body, headers, options.onCall).catch((error: unknown) => {
      throw new EnrollmentFailed(`request:${failureKind(error)}`, error instanceof Error ? error.message : String(error))
    })
    if (started.status === 429 && Date.now() < deadline && !cancelled()) {
      await options.sleep(retryAfterMs(started) ?? 1_000)
      continue
    }
    break
  }
  if (started.status !== 200) throw new EnrollmentFailed(`request:${failureKind(started)}`, started.text.slice(0, 200))
  const status = field(started.json, "status")
  const reference = field(started.json, "approval_reference")
  const serverNonce = field(started.json, "server_nonce")
  // Both real agents abort unless the answer is "pending" with a reference and nonce (§2.6, §8).
  if (status !== "pending") throw new EnrollmentFailed(`request:status_${String(status)}`, "unexpected enrollment status")
  if (typeof reference !== "string" || typeof serverNonce !== "string") {
    throw new EnrollmentFailed("request:malformed", "approval_reference/server_nonce missing")
  }
  const proof = signProof(options.key.privateKey, proofMessage(serverNonce, reference, clientNonce))
  let delay = options.pollIntervalMs ?? pythonPollDelayMs(field(started.json, "poll_after_ms"))
  for (;;) {
    if (cancelled()) throw new EnrollmentFailed("cancelled", "stopped")
    if (Date.now() + delay > deadline) throw new EnrollmentFailed("timeout", `not approved within ${options.maxWaitMs} ms`)
    await options.sleep(delay)
    let reply: RestReply
    try {
      reply = await call(rest, "/api/agent/enroll/poll", { approval_reference: reference, client_nonce: clientNonce, proof_sig: proof }, headers, options.onCall)
    } catch (error) {
      if (error instanceof RestNetworkError) {
        delay = options.pollIntervalMs ?? 5_000
        continue // like the agents: a failed poll is retried
      }
      throw error
    }
    if (reply.status === 429) {
      delay = retryAfterMs(reply) ?? 1_000
      continue
    }
    const pollStatus = field(reply.json, "status")
    if (reply.status === 200 && pollStatus === "pending") {
      delay = options.pollIntervalMs ?? pythonPollDelayMs(field(reply.json, "poll_after_ms"))
      continue
    }
    if (reply.status === 200 && (pollStatus === "approved" || pollStatus === "completed")) {
      const guid = field(reply.json, "guid")
      const accessToken = field(reply.json, "access_token")
      const refreshToken = field(reply.json, "refresh_token")
      const expiresIn = field(reply.json, "expires_in")
      if (typeof guid !== "string" || typeof accessToken !== "string" || typeof refreshToken !== "string") {
        throw new EnrollmentFailed("poll:approved_without_tokens", reply.text.slice(0, 200))
      }
      return { guid, accessToken, refreshToken, expiresIn: typeof expiresIn === "number" && expiresIn > 0 ? expiresIn : 900 }
    }
    if (typeof pollStatus === "string" && errorCode(reply.json) === undefined) throw new EnrollmentFailed(`poll:${pollStatus}`, reply.text.slice(0, 200))
    throw new EnrollmentFailed(`poll:${failureKind(reply)}`, reply.text.slice(0, 200))
  }
}

export interface PendingApproval {
  readonly id: string
  readonly hostname: string
  readonly status: string
}

/** An operator's logged-in session (cookie and/or bearer token from the login answer). spec §1.6 */
export class OperatorSession {
  private readonly rest: RestClient
  private readonly headers: Record<string, string>

  private constructor(rest: RestClient, headers: Record<string, string>) {
    this.rest = rest
    this.headers = headers
  }

  /** `POST /api/auth/login {username, password}` (also `password_sha512`, which the web UI sends). */
  static async login(rest: RestClient, username: string, password: string): Promise<OperatorSession> {
    const passwordSha512 = crypto.createHash("sha512").update(password).digest("hex")
    const reply = await rest.post("/api/auth/login", { username, password, password_sha512: passwordSha512 })
    if (reply.status !== 200) throw new EnrollmentFailed(`login:${failureKind(reply)}`, reply.text.slice(0, 200))
    const cookies: Array<string> = []
    for (const set of reply.headers["set-cookie"] ?? []) {
      const pair = set.split(";")[0]
      if (pair !== undefined && pair.includes("=")) cookies.push(pair.trim())
    }
    const headers: Record<string, string> = {}
    if (cookies.length > 0) headers["cookie"] = cookies.join("; ")
    const token = field(reply.json, "token")
    if (typeof token === "string" && token !== "") headers["authorization"] = `Bearer ${token}`
    return new OperatorSession(rest, headers)
  }

  async pendingApprovals(): Promise<ReadonlyArray<PendingApproval>> {
    const reply = await this.rest.get("/api/admin/device-approvals?status=pending", this.headers)
    if (reply.status !== 200) throw new EnrollmentFailed(`approvals:${failureKind(reply)}`, reply.text.slice(0, 200))
    const list = field(reply.json, "approvals")
    if (!Array.isArray(list)) return []
    const out: Array<PendingApproval> = []
    for (const item of list) {
      const id = field(item, "id")
      const hostname = field(item, "hostname_claimed")
      const status = field(item, "status")
      if (typeof id === "string" && typeof hostname === "string") out.push({ id, hostname, status: typeof status === "string" ? status : "pending" })
    }
    return out
  }

  /** `POST /api/admin/device-approvals/<id>/approve`; "ok", or the failure kind. */
  async approve(id: string): Promise<string> {
    const reply = await this.rest.post(`/api/admin/device-approvals/${encodeURIComponent(id)}/approve`, {}, this.headers)
    return reply.status === 200 ? "ok" : failureKind(reply)
  }

  /** `POST /api/admin/enrollment-codes {ttl_hours, max_uses}` → the code and how many uses it allows. */
  async createInstallCode(ttlHours: number, maxUses: number): Promise<{ readonly code: string; readonly uses: number }> {
    const reply = await this.rest.post("/api/admin/enrollment-codes", { ttl_hours: ttlHours, max_uses: maxUses }, this.headers)
    const code = field(reply.json, "code")
    if ((reply.status !== 200 && reply.status !== 201) || typeof code !== "string") {
      throw new EnrollmentFailed(`install_code:${failureKind(reply)}`, reply.text.slice(0, 200))
    }
    const uses = field(reply.json, "max_uses")
    return { code, uses: typeof uses === "number" && uses > 0 ? uses : maxUses }
  }
}
