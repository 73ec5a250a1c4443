// Operator-side steps of an enrollment, through the admin API (as the web UI does them).
import { expect } from "@effect/vitest"
import Sqlite from "better-sqlite3"
import type { Client } from "./http.ts"
import { login } from "./operators.ts"
import { TestAgent } from "./agent.ts"

export const adminClient = async (make: () => Client): Promise<Client> => {
  const client = make()
  await login(client)
  return client
}

export const createCode = async (admin: Client, options: { ttl_hours?: number; max_uses?: number } = {}): Promise<{ id: string; code: string }> => {
  const reply = await admin.post("/api/admin/enrollment-codes", { ttl_hours: 1, max_uses: 2, ...options })
  expect(reply.status).toBe(201)
  return reply.json
}

export const approvalFor = async (admin: Client, reference: string): Promise<Record<string, any>> => {
  const reply = await admin.get("/api/admin/device-approvals?status=all")
  expect(reply.status).toBe(200)
  const found = (reply.json.approvals as Array<Record<string, any>>).find((a) => a["approval_reference"] === reference)
  if (found === undefined) throw new Error(`no approval with reference ${reference}`)
  return found
}

export const approve = async (admin: Client, reference: string, body: Record<string, unknown> = {}) => {
  const approval = await approvalFor(admin, reference)
  const reply = await admin.post(`/api/admin/device-approvals/${approval["id"]}/approve`, body)
  expect(reply.status).toBe(200)
  return reply.json
}

/** request → approve → poll: an agent holding tokens. */
export const enrolledAgent = async (engine: { client: () => Client }, admin: Client, hostname: string, code?: string): Promise<TestAgent> => {
  const agent = new TestAgent(engine.client(), hostname)
  const theCode = code ?? (await createCode(admin)).code
  const req = await agent.request(theCode)
  expect(req.status).toBe(200)
  await approve(admin, req.json.approval_reference)
  const done = await agent.poll(req.json.approval_reference, req.json.server_nonce)
  expect(done.status).toBe(200)
  expect(done.json.access_token).toBeTypeOf("string")
  return agent
}

export const sql = <T = Record<string, unknown>>(file: string, query: string, ...params: Array<unknown>): Array<T> => {
  const db = new Sqlite(file)
  try {
    db.pragma("busy_timeout = 5000")
    const statement = db.prepare(query)
    return (statement.reader ? statement.all(...params) : (statement.run(...params), [])) as Array<T>
  } finally {
    db.close()
  }
}
