// The enrollment rules (spec: auth-enrollment.md §1.1, §1.2, §2, §6) on the test clock, with the
// install codes, approvals and devices in memory: no database, no HTTP.
import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Queue from "effect/Queue"
import * as TestClock from "effect/TestClock"
import * as crypto from "node:crypto"
import { KeyMaterial } from "../../../src/layers/keys/KeyMaterial.ts"
import { Enrollment, FINGERPRINT_LIMIT, IP_LIMIT } from "../../../src/services/enrollment/Enrollment.ts"
import { EnrollmentRepo, type EnrollmentTable } from "../../../src/services/enrollment/EnrollmentRepo.ts"
import { ProofReplayCache } from "../../../src/services/enrollment/ProofReplayCache.ts"
import { Revocations } from "../../../src/services/revocations/Revocations.ts"
import { isoUtc } from "../../../src/services/time.ts"
import { AccessTokens } from "../../../src/services/tokens/AccessTokens.ts"
import { hashRefreshToken } from "../../../src/services/tokens/refreshToken.ts"

const T0 = Date.UTC(2026, 0, 1)
const CODE = "ABCD-EFGH-IJKL-MNOP"

/** An agent as the real ones are: an Ed25519 key, a 32-byte client nonce, proofs over the handshake. */
const agent = (hostname = "host-1") => {
  const { privateKey, publicKey } = crypto.generateKeyPairSync("ed25519")
  const spki = publicKey.export({ format: "der", type: "spki" })
  const clientNonce = crypto.randomBytes(32).toString("base64")
  return {
    fingerprint: crypto.createHash("sha256").update(spki).digest("hex"),
    request: (code = CODE) => ({ hostname, enrollment_code: code, agent_pubkey: spki.toString("base64"), client_nonce: clientNonce }),
    poll: (reference: string, serverNonce: string) => ({
      approval_reference: reference,
      client_nonce: clientNonce,
      proof_sig: crypto.sign(
        null,
        Buffer.concat([Buffer.from(serverNonce, "base64"), Buffer.from(reference, "utf8"), Buffer.from(clientNonce, "base64")]),
        privateKey
      ).toString("base64")
    })
  }
}

const fixture = () => {
  const table: EnrollmentTable = {
    codes: [{ id: "code-1", code: CODE, expires_at: isoUtc(T0 + 3_600_000), max_uses: 2, use_count: 0, used_by_guid: null }],
    approvals: [],
    devices: { devices: [], purgeBarriers: new Map() },
    refreshTokens: []
  }
  const layer = Enrollment.Default.pipe(
    Layer.provideMerge(Layer.mergeAll(
      EnrollmentRepo.makeTestLayer(table),
      KeyMaterial.Test,
      AccessTokens.Test,
      ProofReplayCache.Default,
      Revocations.Test
    ))
  )
  return { table, layer }
}

const request = (body: ReturnType<ReturnType<typeof agent>["request"]>) =>
  Effect.flatMap(Enrollment, (e) => e.request({ body, remoteAddr: "10.0.0.9", context: undefined }))

const refused = <A, E extends { readonly _tag: string; readonly error: string }, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.flip(effect), (e) => [e._tag, e.error])

/** At T0: an agent's request is pending; its poll body and the stored approval (to move between states). */
const pendingPoll = (f: ReturnType<typeof fixture>) =>
  Effect.gen(function*() {
    yield* TestClock.setTime(T0)
    const a = agent()
    const pending = yield* request(a.request())
    const approval = f.table.approvals[0]
    if (approval === undefined) throw new Error("the request stored an approval")
    return { a, pending, body: a.poll(pending.approval_reference, pending.server_nonce), approval }
  })

describe("Enrollment.request", () => {
  it.effect("a pending approval holding the claim; a repeat from the same key supersedes it", () => {
    const f = fixture()
    return Effect.gen(function*() {
      yield* TestClock.setTime(T0)
      const a = agent()
      const first = yield* request(a.request())
      expect(first).toMatchObject({ status: "pending", poll_after_ms: 3000, server_certificate: "" })
      expect(Buffer.from(first.server_nonce, "base64")).toHaveLength(32)
      expect(first.signing_key).not.toBe("")
      expect(f.table.approvals).toEqual([expect.objectContaining({
        approval_reference: first.approval_reference,
        hostname_claimed: "host-1",
        ssl_key_fingerprint_claimed: a.fingerprint,
        enrollment_code_id: "code-1",
        status: "pending",
        guid: null
      })])
      const second = yield* request(a.request())
      expect(second.approval_reference).not.toBe(first.approval_reference)
      expect(f.table.approvals.map((x) => x.status)).toEqual(["expired", "pending"])
    }).pipe(Effect.provide(f.layer))
  })

  it.effect("refusals: not an Ed25519 key, a short nonce, an unknown or expired code", () => {
    const f = fixture()
    return Effect.gen(function*() {
      yield* TestClock.setTime(T0)
      const a = agent()
      const rsa = crypto.generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey.export({ format: "der", type: "spki" })
      expect(yield* refused(request({ ...a.request(), agent_pubkey: rsa.toString("base64") }))).toEqual(["BadRequest", "invalid_agent_pubkey"])
      expect(yield* refused(request({ ...a.request(), agent_pubkey: "not base64!" }))).toEqual(["BadRequest", "invalid_agent_pubkey"])
      expect(yield* refused(request({ ...a.request(), client_nonce: crypto.randomBytes(15).toString("base64") }))).toEqual([
        "BadRequest",
        "invalid_client_nonce"
      ])
      expect(yield* refused(request(a.request("NOPE")))).toEqual(["BadRequest", "invalid_enrollment_code"])
      yield* TestClock.adjust("1 hour")
      expect(yield* refused(request(a.request()))).toEqual(["BadRequest", "invalid_enrollment_code"])
      expect(f.table.approvals).toEqual([])
    }).pipe(Effect.provide(f.layer))
  })

  it.effect("an exhausted code re-enrolls only the device it enrolled, with the same key", () => {
    const f = fixture()
    return Effect.gen(function*() {
      yield* TestClock.setTime(T0)
      const owner = agent("owner")
      const guid = "DE305D54-75B4-431B-ADB2-EB6B9E546014"
      f.table.devices.devices.push({ guid, hostname: "owner", ssl_key_fingerprint: owner.fingerprint, token_version: 1, status: "active", agent_id: null })
      const code = f.table.codes[0]
      if (code !== undefined) Object.assign(code, { use_count: 2, used_by_guid: guid.toLowerCase() })
      expect(yield* refused(request(agent("stranger").request()))).toEqual(["BadRequest", "invalid_enrollment_code"])
      yield* request(owner.request())
      expect(f.table.approvals[0]?.guid).toBe(guid)
    }).pipe(Effect.provide(f.layer))
  })

  it.effect("limits: 12 requests per key and 40 per address each minute, sliding", () => {
    const f = fixture()
    return Effect.gen(function*() {
      yield* TestClock.setTime(T0)
      const enrollment = yield* Enrollment
      const a = agent()
      for (let i = 0; i < FINGERPRINT_LIMIT.limit; i++) yield* request(a.request())
      const limited = yield* Effect.flip(request(a.request()))
      expect(limited).toMatchObject({ _tag: "RateLimited", error: "rate_limited", retry_after: 60 })
      // another key is not limited by this one
      yield* request(agent().request())
      for (let i = 0; i < IP_LIMIT.limit; i++) yield* enrollment.admit("10.0.0.1")
      expect(yield* refused(enrollment.admit("10.0.0.1"))).toEqual(["RateLimited", "rate_limited"])
      yield* enrollment.admit("10.0.0.2")
      yield* TestClock.adjust("60 seconds")
      yield* enrollment.admit("10.0.0.1")
      yield* request(a.request())
    }).pipe(Effect.provide(f.layer))
  })
})

describe("Enrollment.poll", () => {
  it.effect("each approval state answers as §1.2 says; approval gives tokens exactly once, then finalized", () => {
    const f = fixture()
    return Effect.gen(function*() {
      const enrollment = yield* Enrollment
      const { a, body, approval } = yield* pendingPoll(f)
      const answer = (status: string) => {
        approval.status = status
        return enrollment.poll(body)
      }
      expect(yield* answer("pending")).toEqual({ _tag: "Ok", body: { status: "pending", poll_after_ms: 5000 } })
      expect(yield* answer("denied")).toEqual({ _tag: "Ok", body: { status: "denied", reason: "operator_denied" } })
      expect(yield* answer("expired")).toEqual({ _tag: "Ok", body: { status: "expired" } })
      expect(yield* answer("completed")).toEqual({ _tag: "Ok", body: { status: "approved", detail: "finalized" } })
      expect(yield* answer("weird")).toEqual({ _tag: "Status", status: 400, body: { status: "weird" } })
      expect(yield* answer("")).toEqual({ _tag: "Status", status: 400, body: { status: "unknown" } })

      const approved = yield* answer("approved")
      expect(approved._tag).toBe("Ok")
      const tokens = approved.body as Record<string, string | number>
      expect(tokens).toMatchObject({ status: "approved", expires_in: 900, token_type: "Bearer", server_certificate: "" })
      const device = f.table.devices.devices[0]
      expect(device).toMatchObject({ hostname: "host-1", ssl_key_fingerprint: a.fingerprint, token_version: 1, status: "active" })
      expect(tokens["guid"]).toBe(device?.guid)
      const claims = yield* (yield* AccessTokens).verify(String(tokens["access_token"]))
      expect(claims).toMatchObject({ guid: device?.guid, ssl_key_fingerprint: a.fingerprint, token_version: 1 })
      expect(f.table.refreshTokens).toEqual([{ guid: device?.guid, token_hash: hashRefreshToken(String(tokens["refresh_token"])), revoked_at: null }])
      expect(f.table.codes[0]).toMatchObject({ use_count: 1, used_by_guid: device?.guid })
      expect(approval.status).toBe("completed")
      expect(yield* enrollment.poll(body)).toEqual({ _tag: "Ok", body: { status: "approved", detail: "finalized" } })
    }).pipe(Effect.provide(f.layer))
  })

  it.effect("refusals in order: oversized or unknown reference, bad base64, another nonce, a wrong proof", () => {
    const f = fixture()
    return Effect.gen(function*() {
      yield* TestClock.setTime(T0)
      const enrollment = yield* Enrollment
      const a = agent()
      const pending = yield* request(a.request())
      const body = a.poll(pending.approval_reference, pending.server_nonce)
      const unknown = { _tag: "Status", status: 404, body: { status: "unknown" } }
      expect(yield* enrollment.poll({ ...body, approval_reference: "x".repeat(129), client_nonce: "!" })).toEqual(unknown)
      expect(yield* refused(enrollment.poll({ ...body, client_nonce: "!" }))).toEqual(["BadRequest", "invalid_client_nonce"])
      expect(yield* refused(enrollment.poll({ ...body, proof_sig: "!" }))).toEqual(["BadRequest", "invalid_proof_sig"])
      expect(yield* enrollment.poll({ ...body, approval_reference: crypto.randomUUID() })).toEqual(unknown)
      expect(yield* refused(enrollment.poll({ ...body, client_nonce: crypto.randomBytes(32).toString("base64") }))).toEqual([
        "BadRequest",
        "nonce_mismatch"
      ])
      const stranger = agent().poll(pending.approval_reference, pending.server_nonce)
      expect(yield* refused(enrollment.poll({ ...body, proof_sig: stranger.proof_sig }))).toEqual(["BadRequest", "invalid_proof"])
      // the proof is checked in every state, not only at finalisation
      const approval = f.table.approvals[0]
      if (approval !== undefined) approval.status = "denied"
      expect(yield* refused(enrollment.poll({ ...body, proof_sig: stranger.proof_sig }))).toEqual(["BadRequest", "invalid_proof"])
    }).pipe(Effect.provide(f.layer))
  })

  it.effect("a finalising proof counts once for 300 s: the same proof on an approved approval again is proof_replayed", () => {
    const f = fixture()
    return Effect.gen(function*() {
      const enrollment = yield* Enrollment
      const { body, approval } = yield* pendingPoll(f)
      approval.status = "approved"
      expect((yield* enrollment.poll(body))._tag).toBe("Ok")
      approval.status = "approved"
      expect(yield* refused(enrollment.poll(body))).toEqual(["Conflict", "proof_replayed"])
      yield* TestClock.adjust("301 seconds")
      expect((yield* enrollment.poll(body))._tag).toBe("Ok")
    }).pipe(Effect.provide(f.layer))
  })

  it.scoped("a known device with a new key: token_version + 1, its refresh tokens revoked, its sockets cut", () => {
    const f = fixture()
    return Effect.gen(function*() {
      yield* TestClock.setTime(T0)
      const enrollment = yield* Enrollment
      const cut = yield* (yield* Revocations).subscribe
      const guid = "DE305D54-75B4-431B-ADB2-EB6B9E546014"
      f.table.devices.devices.push({ guid, hostname: "host-1", ssl_key_fingerprint: "00".repeat(32), token_version: 4, status: "quarantined", agent_id: null })
      f.table.refreshTokens.push({ guid, token_hash: "old", revoked_at: null })
      const a = agent()
      const pending = yield* request(a.request())
      const approval = f.table.approvals[0]
      if (approval === undefined) throw new Error("the request stored an approval")
      // the operator approved it as that device
      Object.assign(approval, { status: "approved", guid })
      const answer = yield* enrollment.poll(a.poll(pending.approval_reference, pending.server_nonce))
      expect(answer.body).toMatchObject({ status: "approved", guid })
      expect(f.table.devices.devices).toEqual([expect.objectContaining({ guid, ssl_key_fingerprint: a.fingerprint, token_version: 5, status: "active" })])
      expect(f.table.refreshTokens[0]).toMatchObject({ token_hash: "old", revoked_at: isoUtc(T0) })
      expect(Chunk.toReadonlyArray(yield* Queue.takeAll(cut))).toEqual([{ _tag: "Device", guid, reason: "rekeyed" }])
      const claims = yield* (yield* AccessTokens).verify(String((answer.body as Record<string, unknown>)["access_token"]))
      expect(claims["token_version"]).toBe(5)
    }).pipe(Effect.provide(f.layer))
  })
})
