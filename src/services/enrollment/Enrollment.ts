// Agent enrollment: request (install code + Ed25519 key) and poll (proof of possession, finalisation).
// spec: auth-enrollment.md §1.1, §1.2, §2, §6, §9
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import { BadRequest, Conflict, RateLimited } from "../errors.ts"
import { KeyMaterial } from "../../layers/keys/KeyMaterial.ts"
import { makeSlidingWindow } from "../ratelimit/SlidingWindow.ts"
import { parseIsoUtc } from "../time.ts"
import { AccessTokens, ACCESS_TOKEN_LIFETIME_SECONDS } from "../tokens/AccessTokens.ts"
import { newRefreshToken } from "../tokens/refreshToken.ts"
import {
  decodeStrictBase64,
  ed25519PublicKey,
  fingerprintOfSpki,
  maskCode,
  newServerNonce,
  normalizeBase64,
  proofMessage,
  verifyEd25519
} from "./encoding.ts"
import { EnrollmentRepo } from "./EnrollmentRepo.ts"
import type { EnrollPoll, EnrollRequest } from "./requests.ts"
import { ProofReplayCache } from "./ProofReplayCache.ts"
import { Revocations } from "../revocations/Revocations.ts"

export const IP_LIMIT = { limit: 40, windowSeconds: 60 } as const
const MAX_REFERENCE_CHARS = 128
export const FINGERPRINT_LIMIT = { limit: 12, windowSeconds: 60 } as const
const REQUEST_POLL_AFTER_MS = 3000
const PENDING_POLL_AFTER_MS = 5000

export interface EnrollmentRequestInput {
  readonly body: EnrollRequest
  /** First `X-Forwarded-For` entry, else the peer address, else "unknown". */
  readonly remoteAddr: string
  readonly context: string | undefined
}

export interface PendingAnswer {
  readonly status: "pending"
  readonly approval_reference: string
  readonly server_nonce: string
  readonly poll_after_ms: number
  readonly server_certificate: string
  readonly signing_key: string
}

/** Poll answers that are not errors (HTTP 200), plus the two status-shaped non-200 answers. */
export type PollAnswer =
  | { readonly _tag: "Ok"; readonly body: Readonly<Record<string, unknown>> }
  | { readonly _tag: "Status"; readonly status: number; readonly body: { readonly status: string } }

const bad = (code: string) => new BadRequest({ error: code })

export class Enrollment extends Effect.Service<Enrollment>()("borealis/Enrollment", {
  effect: Effect.gen(function*() {
    const repo = yield* EnrollmentRepo
    const keys = yield* KeyMaterial
    const tokens = yield* AccessTokens
    const replay = yield* ProofReplayCache
    const revocations = yield* Revocations
    // Separate limiters: `fp:` keys here never collide with device-auth ones (spec §6.1).
    const ipLimiter = makeSlidingWindow("enroll_ip", IP_LIMIT.limit, IP_LIMIT.windowSeconds)
    const fpLimiter = makeSlidingWindow("enroll_fingerprint", FINGERPRINT_LIMIT.limit, FINGERPRINT_LIMIT.windowSeconds)
    const signingKey = Option.match(keys.scriptSigner, { onNone: () => "", onSome: (s) => s.publicKeyBase64 })

    const limited = (limiter: typeof ipLimiter, key: string) =>
      Effect.flatMap(limiter.check(key), (d) =>
        d.allowed
          ? Effect.void
          : Effect.zipRight(
            Effect.logInfo("enrollment-rate-limited").pipe(Effect.annotateLogs({ key, retry_after: d.retryAfter.toFixed(2) })),
            Effect.fail(RateLimited.of(Math.max(1, d.retryAfter)))
          ))

    /**
     * The per-address limit of enrollment requests (§1.1 checks it before reading the body): the
     * edge calls this first, then decodes the body, then calls `request`.
     */
    const admit = Effect.fn("Enrollment.admit")(function*(remoteAddr: string) {
      yield* limited(ipLimiter, `ip:${remoteAddr}`)
    })

    /** POST /api/agent/enroll/request once admitted and decoded, checks in the current Engine's order (§1.1). */
    const request = Effect.fn("Enrollment.request")(function*(input: EnrollmentRequestInput) {
      const { hostname, enrollment_code: code, agent_pubkey: pubkeyB64, client_nonce: clientNonceB64 } = input.body
      yield* Effect.logDebug("enrollment-request-received").pipe(
        Effect.annotateLogs({ ip: input.remoteAddr, hostname, code_mask: maskCode(code) })
      )
      const pubkeyDer = decodeStrictBase64(normalizeBase64(pubkeyB64))
      // Beyond the original: anything but an Ed25519 SPKI is refused here, not at the first poll.
      if (pubkeyDer === undefined || pubkeyDer.length < 10 || ed25519PublicKey(pubkeyDer) === undefined) {
        return yield* bad("invalid_agent_pubkey")
      }
      const clientNonce = decodeStrictBase64(clientNonceB64)
      if (clientNonce === undefined || clientNonce.length < 16) return yield* bad("invalid_client_nonce")
      const fingerprint = fingerprintOfSpki(pubkeyDer)
      yield* limited(fpLimiter, `fp:${fingerprint}`)

      const now = yield* Clock.currentTimeMillis
      const codeRow = yield* repo.installCode(code)
      const invalidCode = Effect.zipRight(
        Effect.logInfo("enrollment-request-rejected").pipe(
          Effect.annotateLogs({ reason: "invalid_enrollment_code", hostname, fingerprint: fingerprint.slice(0, 12), code_mask: maskCode(code) })
        ),
        Effect.fail(bad("invalid_enrollment_code"))
      )
      if (Option.isNone(codeRow)) return yield* invalidCode
      const expiresAt = parseIsoUtc(codeRow.value.expires_at)
      if (expiresAt === undefined || expiresAt <= now) return yield* invalidCode
      let reuseGuid: string | undefined
      if (codeRow.value.use_count >= codeRow.value.max_uses) {
        // An exhausted code still re-enrolls the machine it enrolled, with the same key.
        const usedBy = codeRow.value.used_by_guid
        if (usedBy === null || usedBy.trim() === "") return yield* invalidCode
        const device = yield* repo.deviceByGuid(usedBy)
        if (Option.isNone(device) || device.value.fingerprint !== fingerprint) return yield* invalidCode
        reuseGuid = device.value.guid
      }

      const serverNonce = newServerNonce()
      const created = yield* repo.supersedeAndInsert({
        hostname,
        fingerprint,
        codeId: codeRow.value.id,
        reuseGuid,
        clientNonce: clientNonceB64,
        serverNonce,
        pubkeyDer,
        nowMs: now
      })
      yield* Effect.logInfo("enrollment-request-queued").pipe(
        Effect.annotateLogs({ hostname, fingerprint: fingerprint.slice(0, 12), ip: input.remoteAddr, superseded: created.superseded })
      )
      const answer: PendingAnswer = {
        status: "pending",
        approval_reference: created.reference,
        server_nonce: serverNonce,
        poll_after_ms: REQUEST_POLL_AFTER_MS,
        server_certificate: keys.agentBundle,
        signing_key: signingKey
      }
      return answer
    })

    /** POST /api/agent/enroll/poll (§1.2, §2.5). */
    const poll = Effect.fn("Enrollment.poll")(function*(body: EnrollPoll) {
      const { approval_reference: reference, client_nonce: clientNonceB64, proof_sig: proofB64 } = body
      // No approval has such a reference (they are UUIDs): answered as unknown without a lookup.
      if (reference.length > MAX_REFERENCE_CHARS) {
        return { _tag: "Status", status: 404, body: { status: "unknown" } } satisfies PollAnswer as PollAnswer
      }
      const clientNonce = decodeStrictBase64(clientNonceB64)
      if (clientNonce === undefined) return yield* bad("invalid_client_nonce")
      const proof = decodeStrictBase64(proofB64)
      if (proof === undefined) return yield* bad("invalid_proof_sig")

      const found = yield* repo.approvalByReference(reference)
      if (Option.isNone(found)) {
        return { _tag: "Status", status: 404, body: { status: "unknown" } } satisfies PollAnswer as PollAnswer
      }
      const approval = found.value
      if (approval.client_nonce !== clientNonceB64) return yield* bad("nonce_mismatch")
      const serverNonce = decodeStrictBase64(approval.server_nonce)
      if (serverNonce === undefined) return yield* bad("server_nonce_invalid")
      const publicKey = ed25519PublicKey(approval.agent_pubkey_der)
      if (publicKey === undefined) return yield* bad("agent_pubkey_invalid")
      // Verified on every poll, in every state.
      if (!verifyEd25519(publicKey, proofMessage(serverNonce, reference, clientNonce), proof)) return yield* bad("invalid_proof")

      const ok = (answer: Readonly<Record<string, unknown>>): PollAnswer => ({ _tag: "Ok", body: answer })
      switch (approval.status) {
        case "pending":
          return ok({ status: "pending", poll_after_ms: PENDING_POLL_AFTER_MS })
        case "denied":
          return ok({ status: "denied", reason: "operator_denied" })
        case "expired":
          return ok({ status: "expired" })
        case "completed":
          return ok({ status: "approved", detail: "finalized" })
        case "approved":
          break
        default:
          return { _tag: "Status", status: 400, body: { status: approval.status === "" ? "unknown" : approval.status } } as PollAnswer
      }

      const replayKey = `${reference}:${proof.toString("base64")}`
      if (!(yield* replay.consume(replayKey))) {
        yield* Effect.logWarning("enrollment-proof-replayed").pipe(Effect.annotateLogs({ reference }))
        return yield* new Conflict({ error: "proof_replayed" })
      }
      const refreshToken = newRefreshToken()
      const now = yield* Clock.currentTimeMillis
      // A failure of the transaction must not lock the agent out for five minutes: forget the key.
      const finalised = yield* repo.finalise({ approvalId: approval.id, refreshToken, nowMs: now }).pipe(
        Effect.onExit((exit) => (Exit.isFailure(exit) ? replay.forget(replayKey) : Effect.void))
      )
      if (Option.isNone(finalised)) {
        // Another poll finalised it between our read and our transaction.
        return ok({ status: "approved", detail: "finalized" })
      }
      const device = finalised.value
      // Sockets opened with the previous key's tokens are cut before the new tokens are handed out.
      if (device.rekeyed) yield* revocations.publish({ _tag: "Device", guid: device.guid, reason: "rekeyed" })
      const accessToken = yield* tokens.issue({ guid: device.guid, fingerprint: device.fingerprint, tokenVersion: device.tokenVersion })
      yield* Effect.logInfo("enrollment-finalized").pipe(
        Effect.annotateLogs({ guid: device.guid, hostname: device.hostname, fingerprint: device.fingerprint.slice(0, 12) })
      )
      return ok({
        status: "approved",
        guid: device.guid,
        access_token: accessToken,
        expires_in: ACCESS_TOKEN_LIFETIME_SECONDS,
        refresh_token: refreshToken,
        token_type: "Bearer",
        server_certificate: keys.agentBundle,
        signing_key: signingKey
      })
    })

    return { admit, request, poll } as const
  })
}) {}
