// Raw Socket.IO handshakes for tests that need what a refused client sees on the wire.
import * as Effect from "effect/Effect"
import WebSocket from "ws"
import type { RunningEngine } from "./engine.ts"

/** The answer to a raw websocket upgrade: 101, or engine.io's refusal (status and body: the reason code). */
export const rawUpgrade = (engine: RunningEngine, headers: Record<string, string>) =>
  Effect.promise(() =>
    new Promise<{ readonly status: number; readonly body: string }>((resolve, reject) => {
      const ws = new WebSocket(`${engine.url.replace(/^http/, "ws")}/socket.io/?EIO=4&transport=websocket`, { headers, ...(engine.ca ? { ca: engine.ca } : {}) })
      ws.once("open", () => {
        ws.terminate()
        resolve({ status: 101, body: "" })
      })
      ws.once("unexpected-response", (request, response) => {
        const chunks: Array<Buffer> = []
        response.on("data", (c: Buffer) => chunks.push(c))
        response.on("end", () => {
          request.destroy()
          resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") })
        })
      })
      ws.once("error", reject)
    })
  )
