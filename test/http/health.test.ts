import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { startEngine } from "../support/engine.ts"

describe("GET /health over HTTPS", () => {
  it.scoped("answers {status:ok} verifying the chain against the generated CA", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const reply = yield* Effect.promise(() => engine.client().get("/health"))
      expect(reply.status).toBe(200)
      expect(reply.json).toEqual({ status: "ok" })
      expect(reply.headers["content-type"]).toMatch(/^application\/json/)
    }))
})
