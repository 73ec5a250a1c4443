import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { startEngine } from "../../support/engine.ts"
import { login } from "../../support/operators.ts"

const ROUTES: ReadonlyArray<readonly [string, string]> = [
  ["GET", "/api/assembly/list?island=scripts"],
  ["GET", "/api/assembly/load?island=scripts&path=x.json"],
  ["POST", "/api/assembly/create"],
  ["POST", "/api/assembly/edit"],
  ["POST", "/api/assembly/rename"],
  ["POST", "/api/assembly/move"],
  ["POST", "/api/assembly/delete"]
]

describe("assemblies over HTTPS", () => {
  it.scoped("every route needs an operator", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const client = engine.client()
      for (const [method, route] of ROUTES) {
        const reply = yield* Effect.promise(() =>
          client.request(route, method === "GET" ? { method } : { method, json: { island: "scripts", kind: "folder", path: "x" } }))
        expect([method, route, reply.status, reply.json]).toEqual([method, route, 401, { error: "not_authenticated" }])
      }
      expect(fs.existsSync(path.join(engine.root, "Assemblies", "Scripts", "x"))).toBe(false)
    }))

  it.scoped("test_assembly_crud_flow (spec §6.13)", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const client = engine.client()
      yield* Effect.promise(() => login(client))
      const post = (route: string, body: unknown) => Effect.promise(() => client.post(route, body))
      const get = (route: string) => Effect.promise(() => client.get(route))

      let resp = yield* post("/api/assembly/create", { island: "scripts", kind: "folder", path: "Utilities" })
      expect([resp.status, resp.json]).toEqual([200, { status: "ok" }])

      resp = yield* post("/api/assembly/create", {
        island: "scripts",
        kind: "file",
        path: "Utilities/sample",
        content: { name: "Sample", script: "Write-Output 'Hello'", type: "powershell" }
      })
      expect(resp.status).toBe(200)
      const relPath: string = resp.json.rel_path
      expect(relPath.endsWith(".json")).toBe(true)
      expect(resp.json).toEqual({ status: "ok", rel_path: "Utilities/sample.json" })

      resp = yield* get("/api/assembly/list?island=scripts")
      expect(resp.status).toBe(200)
      expect(resp.json.items.some((item: { rel_path: string }) => item.rel_path === relPath)).toBe(true)
      // the island's folder relative to the Assemblies root: no answer carries a server path
      expect(resp.json.root).toBe("Scripts")
      expect(resp.text).not.toContain(engine.root)
      expect(resp.json.folders).toEqual(["Utilities"])
      expect(Object.keys(resp.json.items[0]).sort()).toEqual(
        ["category", "description", "file_name", "last_edited", "last_edited_epoch", "name", "rel_path", "type"]
      )

      resp = yield* get(`/api/assembly/load?island=scripts&path=${relPath}`)
      expect(resp.status).toBe(200)
      expect(resp.json.assembly.name).toBe("Sample")
      expect(resp.json).toMatchObject({ file_name: "sample.json", rel_path: relPath, type: "powershell", content: "Write-Output 'Hello'" })

      resp = yield* post("/api/assembly/rename", { island: "scripts", kind: "file", path: relPath, new_name: "renamed" })
      expect(resp.status).toBe(200)
      const renamedRel: string = resp.json.rel_path
      expect(renamedRel.endsWith(".json")).toBe(true)

      resp = yield* post("/api/assembly/move", {
        island: "scripts",
        path: renamedRel,
        new_path: "Utilities/Nested/renamed.json",
        kind: "file"
      })
      expect([resp.status, resp.json]).toEqual([200, { status: "ok" }])

      resp = yield* post("/api/assembly/delete", { island: "scripts", path: "Utilities/Nested/renamed.json", kind: "file" })
      expect([resp.status, resp.json]).toEqual([200, { status: "ok" }])

      resp = yield* get("/api/assembly/list?island=scripts")
      const remaining: Array<{ rel_path: string }> = resp.json.items
      expect(remaining.every((item) => item.rel_path !== "Utilities/Nested/renamed.json")).toBe(true)
    }))

  it.scoped("the original's error answers, bodies read like get_json(silent=True)", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const client = engine.client()
      yield* Effect.promise(() => login(client))
      const post = (route: string, body: unknown) => Effect.promise(() => client.post(route, body))
      const get = (route: string) => Effect.promise(() => client.get(route))
      const answer = (r: { status: number; json: unknown }) => [r.status, r.json]

      expect(answer(yield* get("/api/assembly/list"))).toEqual([400, { error: "invalid island" }])
      expect(answer(yield* get("/api/assembly/list?island=reports"))).toEqual([400, { error: "invalid island" }])
      expect(answer(yield* get("/api/assembly/list?island=Workflows&island=bogus"))).toMatchObject([200, { items: [] }])
      expect(answer(yield* get("/api/assembly/load?island=scripts&path=missing.json"))).toEqual([404, { error: "file not found" }])
      expect(answer(yield* get("/api/assembly/load?island=scripts&path=../../database.db"))).toEqual([400, { error: "invalid path" }])
      expect(answer(yield* get("/api/assembly/load?island=scripts&path=..%2F..%2Fdatabase.db"))).toEqual([400, { error: "invalid path" }])
      expect(answer(yield* post("/api/assembly/create", { island: "scripts", kind: "file", path: "  " }))).toEqual([400, { error: "path required" }])
      expect(answer(yield* post("/api/assembly/create", { island: "scripts", kind: "thing", path: "x" }))).toEqual([400, { error: "invalid kind" }])
      expect(answer(yield* post("/api/assembly/create", { island: "scripts", kind: " FOLDER ", path: " Tools " }))).toEqual([200, { status: "ok" }])
      expect(answer(yield* post("/api/assembly/create", { island: 5, kind: "folder", path: "x" }))).toEqual([400, { error: "invalid island" }])
      expect(answer(yield* post("/api/assembly/edit", { island: "scripts", path: "none.json", content: {} }))).toEqual([404, { error: "file not found" }])
      expect(answer(yield* post("/api/assembly/rename", { island: "scripts", kind: "folder", path: "Tools", new_name: "" })))
        .toEqual([400, { error: "new_name required" }])
      expect(answer(yield* post("/api/assembly/rename", { island: "scripts", kind: "folder", path: "Nope", new_name: "x" })))
        .toEqual([404, { error: "folder not found" }])
      expect(answer(yield* post("/api/assembly/delete", { island: "scripts", path: "", kind: "folder" }))).toEqual([400, { error: "cannot delete root" }])
      expect(answer(yield* post("/api/assembly/delete", { island: "scripts", path: "Tools", kind: "x" }))).toEqual([400, { error: "invalid kind" }])
      yield* post("/api/assembly/create", { island: "scripts", kind: "file", path: "a", content: {} })
      yield* post("/api/assembly/create", { island: "scripts", kind: "file", path: "b", content: {} })
      expect(answer(yield* post("/api/assembly/move", { island: "scripts", path: "a.json", new_path: "b.json", kind: "file" })))
        .toEqual([409, { error: "destination exists" }])
      // a body that is not JSON (or not JSON-typed) counts as {}
      const form = yield* Effect.promise(() =>
        client.request("/api/assembly/create", {
          method: "POST",
          body: JSON.stringify({ island: "scripts", kind: "folder", path: "y" }),
          headers: { "content-type": "text/plain" }
        }))
      expect(answer(form)).toEqual([400, { error: "invalid island" }])
      const broken = yield* Effect.promise(() =>
        client.request("/api/assembly/create", { method: "POST", body: "{not json", headers: { "content-type": "application/json" } }))
      expect(answer(broken)).toEqual([400, { error: "invalid island" }])
    }))

  it.scoped("symlink escapes are refused over HTTP too; workflows load as stored", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const client = engine.client()
      yield* Effect.promise(() => login(client))
      const outside = fs.mkdtempSync(path.join(os.tmpdir(), "borealis-outside-"))
      fs.writeFileSync(path.join(outside, "secret.json"), JSON.stringify({ name: "Secret" }))
      const scripts = path.join(engine.root, "Assemblies", "Scripts")
      fs.mkdirSync(scripts, { recursive: true })
      fs.symlinkSync(path.join(outside, "secret.json"), path.join(scripts, "link.json"))
      const load = yield* Effect.promise(() => client.get("/api/assembly/load?island=scripts&path=link.json"))
      expect([load.status, load.json]).toEqual([400, { error: "invalid path" }])

      const created = yield* Effect.promise(() =>
        client.post("/api/assembly/create", { island: "workflows", kind: "file", path: "flow", content: { nodes: [], edges: [] } }))
      expect(created.json).toEqual({ status: "ok", rel_path: "flow.json" })
      const flow = yield* Effect.promise(() => client.get("/api/assembly/load?island=workflows&path=flow.json"))
      expect([flow.status, flow.json]).toEqual([200, { nodes: [], edges: [], tab_name: "flow" }])
      const listing = yield* Effect.promise(() => client.get("/api/assembly/list?island=workflows"))
      expect(listing.json.items.map((i: { type: string; tab_name: string }) => [i.type, i.tab_name])).toEqual([["workflow", "flow"]])
    }))

  it.scoped("no answer names a server path: each island's root is its folder under Assemblies", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const client = engine.client()
      yield* Effect.promise(() => login(client))
      const replies = []
      for (const [island, folder] of [["scripts", "Scripts"], ["workflows", "Workflows"], ["ansible", "Ansible_Playbooks"]] as const) {
        const listing = yield* Effect.promise(() => client.get(`/api/assembly/list?island=${island}`))
        expect([island, listing.status, listing.json.root]).toEqual([island, 200, folder])
        replies.push(listing)
      }
      replies.push(yield* Effect.promise(() => client.get("/api/assembly/load?island=scripts&path=missing.json")))
      replies.push(yield* Effect.promise(() => client.get("/api/assembly/load?island=scripts&path=../../x.json")))
      replies.push(yield* Effect.promise(() => client.post("/api/assembly/move", { island: "scripts", path: "missing.json", new_path: "x.json" })))
      for (const reply of replies) expect(reply.text).not.toContain(fs.realpathSync(engine.root))
    }))
})
