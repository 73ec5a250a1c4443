// Operator tokens: what a verified token's payload must hold, decoded by schema. spec: config-bootstrap-tests.md §1.3
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { SignJWT } from "jose"
import { randomBytes } from "node:crypto"
import { issueToken, verifyToken } from "../../../src/services/operators/tokens.ts"

const key = randomBytes(32)
const now = Math.floor(Date.now() / 1000)
const account = { id: 4, username: "alice", role: "Admin", auth_epoch: 2 }
const session = { idHash: "a".repeat(64), expiresAt: now + 3600 }

const signed = (payload: Record<string, unknown>, signingKey: Uint8Array = key) =>
  Effect.promise(() =>
    new SignJWT(payload).setProtectedHeader({ alg: "HS256", typ: "JWT" }).setJti("j1").setIssuedAt(now).setExpirationTime(now + 60).sign(signingKey)
  )

describe("operator tokens", () => {
  it.effect("an issued token verifies to the claims it was issued with", () =>
    Effect.gen(function*() {
      const { token, claims } = yield* issueToken(key, account, session, now)
      expect(yield* verifyToken(key, ` ${token} `)).toEqual(Option.some(claims))
      expect(claims).toMatchObject({ username: "alice", role: "Admin", userId: 4, epoch: 2, sessionHash: session.idHash, issuedAt: now, expiresAt: now + 3600 })
    }))

  it.effect("missing optional claims take their defaults; the name is trimmed", () =>
    Effect.gen(function*() {
      const token = yield* signed({ u: " bob ", uid: 9, sid: "s", r: 5 })
      expect(yield* verifyToken(key, token)).toEqual(Option.some({
        username: "bob",
        role: "User",
        userId: 9,
        epoch: 0,
        jti: "j1",
        sessionHash: "s",
        issuedAt: now,
        expiresAt: now + 60
      }))
    }))

  it.effect("no session, no account id, a blank name, another key or junk: not a token", () =>
    Effect.gen(function*() {
      for (const payload of [{ u: "bob", uid: 9 }, { u: "bob", sid: "s" }, { u: "  ", uid: 9, sid: "s" }, { u: 7, uid: 9, sid: "s" }, { u: "bob", uid: "9", sid: "s" }]) {
        expect(yield* verifyToken(key, yield* signed(payload))).toEqual(Option.none())
      }
      expect(yield* verifyToken(key, yield* signed({ u: "bob", uid: 9, sid: "s" }, randomBytes(32)))).toEqual(Option.none())
      expect(yield* verifyToken(key, "not.a.token")).toEqual(Option.none())
      expect(yield* verifyToken(key, "")).toEqual(Option.none())
    }))
})
