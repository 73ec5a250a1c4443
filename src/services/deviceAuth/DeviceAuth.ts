// Device authentication of agent requests (Bearer access token), variant B of the current Engine.
// spec: auth-enrollment.md §3.4, §6.1; realtime-jobs.md §1.4
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { DeviceRecords } from "../devices/DeviceRecords.ts"
import {
  deviceStatusAllowsAccess,
  type DeviceStatus,
  normalizeFingerprint,
  normalizeGuid,
  sanitizeServiceContext
} from "../devices/identity.ts"
import { BadRequest, Forbidden, NotFound, RateLimited, Unauthorized } from "../errors.ts"
import { makeSlidingWindow } from "../ratelimit/SlidingWindow.ts"
import { AccessTokens } from "../tokens/AccessTokens.ts"
import { Dpop, dpopWireError } from "../tokens/Dpop.ts"

export const DEVICE_AUTH_LIMIT = { limit: 60, windowSeconds: 60 } as const

/** What an authenticated agent request carries into its handler. */
export interface DeviceAuthContextShape {
  readonly guid: string
  readonly fingerprint: string
  readonly tokenVersion: number
  readonly accessToken: string
  readonly claims: Readonly<Record<string, unknown>>
  readonly dpopJkt: Option.Option<string>
  readonly status: DeviceStatus
  /** Sanitised `X-Borealis-Agent-Context` (SYSTEM / CURRENTUSER / …), for logging and recovery only. */
  readonly serviceMode: Option.Option<string>
  readonly hostname: string
  readonly agentId: string
}

export class DeviceAuthContext extends Context.Tag("borealis/DeviceAuthContext")<DeviceAuthContext, DeviceAuthContextShape>() {}

export interface DeviceAuthRequest {
  /** The raw `Authorization` header. */
  readonly authorization: string | undefined
  readonly agentContext: string | undefined
  /** `DPoP` header values and the request as the client addressed it (absent on sockets). */
  readonly dpop?: { readonly proofs: ReadonlyArray<string>; readonly method: string; readonly url: string } | undefined
}

const fail401 = (code: string, detail?: string) =>
  new Unauthorized({ error: code, ...(detail === undefined ? {} : { detail }) })

/** `Bearer <token>`: exactly that prefix (case-sensitive, one space) and a non-empty token. */
export const bearerToken = (authorization: string | undefined): string | undefined => {
  if (authorization === undefined || !authorization.startsWith("Bearer ")) return undefined
  const token = authorization.slice(7).trim()
  return token === "" ? undefined : token
}

export class DeviceAuth extends Effect.Service<DeviceAuth>()("borealis/DeviceAuth", {
  effect: Effect.gen(function*() {
    const tokens = yield* AccessTokens
    const devices = yield* DeviceRecords
    const dpop = yield* Dpop
    const limiter = makeSlidingWindow("device_auth", DEVICE_AUTH_LIMIT.limit, DEVICE_AUTH_LIMIT.windowSeconds)

    /**
     * The checks of §3.4 variant B in order. Only the fatal token problems answer 401; a database
     * fault is a defect (503 at the HTTP edge), never a 401 that would make an agent re-enroll.
     */
    const authenticate = Effect.fn("DeviceAuth.authenticate")(function*(request: DeviceAuthRequest) {
      const token = bearerToken(request.authorization)
      if (token === undefined) return yield* fail401("missing_authorization")
      const claims = yield* tokens.verify(token).pipe(Effect.mapError((code) => fail401(code)))
      const guid = normalizeGuid(claims["guid"])
      const fingerprint = normalizeFingerprint(claims["ssl_key_fingerprint"])
      const version = claims["token_version"]
      if (guid === "" || fingerprint === "" || typeof version !== "number" || !Number.isInteger(version) || version <= 0) {
        return yield* fail401("invalid_claims")
      }
      const decision = yield* limiter.check(`fp:${fingerprint}`)
      if (!decision.allowed) return yield* RateLimited.of(Math.max(1, decision.retryAfter))

      let device = yield* devices.byGuid(guid)
      if (Option.isNone(device)) {
        // A device an operator deleted is not re-created from its still-valid access token (L-sock).
        const barrier = yield* devices.purgeBarrier(guid)
        if (Option.isSome(barrier) && barrier.value > version) return yield* fail401("device_purged")
        yield* devices.recover({ guid, fingerprint, tokenVersion: version, nowMs: yield* Clock.currentTimeMillis })
        device = yield* devices.byGuid(guid)
      }
      if (Option.isNone(device)) return yield* new NotFound({ error: "device_not_found" })
      const row = device.value
      if (row.guid !== guid) return yield* fail401("device_mismatch")
      if (row.fingerprint !== fingerprint) return yield* new Forbidden({ error: "fingerprint_mismatch" })
      if (row.tokenVersion !== version) return yield* new Forbidden({ error: "token_version_mismatch" })
      if (!deviceStatusAllowsAccess(row.status)) return yield* new Forbidden({ error: "device_revoked" })

      let dpopJkt: Option.Option<string> = Option.none()
      const boundJkt = (claims["cnf"] as { jkt?: unknown } | undefined)?.jkt
      if (request.dpop !== undefined && request.dpop.proofs.length > 0) {
        const jkt = yield* dpop.verify({ ...request.dpop, accessToken: token }).pipe(Effect.mapError(dpopWireError))
        if (typeof boundJkt === "string" && boundJkt !== jkt) {
          return yield* new BadRequest({ error: "dpop_invalid", detail: "proof key differs from the token's cnf.jkt" })
        }
        dpopJkt = Option.some(jkt)
      } else if (typeof boundJkt === "string" && request.dpop !== undefined) {
        return yield* new BadRequest({ error: "dpop_invalid", detail: "token is DPoP-bound; proof required" })
      }
      if (row.status === "quarantined") {
        yield* Effect.logInfo("device-auth-quarantined").pipe(Effect.annotateLogs({ guid }))
      }
      return {
        guid,
        fingerprint,
        tokenVersion: version,
        accessToken: token,
        claims,
        dpopJkt,
        status: row.status,
        serviceMode: Option.fromNullable(sanitizeServiceContext(request.agentContext)),
        hostname: row.hostname,
        agentId: row.agentId
      } satisfies DeviceAuthContextShape
    })

    return { authenticate } as const
  })
}) {}
