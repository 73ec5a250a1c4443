// The HTTP app the listener serves: the API routes, then the SPA/404 fallback, behind CORS, security
// headers and request logging; handed to the listener as a Node request handler.
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import type * as HttpApp from "@effect/platform/HttpApp"
import * as IncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as HttpServerError from "@effect/platform/HttpServerError"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { EngineConfig } from "../layers/Config.ts"
import { HttpRequestHandler } from "../layers/HttpListener.ts"
import { KeyMaterial } from "../layers/keys/KeyMaterial.ts"
import { reachedOverHttps } from "../layers/webPolicy.ts"
import { BorealisApi } from "./api/Api.ts"
import { cors, requestLog, securityHeaders } from "./middleware.ts"
import { routeMatcher, routeTemplates } from "./routes.ts"
import { notFoundResponse, spaResponse } from "./spa.ts"

/**
 * The whole HTTP app: API routes, then the SPA/404 fallback, behind CORS, security headers and
 * request logging.
 */
export const makeHttpApp = Effect.gen(function*() {
  const config = yield* EngineConfig
  const keys = yield* KeyMaterial
  const hsts = reachedOverHttps(Option.isSome(keys.tls), config.publicBaseUrl)
  const api = yield* HttpApiBuilder.httpApp
  const app = api.pipe(
    Effect.catchAllCause((cause) => {
      const failure = Cause.failureOption(cause)
      if (Option.isSome(failure) && HttpServerError.isServerError(failure.value) && (failure.value as { _tag: string })._tag === "RouteNotFound") {
        return spaResponse(config.staticRoot)
      }
      if (Cause.isInterruptedOnly(cause)) return Effect.failCause(cause)
      return Effect.as(Effect.logError("http-unhandled", cause), notFoundResponse())
    })
  )
  const routeOf = routeMatcher(routeTemplates(BorealisApi))
  return requestLog(routeOf)(securityHeaders({ hsts })(cors(config.corsAllowedOrigins)(app))) as HttpApp.Default<never, never>
})

/** The app as the listener's request handler (bodies limited to BOREALIS_MAX_BODY_BYTES). */
export const HttpRequestHandlerLive = Layer.effect(
  HttpRequestHandler,
  Effect.gen(function*() {
    const config = yield* EngineConfig
    const app = yield* makeHttpApp
    return yield* NodeHttpServer.makeHandler(app).pipe(
      Effect.provideService(IncomingMessage.MaxBodySize, Option.some(config.maxBodyBytes as never))
    )
  })
)
