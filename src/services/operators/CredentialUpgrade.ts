// At start, every operator credential still stored the original's way is brought up to today's:
// unsalted SHA-512 passwords become salted scrypt hashes (of that same SHA-512, which is what the
// login presents), plain TOTP seeds are sealed with the key folder's key. Idempotent; a login also
// upgrades a row it meets, for databases written by older tools while the Engine ran.
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { KeyMaterial } from "../../layers/keys/KeyMaterial.ts"
import { DEFAULT_PASSWORD_SHA512, looksLikeSha512 } from "./credentials.ts"
import { hashPassword } from "./passwords.ts"
import { UsersRepo } from "./UsersRepo.ts"

const upgradeStoredCredentials = Effect.gen(function*() {
  const users = yield* UsersRepo
  const sealer = (yield* KeyMaterial).totpSealer
  let passwords = 0
  let seeds = 0
  for (const account of yield* users.needingUpgrade) {
    if (account.password_hash === null && looksLikeSha512(account.legacy_sha512)) {
      yield* users.rehashPassword(account.id, yield* hashPassword(account.legacy_sha512), account.legacy_sha512 === DEFAULT_PASSWORD_SHA512)
      passwords++
    }
    if (account.mfa_secret !== null && !sealer.isSealed(account.mfa_secret)) {
      yield* users.storeMfaSecret(account.id, sealer.seal(account.mfa_secret))
      seeds++
    }
  }
  if (passwords + seeds > 0) {
    yield* Effect.logInfo("operator-credentials-upgraded").pipe(Effect.annotateLogs({ passwords, totp_seeds: seeds }))
  }
}).pipe(Effect.withSpan("OperatorCredentials.upgrade"))

export const CredentialUpgradeLive = Layer.effectDiscard(upgradeStoredCredentials)
