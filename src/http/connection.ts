// The HTTP edge tells the listener when a request on a connection has authenticated (a device token
// or an operator session), so that connection stops counting against its address's cap on
// unauthenticated connections.
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import * as Effect from "effect/Effect"
import { markAuthenticated } from "../layers/ConnectionGuard.ts"

export const connectionAuthenticated: Effect.Effect<void, never, HttpServerRequest.HttpServerRequest> = Effect.map(
  HttpServerRequest.HttpServerRequest,
  (request) => {
    const socket = NodeHttpServerRequest.toIncomingMessage(request).socket
    if (socket !== null) markAuthenticated(socket)
  }
)
