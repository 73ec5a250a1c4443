// The refresh rules (spec: auth-enrollment.md §1.3, §4, §5) on the test clock, with the refresh-token
// and device tables in memory: no database, no HTTP.
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import { Audit } from "../../../src/services/audit/Audit.ts"
import { type DeviceIdentityRecord, type DeviceIdentityTable, DeviceRecords } from "../../../src/services/devices/DeviceRecords.ts"
import { isoUtc } from "../../../src/services/time.ts"
import { AccessTokens } from "../../../src/services/tokens/AccessTokens.ts"
import { Dpop } from "../../../src/services/tokens/Dpop.ts"
import { hashRefreshToken, newRefreshToken } from "../../../src/services/tokens/refreshToken.ts"
import { type RefreshTokenRecord, RefreshTokensRepo, type RefreshTokenTable } from "../../../src/services/tokens/RefreshTokensRepo.ts"
import type { RefreshRequest } from "../../../src/services/tokens/requests.ts"
import { ROTATION_GRACE_SECONDS, TokenRefresh } from "../../../src/services/tokens/TokenRefresh.ts"
import { dpopClientKey, dpopProof, REFRESH_URL, thumbprint } from "./support.ts"

const GUID = "DE305D54-75B4-431B-ADB2-EB6B9E546014"
const T0 = Date.UTC(2026, 0, 1)
const DAY_MS = 86_400_000

/** One active device with one refresh token (its own family head), and the services over them. */
const fixture = () => {
  const token = newRefreshToken()
  const record: RefreshTokenRecord = {
    id: "t1",
    guid: GUID,
    token_hash: hashRefreshToken(token),
    dpop_jkt: null,
    created_at: isoUtc(T0 - DAY_MS),
    expires_at: isoUtc(T0 + 30 * DAY_MS),
    revoked_at: null,
    last_used_at: null,
    family_id: "t1",
    superseded_at: null
  }
  const tokens: RefreshTokenTable = { tokens: [record], purgeBarriers: new Set() }
  const device: DeviceIdentityRecord = {
    guid: GUID,
    hostname: "host-1",
    ssl_key_fingerprint: "ab".repeat(32),
    token_version: 3,
    status: "active",
    agent_id: null
  }
  const devices: DeviceIdentityTable = { devices: [device], purgeBarriers: new Map() }
  const layer = TokenRefresh.Default.pipe(
    Layer.provideMerge(Layer.mergeAll(
      RefreshTokensRepo.makeTestLayer(tokens),
      DeviceRecords.makeTestLayer(devices),
      AccessTokens.Test,
      Dpop.Test,
      Audit.Test
    ))
  )
  return { token, record, tokens, device, devices, layer }
}

const noDpop = { proofs: [], method: "POST", url: REFRESH_URL }

const request = (refreshToken: string, body: Partial<RefreshRequest> = {}, proofs: ReadonlyArray<string> = []) => ({
  body: { guid: GUID, refresh_token: refreshToken, rotate: false, ...body },
  dpop: { ...noDpop, proofs },
  remoteAddr: "10.0.0.9"
})

/** The wire answer of a failed refresh: its class and code. */
const refused = <A, E extends { readonly _tag: string; readonly error: string }, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.flip(effect), (e) => [e._tag, e.error])

describe("TokenRefresh.refresh", () => {
  it.effect("without rotation: a new access token, the sliding expiry moves, the refresh token stays", () => {
    const f = fixture()
    return Effect.gen(function*() {
      yield* TestClock.setTime(T0)
      const refresh = yield* TokenRefresh
      const answer = yield* refresh.refresh(request(f.token))
      expect(Object.keys(answer).sort()).toEqual(["access_token", "expires_in", "token_type"])
      expect(answer).toMatchObject({ expires_in: 900, token_type: "Bearer" })
      const claims = yield* (yield* AccessTokens).verify(answer.access_token)
      expect(claims).toMatchObject({ guid: GUID, token_version: 3, ssl_key_fingerprint: "ab".repeat(32) })
      expect(claims["cnf"]).toBeUndefined()
      expect(f.tokens.tokens).toHaveLength(1)
      expect(f.tokens.tokens[0]).toMatchObject({ last_used_at: isoUtc(T0), expires_at: isoUtc(T0 + 90 * DAY_MS), superseded_at: null })
      // the same token keeps working; lowercase GUIDs were canonicalised by the request schema already
      yield* TestClock.adjust("1 hour")
      expect((yield* refresh.refresh(request(f.token))).refresh_token).toBeUndefined()
    }).pipe(Effect.provide(f.layer))
  })

  it.effect("with rotation: a new refresh token in the same family; the used one is superseded", () => {
    const f = fixture()
    return Effect.gen(function*() {
      yield* TestClock.setTime(T0)
      const refresh = yield* TokenRefresh
      const first = yield* refresh.refresh(request(f.token, { rotate: true }))
      expect(first.refresh_token).toMatch(/^[A-Za-z0-9_-]{64}$/)
      const [used, issued] = f.tokens.tokens
      expect(used).toMatchObject({ id: "t1", superseded_at: isoUtc(T0), revoked_at: null })
      expect(issued).toMatchObject({
        guid: GUID,
        token_hash: hashRefreshToken(first.refresh_token ?? ""),
        family_id: "t1",
        expires_at: isoUtc(T0 + 90 * DAY_MS),
        superseded_at: null
      })
      // the new token rotates in turn; every current member of the family is superseded each time
      yield* TestClock.adjust("1 minute")
      const second = yield* refresh.refresh(request(first.refresh_token ?? "", { rotate: true }))
      expect(f.tokens.tokens).toHaveLength(3)
      expect(f.tokens.tokens.map((t) => t.superseded_at)).toEqual([isoUtc(T0), isoUtc(T0 + 60_000), null])
      expect(f.tokens.tokens[2]?.token_hash).toBe(hashRefreshToken(second.refresh_token ?? ""))
    }).pipe(Effect.provide(f.layer))
  })

  it.effect("a superseded token inside the grace is a lost answer: it still works", () => {
    const f = fixture()
    return Effect.gen(function*() {
      yield* TestClock.setTime(T0)
      const refresh = yield* TokenRefresh
      yield* refresh.refresh(request(f.token, { rotate: true }))
      yield* TestClock.adjust(`${ROTATION_GRACE_SECONDS} seconds`)
      const again = yield* refresh.refresh(request(f.token, { rotate: true }))
      expect(again.refresh_token).toBeTypeOf("string")
      expect(f.tokens.tokens.every((t) => t.revoked_at === null)).toBe(true)
      const audit = yield* (yield* Audit).query({ type: "security.refresh_token_reuse", limit: 10, offset: 0 })
      expect(audit.total).toBe(0)
    }).pipe(Effect.provide(f.layer))
  })

  it.effect("a superseded token after the grace is reuse: the whole family is revoked and audited", () => {
    const f = fixture()
    return Effect.gen(function*() {
      yield* TestClock.setTime(T0)
      const refresh = yield* TokenRefresh
      const rotated = yield* refresh.refresh(request(f.token, { rotate: true }))
      yield* TestClock.adjust(`${ROTATION_GRACE_SECONDS + 1} seconds`)
      expect(yield* refused(refresh.refresh(request(f.token)))).toEqual(["Unauthorized", "refresh_token_revoked"])
      const revokedAt = isoUtc(T0 + (ROTATION_GRACE_SECONDS + 1) * 1000)
      expect(f.tokens.tokens.map((t) => t.revoked_at)).toEqual([revokedAt, revokedAt])
      // the thief's (or the owner's) newer token is dead too
      expect(yield* refused(refresh.refresh(request(rotated.refresh_token ?? "")))).toEqual(["Unauthorized", "refresh_token_revoked"])
      const audit = yield* (yield* Audit).query({ type: "security.refresh_token_reuse", limit: 10, offset: 0 })
      expect(audit.events.map((e) => [e.actor, e.actor_ip, e.target, e.details])).toEqual([
        [GUID, "10.0.0.9", GUID, { family: "t1", superseded_at: isoUtc(T0) }]
      ])
    }).pipe(Effect.provide(f.layer))
  })

  it.effect("unknown, revoked and expired tokens; an unparseable expiry counts as not expired", () => {
    const f = fixture()
    return Effect.gen(function*() {
      yield* TestClock.setTime(T0)
      const refresh = yield* TokenRefresh
      const record = f.record
      expect(yield* refused(refresh.refresh(request("not-a-token")))).toEqual(["Unauthorized", "invalid_refresh_token"])
      // a token of another device is no token of this one
      expect(yield* refused(refresh.refresh(request(f.token, { guid: "11111111-2222-3333-4444-555555555555" })))).toEqual([
        "Unauthorized",
        "invalid_refresh_token"
      ])
      record.expires_at = isoUtc(T0)
      expect(yield* refused(refresh.refresh(request(f.token)))).toEqual(["Unauthorized", "refresh_token_expired"])
      record.expires_at = "someday"
      expect((yield* refresh.refresh(request(f.token))).access_token).toBeTypeOf("string")
      record.revoked_at = isoUtc(T0 - 1000)
      expect(yield* refused(refresh.refresh(request(f.token)))).toEqual(["Unauthorized", "refresh_token_revoked"])
      record.revoked_at = ""
      expect((yield* refresh.refresh(request(f.token))).access_token).toBeTypeOf("string")
    }).pipe(Effect.provide(f.layer))
  })

  it.effect("a purge barrier comes first, with or without a matching token; then the device's own state", () => {
    const f = fixture()
    return Effect.gen(function*() {
      yield* TestClock.setTime(T0)
      const refresh = yield* TokenRefresh
      f.tokens.purgeBarriers.add(GUID)
      expect(yield* refused(refresh.refresh(request(f.token)))).toEqual(["Unauthorized", "device_purged"])
      expect(yield* refused(refresh.refresh(request("not-a-token")))).toEqual(["Unauthorized", "device_purged"])
      f.tokens.purgeBarriers.clear()
      const device = f.device
      device.status = "revoked"
      expect(yield* refused(refresh.refresh(request(f.token)))).toEqual(["Forbidden", "device_revoked"])
      device.status = "quarantined"
      expect((yield* refresh.refresh(request(f.token))).access_token).toBeTypeOf("string")
      f.devices.devices.splice(0, 1)
      expect(yield* refused(refresh.refresh(request(f.token)))).toEqual(["NotFound", "device_not_found"])
    }).pipe(Effect.provide(f.layer))
  })

  it.effect("a DPoP proof binds the token; a bound token needs a proof of the same key; replays are refused", () => {
    const f = fixture()
    return Effect.gen(function*() {
      yield* TestClock.setTime(T0)
      const refresh = yield* TokenRefresh
      const key = dpopClientKey()
      const proof = yield* dpopProof(key)
      const bound = yield* refresh.refresh(request(f.token, {}, [proof]))
      const jkt = yield* thumbprint(key)
      expect(f.tokens.tokens[0]?.dpop_jkt).toBe(jkt)
      expect((yield* (yield* AccessTokens).verify(bound.access_token))["cnf"]).toEqual({ jkt })
      expect(yield* refused(refresh.refresh(request(f.token, {}, [proof])))).toEqual(["BadRequest", "dpop_replayed"])
      const unbound = yield* Effect.flip(refresh.refresh(request(f.token)))
      expect(unbound).toMatchObject({ error: "dpop_invalid", detail: "refresh token is bound to a DPoP key; proof required" })
      const otherKey = yield* Effect.flip(refresh.refresh(request(f.token, {}, [yield* dpopProof(dpopClientKey())])))
      expect(otherKey).toMatchObject({ error: "dpop_invalid", detail: "proof key differs from the bound key" })
      // a rotation keeps the binding for the new token
      const rotated = yield* refresh.refresh(request(f.token, { rotate: true }, [yield* dpopProof(key)]))
      expect(rotated.refresh_token).toBeTypeOf("string")
      expect(f.tokens.tokens[1]?.dpop_jkt).toBe(jkt)
    }).pipe(Effect.provide(f.layer))
  })

  it.effect("prune removes expired tokens and revoked ones older than 90 days", () => {
    const f = fixture()
    return Effect.gen(function*() {
      const refresh = yield* TokenRefresh
      const base = f.record
      f.tokens.tokens.push(
        { ...base, id: "expired", expires_at: isoUtc(T0 - 1000) },
        { ...base, id: "old-revoked", revoked_at: isoUtc(T0 - 91 * DAY_MS) },
        { ...base, id: "recent-revoked", revoked_at: isoUtc(T0 - DAY_MS) }
      )
      expect(yield* refresh.prune(T0)).toBe(2)
      expect(f.tokens.tokens.map((t) => t.id)).toEqual(["t1", "recent-revoked"])
    }).pipe(Effect.provide(f.layer))
  })
})
