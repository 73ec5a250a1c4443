import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { EngineConfig } from "../../layers/Config.ts"
import { MFA_COOKIE, OperatorAuth, parseCookies } from "../../services/operators/OperatorAuth.ts"
import { LoginRequest, MfaVerifyRequest } from "../../services/operators/requests.ts"
import { BorealisApi } from "../api/Api.ts"
import { clientIp } from "../clientIp.ts"
import { beforeAuthentication, operatorPayload } from "../body.ts"
import { CurrentOperator } from "../api/security.ts"
import { clearAuthCookies, setChallengeCookie, setLoginCookies } from "./cookies.ts"

const clientInfo = Effect.gen(function*() {
  const request = yield* HttpServerRequest.HttpServerRequest
  return { ip: yield* clientIp, userAgent: request.headers["user-agent"] }
})

// Login and MFA take no credentials: their bodies are read under the lower limit.
const loginBody = beforeAuthentication(operatorPayload(LoginRequest))
/** Read (413 first), but a body that does not decode is judged after the challenge (`admitMfa`). */
const mfaVerifyBody = beforeAuthentication(operatorPayload(MfaVerifyRequest)).pipe(
  Effect.map(Either.right),
  Effect.catchTag("BadRequest", (refused) => Effect.succeed(Either.left(refused)))
)

export const AuthLive = HttpApiBuilder.group(BorealisApi, "auth", (handlers) =>
  Effect.gen(function*() {
    const auth = yield* OperatorAuth
    const { debug } = yield* EngineConfig
    return handlers
      .handleRaw("login", () =>
        Effect.gen(function*() {
          const outcome = yield* auth.login(yield* loginBody, yield* clientInfo)
          if (outcome._tag === "LoginSuccess") {
            const body = { status: "ok", username: outcome.username, role: outcome.role, token: outcome.token }
            return setLoginCookies(HttpServerResponse.unsafeJson(body), debug, outcome.session, outcome.token)
          }
          const body = {
            status: "mfa_required",
            stage: outcome.stage,
            pending_token: outcome.pending_token,
            username: outcome.username,
            role: outcome.role,
            ...(outcome.secret === undefined ? {} : { secret: outcome.secret }),
            ...(outcome.otpauth_url === undefined ? {} : { otpauth_url: outcome.otpauth_url }),
            ...(outcome.qr_image === undefined ? {} : { qr_image: outcome.qr_image })
          }
          return setChallengeCookie(HttpServerResponse.unsafeJson(body), debug, outcome.challenge)
        }))
      .handleRaw("mfaVerify", ({ request }) =>
        Effect.gen(function*() {
          const cookie = parseCookies(request.headers["cookie"])[MFA_COOKIE]
          const challenge = cookie === "" ? undefined : cookie
          const decoded = yield* mfaVerifyBody
          yield* auth.admitMfa(challenge)
          const outcome = yield* auth.verifyMfa(challenge, yield* decoded, yield* clientInfo)
          const body = { status: "ok", username: outcome.username, role: outcome.role, token: outcome.token }
          return setLoginCookies(HttpServerResponse.unsafeJson(body), debug, outcome.session, outcome.token)
        }))
      .handleRaw("logout", ({ request }) =>
        Effect.gen(function*() {
          yield* auth.logout({ cookie: request.headers["cookie"], authorization: request.headers["authorization"] }, yield* clientInfo)
          return clearAuthCookies(HttpServerResponse.unsafeJson({ status: "ok" }), debug)
        }))
      .handle("me", () => Effect.flatMap(CurrentOperator, auth.me))
  }))
