import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { AgentInventory } from "../../services/agents/AgentInventory.ts"
import { DetailsReport, HeartbeatReport } from "../../services/agents/requests.ts"
import * as Option from "effect/Option"
import { EngineConfig } from "../../layers/Config.ts"
import { DeviceAuth, DeviceAuthContext } from "../../services/deviceAuth/DeviceAuth.ts"
import { Enrollment } from "../../services/enrollment/Enrollment.ts"
import { EnrollPoll, EnrollRequest } from "../../services/enrollment/requests.ts"
import { RefreshRequest } from "../../services/tokens/requests.ts"
import { KeyMaterial } from "../../layers/keys/KeyMaterial.ts"
import { TokenRefresh } from "../../services/tokens/TokenRefresh.ts"
import { AccessTokens } from "../../services/tokens/AccessTokens.ts"
import { M } from "../../layers/metrics.ts"
import { BorealisApi } from "../api/Api.ts"
import { agentPayload, beforeAuthentication } from "../body.ts"
import { clientIp, peerIsTrusted } from "../clientIp.ts"
import { connectionAuthenticated } from "../connection.ts"
import { dpopHeaderValues, publicRequestUrl } from "../requestUrl.ts"
import { DeviceAuthentication } from "../api/agent.ts"

const AGENT_CONTEXT_HEADER = "x-borealis-agent-context"

// Bodies of the routes that take no credentials, decoded with the schemas the API declares.
const enrollRequestBody = beforeAuthentication(agentPayload(EnrollRequest))
const enrollPollBody = beforeAuthentication(agentPayload(EnrollPoll))
const refreshBody = beforeAuthentication(agentPayload(RefreshRequest))
// Reports of authenticated devices (read after DeviceAuthentication, under the general body limit).
const heartbeatBody = agentPayload(HeartbeatReport)
const detailsBody = agentPayload(DetailsReport)

/** The wire code of an error (what agents see), for outcome labels. */
const codeOf = (error: unknown): string =>
  typeof error === "object" && error !== null && "error" in error && typeof error.error === "string" ? error.error : "internal_error"

/** Count each answer of a route under `outcome` (success label from the answer, else the error code). */
const counted = <A, E, R>(metric: typeof M.tokenRefreshes, success: (a: A) => string) => (effect: Effect.Effect<A, E, R>) =>
  effect.pipe(
    Effect.tapBoth({
      onSuccess: (a) => Effect.sync(() => metric.inc({ outcome: success(a) })),
      onFailure: (e) => Effect.sync(() => metric.inc({ outcome: codeOf(e) }))
    }),
    Effect.tapDefect(() => Effect.sync(() => metric.inc({ outcome: "service_unavailable" })))
  )

/** The DPoP inputs of a request: header values, method, and the URL the client addressed. */
const dpopOf = (request: HttpServerRequest.HttpServerRequest, config: EngineConfig["Type"], tls: boolean) => ({
  proofs: dpopHeaderValues(request.headers["dpop"]),
  method: request.method,
  url: publicRequestUrl(request, config.publicBaseUrl, tls, peerIsTrusted(request.remoteAddress, config.trustedProxies))
})

export const DeviceAuthenticationLive = Layer.effect(
  DeviceAuthentication,
  Effect.gen(function*() {
    const auth = yield* DeviceAuth
    const config = yield* EngineConfig
    const tls = Option.isSome((yield* KeyMaterial).tls)
    return Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const dpop = dpopOf(request, config, tls)
      const device = yield* auth.authenticate({
        authorization: request.headers["authorization"],
        agentContext: request.headers[AGENT_CONTEXT_HEADER],
        dpop
      })
      yield* connectionAuthenticated
      return device
    }).pipe(Effect.withSpan("DeviceAuthentication"))
  })
)

export const AgentLive = HttpApiBuilder.group(BorealisApi, "agent", (handlers) =>
  Effect.gen(function*() {
    const enrollment = yield* Enrollment
    const refresh = yield* TokenRefresh
    const inventory = yield* AgentInventory
    const tokens = yield* AccessTokens
    const config = yield* EngineConfig
    const tls = Option.isSome((yield* KeyMaterial).tls)
    return handlers
      .handleRaw("enrollRequest", ({ request }) =>
        Effect.gen(function*() {
          const remoteAddr = yield* clientIp
          yield* enrollment.admit(remoteAddr)
          const body = yield* enrollRequestBody
          return yield* enrollment.request({ body, remoteAddr, context: request.headers[AGENT_CONTEXT_HEADER] })
        }).pipe(counted(M.enrollmentRequests, () => "pending")))
      .handleRaw("enrollPoll", () =>
        Effect.gen(function*() {
          const answer = yield* Effect.flatMap(enrollPollBody, enrollment.poll).pipe(
            counted(M.enrollmentPolls, (a) =>
              a._tag === "Status" ? a.body.status : "access_token" in a.body ? "approved" : a.body["detail"] === "finalized" ? "finalized" : String(a.body["status"]))
          )
          if (answer._tag === "Ok" && "access_token" in answer.body) M.enrollmentFinalizations.inc({ device: "enrolled" })
          return answer._tag === "Ok"
            ? HttpServerResponse.unsafeJson(answer.body)
            : HttpServerResponse.unsafeJson(answer.body, { status: answer.status })
        }))
      .handleRaw("tokenRefresh", ({ request }) =>
        Effect.gen(function*() {
          const body = yield* refreshBody
          const dpop = dpopOf(request, config, tls)
          const remoteAddr = yield* clientIp
          const answer = yield* refresh.refresh({ body, dpop, remoteAddr })
          // A valid refresh token is a credential: the connection no longer counts as anonymous.
          yield* connectionAuthenticated
          return answer
        }).pipe(counted(M.tokenRefreshes, (a) => (a.refresh_token === undefined ? "ok" : "rotated"))))
      .handleRaw("heartbeat", () =>
        Effect.gen(function*() {
          const auth = yield* DeviceAuthContext
          return yield* inventory.heartbeat(auth, yield* heartbeatBody)
        }))
      .handleRaw("details", () =>
        Effect.gen(function*() {
          const auth = yield* DeviceAuthContext
          return yield* inventory.details(auth, yield* detailsBody)
        }))
      .handle("scriptRequest", () => Effect.flatMap(DeviceAuthContext, inventory.scriptRequest))
      .handle("jwks", () => Effect.succeed(tokens.jwks as never))
  }))
