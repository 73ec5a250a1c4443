import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as Effect from "effect/Effect"
import { Audit } from "../../services/audit/Audit.ts"
import { BadRequest } from "../../services/errors.ts"
import { parseIsoUtc } from "../../services/time.ts"
import { BorealisApi } from "../api/Api.ts"

type Param = string | undefined

/** A query parameter's (first) value, trimmed; blank counts as absent. */
const first = (raw: Param): string | undefined => (raw === undefined || raw.trim() === "" ? undefined : raw.trim())

/** Epoch seconds (digits) or an ISO-8601 timestamp. */
const instant = (raw: Param, name: string) => {
  const v = first(raw)
  if (v === undefined) return Effect.succeed(undefined)
  if (/^\d{1,12}$/.test(v)) return Effect.succeed(Number(v))
  const ms = parseIsoUtc(v)
  return ms === undefined ? Effect.fail(new BadRequest({ error: `invalid_${name}` })) : Effect.succeed(Math.floor(ms / 1000))
}

const integer = (raw: Param, name: string, fallback: number, min: number, max: number) => {
  const v = first(raw)
  if (v === undefined) return Effect.succeed(fallback)
  const n = /^\d{1,9}$/.test(v) ? Number(v) : NaN
  return Number.isInteger(n) && n >= min && n <= max ? Effect.succeed(n) : Effect.fail(new BadRequest({ error: `invalid_${name}` }))
}

export const AuditLive = HttpApiBuilder.group(BorealisApi, "audit", (handlers) =>
  Effect.gen(function*() {
    const audit = yield* Audit
    return handlers.handle("list", ({ urlParams }) =>
      Effect.gen(function*() {
        const limit = yield* integer(urlParams.limit, "limit", 100, 1, 1000)
        const offset = yield* integer(urlParams.offset, "offset", 0, 0, 1_000_000_000)
        const page = yield* audit.query({
          type: first(urlParams.type),
          actor: first(urlParams.actor),
          target: first(urlParams.target),
          since: yield* instant(urlParams.since, "since"),
          until: yield* instant(urlParams.until, "until"),
          limit,
          offset
        })
        return { ...page, limit, offset }
      }))
  }))
