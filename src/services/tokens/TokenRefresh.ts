// POST /api/agent/token/refresh: a new access token for a valid refresh token (90-day sliding expiry).
// Beyond the original: DPoP-bound tokens stay bound, and opt-in rotation with reuse detection.
// spec: auth-enrollment.md §1.3, §4, §5
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { Audit } from "../audit/Audit.ts"
import { DeviceRecords } from "../devices/DeviceRecords.ts"
import { deviceStatusAllowsAccess, normalizeGuid } from "../devices/identity.ts"
import { hashRefreshToken, newRefreshToken, REFRESH_TOKEN_LIFETIME_DAYS } from "./refreshToken.ts"
import { BadRequest, Forbidden, NotFound, Unauthorized } from "../errors.ts"
import { DAY_MS, isoUtc, parseIsoUtc } from "../time.ts"
import { AccessTokens, ACCESS_TOKEN_LIFETIME_SECONDS } from "./AccessTokens.ts"
import { Dpop, dpopWireError } from "./Dpop.ts"
import { RefreshTokensRepo, type StoredRefreshToken } from "./RefreshTokensRepo.ts"
import type { RefreshRequest } from "./requests.ts"

/** A superseded token presented within this many seconds is a lost response, not a theft. */
export const ROTATION_GRACE_SECONDS = 30

export interface RefreshInput {
  readonly body: RefreshRequest
  /** `DPoP` header values, and the request as the client addressed it. */
  readonly dpop: { readonly proofs: ReadonlyArray<string>; readonly method: string; readonly url: string }
  readonly remoteAddr: string
}

export interface RefreshAnswer {
  readonly access_token: string
  readonly expires_in: number
  readonly token_type: "Bearer"
  readonly refresh_token?: string
}

const unauthorized = (code: string) => new Unauthorized({ error: code })

export class TokenRefresh extends Effect.Service<TokenRefresh>()("borealis/TokenRefresh", {
  effect: Effect.gen(function*() {
    const repo = yield* RefreshTokensRepo
    const devices = yield* DeviceRecords
    const tokens = yield* AccessTokens
    const dpop = yield* Dpop
    const audit = yield* Audit

    /** Reuse of a superseded token: the whole family is revoked and the event audited. */
    const revokeFamily = (row: StoredRefreshToken, guid: string, nowMs: number, remoteAddr: string) =>
      Effect.gen(function*() {
        const family = row.family_id ?? row.id
        yield* repo.revokeFamily(family, isoUtc(nowMs))
        yield* Effect.logWarning("refresh-token-reuse-detected").pipe(Effect.annotateLogs({ guid, family }))
        yield* audit.record({
          type: "security.refresh_token_reuse",
          actor: guid,
          actor_ip: remoteAddr,
          target: guid,
          details: { family, superseded_at: row.superseded_at }
        })
      })

    const refresh = Effect.fn("TokenRefresh.refresh")(function*(input: RefreshInput) {
      const { guid, refresh_token: presented, rotate } = input.body

      const row = (yield* repo.findByHash(hashRefreshToken(presented))).find((r) => normalizeGuid(r.guid) === guid)
      // The purge barrier is checked first (L-tok2); with a matching token it came with the row.
      if (row !== undefined ? row.purged : yield* repo.hasPurgeBarrier(guid)) return yield* unauthorized("device_purged")
      if (row === undefined) return yield* unauthorized("invalid_refresh_token")
      if (row.revoked_at !== null && row.revoked_at !== "") return yield* unauthorized("refresh_token_revoked")
      const nowMs = yield* Clock.currentTimeMillis
      const expiresAt = parseIsoUtc(row.expires_at)
      // An unparseable expiry is treated as not expired (as the original).
      if (expiresAt !== undefined && expiresAt <= nowMs) return yield* unauthorized("refresh_token_expired")
      if (row.superseded_at !== null) {
        const supersededAt = parseIsoUtc(row.superseded_at) ?? 0
        if (nowMs - supersededAt > ROTATION_GRACE_SECONDS * 1000) {
          yield* revokeFamily(row, guid, nowMs, input.remoteAddr)
          return yield* unauthorized("refresh_token_revoked")
        }
      }

      const device = yield* devices.byGuid(guid)
      if (Option.isNone(device)) return yield* new NotFound({ error: "device_not_found" })
      if (!deviceStatusAllowsAccess(device.value.status)) return yield* new Forbidden({ error: "device_revoked" })

      let jkt: string | undefined
      if (input.dpop.proofs.length > 0) {
        jkt = yield* dpop.verify({ ...input.dpop }).pipe(Effect.mapError(dpopWireError))
      }
      if (row.dpop_jkt !== null && row.dpop_jkt !== "" && jkt !== row.dpop_jkt) {
        // Once bound, a proof of the same key is required (the original silently unbound instead).
        return yield* new BadRequest({
          error: "dpop_invalid",
          detail: jkt === undefined ? "refresh token is bound to a DPoP key; proof required" : "proof key differs from the bound key"
        })
      }

      const accessToken = yield* tokens.issue({
        guid: device.value.guid,
        fingerprint: device.value.fingerprint,
        tokenVersion: device.value.tokenVersion,
        dpopJkt: jkt
      })
      const nowIso = isoUtc(nowMs)
      const slidingExpiry = isoUtc(nowMs + REFRESH_TOKEN_LIFETIME_DAYS * DAY_MS)
      const use = { id: row.id, nowIso, expiresAt: slidingExpiry, dpopJkt: jkt }
      let newToken: string | undefined
      if (!rotate) yield* repo.touch(use)
      else {
        newToken = newRefreshToken()
        yield* repo.rotate({
          ...use,
          family: row.family_id ?? row.id,
          guid: device.value.guid,
          newTokenHash: hashRefreshToken(newToken),
          newDpopJkt: jkt ?? row.dpop_jkt ?? null
        })
      }

      const answer: RefreshAnswer = {
        access_token: accessToken,
        expires_in: ACCESS_TOKEN_LIFETIME_SECONDS,
        token_type: "Bearer",
        ...(newToken === undefined ? {} : { refresh_token: newToken })
      }
      return answer
    })

    /** Expired refresh tokens, and revoked ones after 90 days (reuse detection needs them until then). */
    const prune = (nowMs: number) => repo.prune(nowMs)

    return { refresh, prune } as const
  })
}) {}
