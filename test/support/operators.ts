// Helpers for operator-route tests: log in as the default admin (spec §6.0 `_login`), create users,
// open the Engine's database directly.
import Sqlite from "better-sqlite3"
import { createHash } from "node:crypto"
import type { Client } from "./http.ts"

export const sha512 = (text: string): string => createHash("sha512").update(text).digest("hex")
export const DEFAULT_ADMIN = { username: "admin", password_sha512: sha512("Password") } as const

/** POST /api/auth/login as `admin`/`Password`; asserts 200 and returns the body. */
export const login = async (client: Client, credentials: { username: string; password_sha512: string } = DEFAULT_ADMIN) => {
  const reply = await client.post("/api/auth/login", credentials)
  if (reply.status !== 200 || typeof reply.json !== "object") {
    throw new Error(`login failed: ${reply.status} ${reply.text}`)
  }
  return reply.json as { status: string; username: string; role: string; token: string }
}

/** Create a user through the API (as the logged-in admin `client`). */
export const createUser = async (client: Client, username: string, role: "Viewer" | "User" | "Admin", password = "pw-" + username) => {
  const reply = await client.post("/api/users", { username, password_sha512: sha512(password), role })
  if (reply.status !== 200) throw new Error(`create user failed: ${reply.status} ${reply.text}`)
  return { username, password_sha512: sha512(password) }
}

/** Run `fn` against the Engine's SQLite file (WAL, so the running Engine keeps working). */
export const withDb = <A>(file: string, fn: (db: Sqlite.Database) => A): A => {
  const db = new Sqlite(file)
  try {
    db.pragma("busy_timeout = 5000")
    return fn(db)
  } finally {
    db.close()
  }
}

export const auditRows = (file: string, type?: string) =>
  withDb(file, (db) =>
    (type === undefined
      ? db.prepare("SELECT * FROM audit_events ORDER BY id").all()
      : db.prepare("SELECT * FROM audit_events WHERE type = ? ORDER BY id").all(type)) as Array<{
        id: number
        ts: number
        type: string
        actor: string | null
        actor_ip: string | null
        target: string | null
        outcome: string
        details_json: string
      }>)

/** The Engine's log once it contains `marker` (it is written through a stream), or throws after ~5 s. */
export const logOnceContains = async (logFile: string, marker: RegExp): Promise<string> => {
  const fs = await import("node:fs")
  for (let i = 0; i < 50; i++) {
    const text = fs.existsSync(logFile) ? fs.readFileSync(logFile, "utf8") : ""
    if (marker.test(text)) return text
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`log never contained ${marker}`)
}
