// The operator CLI as an operator runs it (`node src/cli.ts …`, i.e. `npm run cli -- …`), against a
// temp database — and against a running Engine's database to enroll a first device without a browser.
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { execFile } from "node:child_process"
import { generateKeyPairSync, randomBytes, sign } from "node:crypto"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { verifyPassword } from "../../src/services/operators/passwords.ts"
import { startEngine, tempRoot } from "../support/engine.ts"
import { auditRows, sha512, withDb } from "../support/operators.ts"

const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "src", "cli.ts")

interface Run {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

const cli = (root: string, args: ReadonlyArray<string>, stdin?: string) =>
  Effect.promise(() =>
    new Promise<Run>((resolve) => {
      const child = execFile(process.execPath, [CLI, ...args], {
        env: { ...process.env, BOREALIS_ROOT: root, BOREALIS_STATIC_ROOT: path.join(root, "static") },
        timeout: 60_000
      }, (error, stdout, stderr) => resolve({ code: error === null ? 0 : Number((error as { code?: number }).code ?? 1), stdout, stderr }))
      if (stdin !== undefined) child.stdin?.end(stdin)
      else child.stdin?.end()
    })
  )

const actor = `cli:${os.userInfo().username}`

/** Each command is a fresh Node process (about 1.5 s on an idle machine, several under a full run). */
const CLI_TIMEOUT = 240_000

describe("operator CLI", () => {
  it.effect("users add|list|passwd|role with the API's rules", () =>
    Effect.gen(function*() {
      const root = tempRoot("borealis-cli-")
      const list = yield* cli(root, ["users", "list"])
      expect(list.code).toBe(0)
      expect(list.stdout).toMatch(/^USERNAME\s+ROLE/)
      expect(list.stdout).toMatch(/admin\s+Admin\s+Administrator/)
      // The CLI nags while the default password is in use.
      expect(list.stderr).toContain("default-admin-password-in-use")

      const add = yield* cli(root, ["users", "add", "alice", "--role", "Admin", "--password-stdin"], "s3cret\n")
      expect(add).toMatchObject({ code: 0 })
      expect(add.stdout).toContain("created alice (Admin)")
      const stored = withDb(path.join(root, "database.db"), (db) =>
        db.prepare("SELECT role, password_sha512, password_hash FROM users WHERE username = 'alice'").get()) as { role: string; password_sha512: string; password_hash: string }
      // Issue 19: a salted scrypt of the SHA-512 the login presents, never the SHA-512 itself.
      expect(stored).toMatchObject({ role: "Admin", password_sha512: "" })
      expect(stored.password_hash).toMatch(/^scrypt\$/)
      expect(yield* verifyPassword(stored.password_hash, sha512("s3cret"))).toBe(true)
      const duplicate = yield* cli(root, ["users", "add", "alice", "--password-sha512", sha512("x")])
      expect(duplicate.code).toBe(1)
      expect(duplicate.stderr).toContain("error: username already exists")
      const noPassword = yield* cli(root, ["users", "add", "carol"])
      expect(noPassword.code).toBe(1)
      expect(noPassword.stderr).toContain("--password-stdin")

      const passwd = yield* cli(root, ["users", "passwd", "alice", "--password-sha512", sha512("other")])
      expect(passwd.code).toBe(0)
      const badHash = yield* cli(root, ["users", "passwd", "alice", "--password-sha512", "abc"])
      expect(badHash.code).toBe(1)
      expect(badHash.stderr).toContain("error: invalid password hash")
      const missing = yield* cli(root, ["users", "passwd", "ghost", "--password", "x"])
      expect(missing.code).toBe(1)
      expect(missing.stderr).toContain("error: user not found")

      expect((yield* cli(root, ["users", "role", "alice", "user"])).stdout).toContain("alice is now User")
      const lastAdmin = yield* cli(root, ["users", "role", "admin", "User"])
      expect(lastAdmin.code).toBe(1)
      expect(lastAdmin.stderr).toContain("error: cannot demote the last admin")
      const json = JSON.parse((yield* cli(root, ["users", "list", "--json"])).stdout)
      expect(json.map((u: { username: string; role: string }) => [u.username, u.role])).toEqual([["admin", "Admin"], ["alice", "User"]])

      const audit = auditRows(path.join(root, "database.db")).map((r) => [r.type, r.actor, r.target])
      expect(audit).toEqual([
        ["user.created", actor, "alice"],
        ["user.password_reset", actor, "alice"],
        ["user.role_changed", actor, "alice"]
      ])
      const usage = yield* cli(root, ["users", "frobnicate"])
      expect(usage.code).not.toBe(0)
    }), CLI_TIMEOUT)

  it.effect("codes create|list|delete", () =>
    Effect.gen(function*() {
      const root = tempRoot("borealis-cli-")
      const created = yield* cli(root, ["codes", "create", "--ttl", "3", "--max-uses", "4", "--json"])
      expect(created.code).toBe(0)
      const code = JSON.parse(created.stdout)
      expect(code).toMatchObject({ max_uses: 4, status: "active", use_count: 0 })
      expect(code.code).toMatch(/^[0-9A-F]{4}(-[0-9A-F]{4}){7}$/)
      const plain = yield* cli(root, ["codes", "create"])
      expect(plain.stdout.trim()).toMatch(/^[0-9A-F]{4}(-[0-9A-F]{4}){7}$/)
      const invalid = yield* cli(root, ["codes", "create", "--ttl", "2"])
      expect(invalid.code).toBe(1)
      expect(invalid.stderr).toContain("error: invalid_ttl")
      const listed = yield* cli(root, ["codes", "list"])
      expect(listed.stdout).toContain(code.code)
      expect((yield* cli(root, ["codes", "delete", code.id])).stdout).toContain(`deleted ${code.id}`)
      const again = yield* cli(root, ["codes", "delete", code.id])
      expect(again.code).toBe(1)
      expect(again.stderr).toContain("error: not_found")
      expect(auditRows(path.join(root, "database.db")).map((r) => [r.type, r.actor])).toEqual([
        ["enrollment.code_created", actor], ["enrollment.code_created", actor], ["enrollment.code_deleted", actor]
      ])
    }), CLI_TIMEOUT)

  it.effect("approvals list|approve|deny and devices list", () =>
    Effect.gen(function*() {
      const root = tempRoot("borealis-cli-")
      const db = path.join(root, "database.db")
      // The first command creates and migrates the database.
      expect((yield* cli(root, ["devices", "list", "--json"])).stdout.trim()).toBe("[]")
      withDb(db, (d) => {
        const ins = d.prepare(`INSERT INTO device_approvals (id, approval_reference, hostname_claimed, ssl_key_fingerprint_claimed, enrollment_code_id,
            status, client_nonce, server_nonce, agent_pubkey_der, created_at, updated_at) VALUES (?, ?, ?, ?, 'c', 'pending', 'Y2xpZW50', 'c2VydmVy', ?, ?, ?)`)
        const now = new Date().toISOString()
        ins.run("appr-1", "REF1", "host-1", "fp1", Buffer.from("pub"), now, now)
        ins.run("appr-2", "REF2", "host-2", "fp2", Buffer.from("pub"), now, now)
        d.prepare("INSERT INTO devices (guid, hostname, ssl_key_fingerprint, status) VALUES ('77777777-7777-7777-7777-777777777777', 'host-2', 'other', 'active')").run()
      })
      const pending = yield* cli(root, ["approvals", "list"])
      expect(pending.stdout).toContain("appr-1")
      expect(pending.stdout).toMatch(/appr-2.*--resolution overwrite\|coexist/)
      expect((yield* cli(root, ["approvals", "approve", "appr-1"])).stdout.trim()).toBe("approved")
      const conflict = yield* cli(root, ["approvals", "approve", "appr-2"])
      expect(conflict.code).toBe(1)
      expect(conflict.stderr).toContain("error: conflict_resolution_required")
      expect((yield* cli(root, ["approvals", "approve", "appr-2", "--resolution", "coexist"])).stdout.trim()).toBe("approved (coexist)")
      const twice = yield* cli(root, ["approvals", "deny", "appr-1"])
      expect(twice.code).toBe(1)
      expect(twice.stderr).toContain("error: approval_not_pending")
      const all = JSON.parse((yield* cli(root, ["approvals", "list", "--status", "all", "--json"])).stdout)
      expect(all.map((a: { id: string; status: string; approved_by_user_id: string }) => [a.id, a.status, a.approved_by_user_id])).toEqual([
        ["appr-1", "approved", actor],
        ["appr-2", "approved", actor]
      ])
      const devices = JSON.parse((yield* cli(root, ["devices", "list", "--json"])).stdout)
      expect(devices.map((d: { hostname: string }) => d.hostname)).toEqual(["host-2"])
      expect((yield* cli(root, ["devices", "list"])).stdout).toMatch(/77777777-7777-7777-7777-777777777777\s+host-2\s+active/)
      expect(auditRows(db).map((r) => r.type)).toEqual(["enrollment.approval_approved", "enrollment.approval_approved"])
    }), CLI_TIMEOUT)

  it.scoped("an operator on the server enrolls a first device with the CLI alone", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const code = JSON.parse((yield* cli(engine.root, ["codes", "create", "--max-uses", "1", "--json"])).stdout)
      const { publicKey, privateKey } = generateKeyPairSync("ed25519")
      const spki = publicKey.export({ type: "spki", format: "der" })
      const clientNonce = randomBytes(32).toString("base64")
      const agent = engine.client()
      const request = yield* Effect.promise(() => agent.post("/api/agent/enroll/request", {
        hostname: "first-device", enrollment_code: code.code, agent_pubkey: spki.toString("base64"), client_nonce: clientNonce
      }))
      expect(request.status).toBe(200)
      const pending = JSON.parse((yield* cli(engine.root, ["approvals", "list", "--json"])).stdout)
      expect(pending.map((a: { hostname_claimed: string }) => a.hostname_claimed)).toEqual(["first-device"])
      expect((yield* cli(engine.root, ["approvals", "approve", pending[0].id])).code).toBe(0)
      const proof = sign(null, Buffer.concat([
        Buffer.from(request.json.server_nonce, "base64"),
        Buffer.from(request.json.approval_reference, "utf8"),
        Buffer.from(clientNonce, "base64")
      ]), privateKey).toString("base64")
      const poll = yield* Effect.promise(() => agent.post("/api/agent/enroll/poll", {
        approval_reference: request.json.approval_reference, client_nonce: clientNonce, proof_sig: proof
      }))
      expect(poll.status).toBe(200)
      expect(poll.json).toMatchObject({ status: "approved", token_type: "Bearer" })
      const devices = JSON.parse((yield* cli(engine.root, ["devices", "list", "--json"])).stdout)
      expect(devices.map((d: { hostname: string; guid: string }) => [d.hostname, d.guid])).toEqual([["first-device", poll.json.guid]])
    }), CLI_TIMEOUT)
})
