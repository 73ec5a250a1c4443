import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Assemblies } from "../../../src/services/assemblies/Assemblies.ts"
import { componentSourcePaths, fabricateJob } from "../../../src/services/jobs/fabricator.ts"

const tempRoot = () => fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "borealis-assemblies-")))

/** Run `body` against a fresh library in a temp project; returns the body's value. */
const withLibrary = <A, E>(body: (assemblies: Assemblies, root: string) => Effect.Effect<A, E>) => {
  const project = tempRoot()
  const root = path.join(project, "Assemblies")
  return Effect.flatMap(Assemblies, (assemblies) => body(assemblies, root)).pipe(Effect.provide(Assemblies.at(root)))
}

/** The error an effect fails with, as its wire shape. */
const failure = <A, E extends { readonly _tag: string; readonly error: string }>(effect: Effect.Effect<A, E>) =>
  Effect.map(Effect.flip(effect), (e) => ({ tag: e._tag, error: e.error }))

const write = (file: string, text: string) => {
  fs.mkdirSync(path.dirname(file), { recursive: true })
  fs.writeFileSync(file, text)
}

const touch = (file: string, secondsAgo: number) => {
  const t = new Date(Date.now() - secondsAgo * 1000)
  fs.utimesSync(file, t, t)
}

describe("test_assembly_crud_flow (service level)", () => {
  it.effect("create folder, create file, list, load, rename, move, delete", () =>
    withLibrary((a) =>
      Effect.gen(function*() {
        expect(yield* a.create({ island: "scripts", kind: "folder", path: "Utilities" })).toEqual({ status: "ok" })
        const created = yield* a.create({
          island: "scripts",
          kind: "file",
          path: "Utilities/sample",
          content: { name: "Sample", script: "Write-Output 'Hello'", type: "powershell" }
        })
        expect(created).toEqual({ status: "ok", rel_path: "Utilities/sample.json" })
        const relPath = created.rel_path ?? ""
        expect(relPath.endsWith(".json")).toBe(true)

        const listing = yield* a.list("scripts")
        expect(listing.items.some((item) => item.rel_path === relPath)).toBe(true)

        const loaded = yield* a.load("scripts", relPath)
        expect((loaded as { assembly: { name: string } }).assembly.name).toBe("Sample")

        const renamed = yield* a.rename({ island: "scripts", kind: "file", path: relPath, new_name: "renamed" })
        expect(renamed).toEqual({ status: "ok", rel_path: "Utilities/renamed.json" })

        expect(yield* a.move({ island: "scripts", path: renamed.rel_path ?? "", new_path: "Utilities/Nested/renamed.json", kind: "file" }))
          .toEqual({ status: "ok" })
        expect(yield* a.delete({ island: "scripts", path: "Utilities/Nested/renamed.json", kind: "file" })).toEqual({ status: "ok" })

        const after = yield* a.list("scripts")
        expect(after.items.every((item) => item.rel_path !== "Utilities/Nested/renamed.json")).toBe(true)
        expect(after.folders).toEqual(["Utilities", "Utilities/Nested"])
      })
    ))
})

describe("documents on disk and back", () => {
  it.effect("create stores the canonical document with the script base64", () =>
    withLibrary((a, root) =>
      Effect.gen(function*() {
        yield* a.create({
          island: "scripts",
          kind: "file",
          path: "hello",
          content: {
            name: "Hello",
            script: "Write-Output 'Hi'\r\n",
            variables: [{ name: "Who", type: "string", default: "World" }, { key: "n", type: "number" }],
            sites: { values: ["1", 2, " "] },
            timeout: 90
          }
        })
        const text = fs.readFileSync(path.join(root, "Scripts", "hello.json"), "utf8")
        const stored = JSON.parse(text)
        expect(Object.keys(stored)).toEqual([
          "version",
          "name",
          "description",
          "category",
          "type",
          "script",
          "timeout_seconds",
          "sites",
          "variables",
          "files",
          "script_encoding"
        ])
        expect(stored).toEqual({
          version: 1,
          name: "Hello",
          description: "",
          category: "script",
          type: "powershell",
          script: Buffer.from("Write-Output 'Hi'\n").toString("base64"),
          timeout_seconds: 90,
          sites: { mode: "specific", values: ["1", "2"] },
          variables: [
            { name: "Who", label: "", type: "string", default: "World", required: false, description: "" },
            { name: "n", label: "", type: "number", default: null, required: false, description: "" }
          ],
          files: [],
          script_encoding: "base64"
        })
        expect(text.startsWith("{\n  \"version\": 1,")).toBe(true)

        const loaded = yield* a.load("scripts", "hello.json")
        expect(loaded).toEqual({
          file_name: "hello.json",
          rel_path: "hello.json",
          type: "powershell",
          assembly: { ...stored, script: "Write-Output 'Hi'\n" },
          content: "Write-Output 'Hi'\n"
        })
      })
    ))

  it.effect("content may be JSON text; a name defaults to the file stem; the type hint applies", () =>
    withLibrary((a) =>
      Effect.gen(function*() {
        yield* a.create({ island: "scripts", kind: "file", path: "Deploy Tool", content: JSON.stringify({ script: "echo 1" }), type: "bash" })
        const loaded = (yield* a.load("scripts", "Deploy Tool.json")) as { type: string; assembly: { name: string; type: string } }
        expect([loaded.type, loaded.assembly.name, loaded.assembly.type]).toEqual(["bash", "Deploy Tool", "bash"])
        yield* a.create({ island: "scripts", kind: "file", path: "empty.json" })
        const empty = (yield* a.load("scripts", "empty.json")) as { assembly: { name: string; script: string } }
        expect([empty.assembly.name, empty.assembly.script]).toEqual(["empty", ""])
      })
    ))

  it.effect("a legacy plain script loads as a document", () =>
    withLibrary((a, root) =>
      Effect.gen(function*() {
        write(path.join(root, "Scripts", "Legacy", "old.ps1"), "Get-Date\r\n")
        expect(yield* a.load("scripts", "Legacy/old.ps1")).toEqual({
          file_name: "old.ps1",
          rel_path: "Legacy/old.ps1",
          type: "powershell",
          assembly: {
            version: 1,
            name: "old",
            description: "",
            category: "script",
            type: "powershell",
            script: "Get-Date\n",
            timeout_seconds: 3600,
            sites: { mode: "all", values: [] },
            variables: [],
            files: []
          },
          content: "Get-Date\n"
        })
      })
    ))

  it.effect("edit rewrites a document and converts a plain script into a .json document", () =>
    withLibrary((a, root) =>
      Effect.gen(function*() {
        write(path.join(root, "Scripts", "old.ps1"), "Get-Date")
        expect(yield* a.edit({ island: "scripts", path: "old.ps1", content: { name: "Old", script: "Get-Date -Format o" } }))
          .toEqual({ status: "ok", rel_path: "old.json" })
        expect(fs.existsSync(path.join(root, "Scripts", "old.ps1"))).toBe(false)
        const loaded = (yield* a.load("scripts", "old.json")) as { content: string; assembly: { name: string } }
        expect([loaded.assembly.name, loaded.content]).toEqual(["Old", "Get-Date -Format o"])
        expect(yield* a.edit({ island: "scripts", path: "old.json", content: { name: "Newer" } })).toEqual({ status: "ok", rel_path: "old.json" })
        expect(((yield* a.load("scripts", "old.json")) as { assembly: { name: string } }).assembly.name).toBe("Newer")
      })
    ))

  it.effect("ansible documents default to type ansible, category application", () =>
    withLibrary((a, root) =>
      Effect.gen(function*() {
        expect(yield* a.create({ island: "ansible", kind: "file", path: "Linux/patch", content: { script: "- hosts: all" } }))
          .toEqual({ status: "ok", rel_path: "Linux/patch.json" })
        expect(fs.existsSync(path.join(root, "Ansible_Playbooks", "Linux", "patch.json"))).toBe(true)
        const loaded = (yield* a.load("playbooks", "Linux/patch.json")) as { type: string; assembly: { category: string } }
        expect([loaded.type, loaded.assembly.category]).toEqual(["ansible", "application"])
        write(path.join(root, "Ansible_Playbooks", "site.yml"), "- hosts: all\n")
        const listing = yield* a.list("ansible")
        expect(listing.items.map((i) => [i.rel_path, i.type]).sort()).toEqual([["Linux/patch.json", "ansible"], ["site.yml", "ansible"]])
      })
    ))
})

describe("list", () => {
  it.effect("items newest first, listed extensions only, folders parents first", () =>
    withLibrary((a, root) =>
      Effect.gen(function*() {
        const scripts = path.join(root, "Scripts")
        write(path.join(scripts, "b", "two.json"), JSON.stringify({ name: "Two", category: "application", description: "d", type: "bash" }))
        write(path.join(scripts, "a", "deep", "three.ps1"), "x")
        write(path.join(scripts, "one.bat"), "echo")
        write(path.join(scripts, "notes.txt"), "not listed")
        write(path.join(scripts, "run.sh"), "echo")
        touch(path.join(scripts, "b", "two.json"), 300)
        touch(path.join(scripts, "a", "deep", "three.ps1"), 200)
        touch(path.join(scripts, "one.bat"), 100)
        touch(path.join(scripts, "run.sh"), 400)
        const listing = yield* a.list("Scripts")
        // Issue 19: the island's folder, relative; never the server's absolute path.
        expect(listing.root).toBe("Scripts")
        expect(listing.folders).toEqual(["a", "a/deep", "b"])
        expect(listing.items.map((i) => i.rel_path)).toEqual(["one.bat", "a/deep/three.ps1", "b/two.json", "run.sh"])
        const two = listing.items.find((i) => i.rel_path === "b/two.json")
        expect(two).toMatchObject({ file_name: "two.json", type: "bash", name: "Two", category: "application", description: "d" })
        expect(listing.items.find((i) => i.rel_path === "one.bat")).toMatchObject({ type: "batch", name: "one", category: "script" })
        expect(listing.items.find((i) => i.rel_path === "run.sh")).toMatchObject({ type: "bash", name: "run" })
        const item = listing.items[0]
        expect(item?.last_edited).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/)
        expect(Math.abs((item?.last_edited_epoch ?? 0) - (Date.now() / 1000 - 100))).toBeLessThan(5)
      })
    ))

  it.effect("an empty island is created on first use", () =>
    withLibrary((a, root) =>
      Effect.gen(function*() {
        expect(yield* a.list("workflows")).toEqual({ root: "Workflows", items: [], folders: [] })
        expect(fs.statSync(path.join(root, "Workflows")).isDirectory()).toBe(true)
      })
    ))

  it.effect.each(["scripts", "script", " SCRIPTS ", "Scripts"])("island alias %j", (island) =>
    withLibrary((a) => Effect.map(a.list(island), (l) => expect(path.basename(l.root)).toBe("Scripts"))))

  it.effect.each(["ansible", "ansible_playbooks", "ansible-playbooks", "playbooks", "ANSIBLE"])("island alias %j", (island) =>
    withLibrary((a) => Effect.map(a.list(island), (l) => expect(path.basename(l.root)).toBe("Ansible_Playbooks"))))

  it.effect.each(["workflows", "workflow"])("island alias %j", (island) =>
    withLibrary((a) => Effect.map(a.list(island), (l) => expect(path.basename(l.root)).toBe("Workflows"))))
})

describe("workflows", () => {
  it.effect("create seeds tab_name, load returns the raw JSON, rename renames inside, edit needs an object", () =>
    withLibrary((a) =>
      Effect.gen(function*() {
        expect(yield* a.create({ island: "workflows", kind: "file", path: "Flows/first", content: { nodes: [1], name: "first" } }))
          .toEqual({ status: "ok", rel_path: "Flows/first.json" })
        expect(yield* a.load("workflows", "Flows/first.json")).toEqual({ nodes: [1], name: "first", tab_name: "first" })
        yield* a.create({ island: "workflow", kind: "file", path: "blank" })
        expect(yield* a.load("workflows", "blank.json")).toEqual({ tab_name: "blank" })
        yield* a.create({ island: "workflows", kind: "file", path: "named", content: JSON.stringify({ tab_name: "Mine" }) })
        expect(yield* a.load("workflows", "named.json")).toEqual({ tab_name: "Mine" })

        const listing = yield* a.list("workflows")
        expect(listing.items.find((i) => i.rel_path === "Flows/first.json")).toMatchObject({ type: "workflow", tab_name: "first" })

        expect(yield* a.rename({ island: "workflows", kind: "file", path: "Flows/first.json", new_name: "second" }))
          .toEqual({ status: "ok", rel_path: "Flows/second.json" })
        expect(yield* a.load("workflows", "Flows/second.json")).toEqual({ nodes: [1], name: "second", tab_name: "second" })

        expect(yield* failure(a.edit({ island: "workflows", path: "Flows/second.json", content: "not json" })))
          .toEqual({ tag: "BadRequest", error: "invalid content for workflow" })
        expect(yield* failure(a.edit({ island: "workflows", path: "Flows/second.json", content: [1] })))
          .toEqual({ tag: "BadRequest", error: "invalid content for workflow" })
        expect(yield* a.edit({ island: "workflows", path: "Flows/second.json", content: { nodes: [] } }))
          .toEqual({ status: "ok", rel_path: "Flows/second.json" })
        expect(yield* a.load("workflows", "Flows/second.json")).toEqual({ nodes: [] })
      })
    ))
})

describe("the original's errors", () => {
  it.effect("invalid island on every operation", () =>
    withLibrary((a) =>
      Effect.gen(function*() {
        const invalid = { tag: "BadRequest", error: "invalid island" }
        expect(yield* failure(a.list(""))).toEqual(invalid)
        expect(yield* failure(a.list("reports"))).toEqual(invalid)
        expect(yield* failure(a.load("x", "a.json"))).toEqual(invalid)
        expect(yield* failure(a.create({ island: "x", kind: "file", path: "a" }))).toEqual(invalid)
        expect(yield* failure(a.edit({ island: "x", path: "a" }))).toEqual(invalid)
        expect(yield* failure(a.rename({ island: "x", kind: "file", path: "a", new_name: "b" }))).toEqual(invalid)
        expect(yield* failure(a.move({ island: "x", path: "a", new_path: "b" }))).toEqual(invalid)
        expect(yield* failure(a.delete({ island: "x", path: "a", kind: "file" }))).toEqual(invalid)
        expect(yield* failure(a.list("__proto__"))).toEqual(invalid)
      })
    ))

  it.effect("create, load, edit", () =>
    withLibrary((a, root) =>
      Effect.gen(function*() {
        expect(yield* failure(a.create({ island: "scripts", kind: "file", path: "" }))).toEqual({ tag: "BadRequest", error: "path required" })
        expect(yield* failure(a.create({ island: "scripts", kind: "folder", path: "///" }))).toEqual({ tag: "BadRequest", error: "path required" })
        expect(yield* failure(a.create({ island: "scripts", kind: "link", path: "x" }))).toEqual({ tag: "BadRequest", error: "invalid kind" })
        expect(yield* failure(a.create({ island: "scripts", kind: "", path: "x" }))).toEqual({ tag: "BadRequest", error: "invalid kind" })
        expect(yield* failure(a.load("scripts", "missing.json"))).toEqual({ tag: "NotFound", error: "file not found" })
        expect(yield* failure(a.load("scripts", ""))).toEqual({ tag: "NotFound", error: "file not found" })
        expect(yield* failure(a.edit({ island: "scripts", path: "missing.json", content: {} }))).toEqual({ tag: "NotFound", error: "file not found" })
        // where the original overwrote or crashed: 409
        write(path.join(root, "Scripts", "taken.json"), "{}")
        expect(yield* failure(a.create({ island: "scripts", kind: "folder", path: "taken.json" }))).toEqual({ tag: "Conflict", error: "destination exists" })
        expect(yield* failure(a.create({ island: "scripts", kind: "folder", path: "taken.json/sub" }))).toEqual({ tag: "Conflict", error: "destination exists" })
        fs.mkdirSync(path.join(root, "Scripts", "dir.json"))
        expect(yield* failure(a.create({ island: "scripts", kind: "file", path: "dir.json" }))).toEqual({ tag: "Conflict", error: "destination exists" })
        expect(yield* a.create({ island: "scripts", kind: "FOLDER", path: "dir.json" })).toEqual({ status: "ok" })
        // create over an existing file replaces it (the editor's save)
        expect(yield* a.create({ island: "scripts", kind: "file", path: "taken.json", content: { name: "Replaced" } })).toEqual({ status: "ok", rel_path: "taken.json" })
      })
    ))

  it.effect("rename", () =>
    withLibrary((a, root) =>
      Effect.gen(function*() {
        write(path.join(root, "Scripts", "dir", "a.json"), "{}")
        write(path.join(root, "Scripts", "dir", "b.json"), "{}")
        const r = (kind: string, p: string, new_name: string) => a.rename({ island: "scripts", kind, path: p, new_name })
        expect(yield* failure(r("blob", "dir/a.json", "c"))).toEqual({ tag: "BadRequest", error: "invalid kind" })
        expect(yield* failure(r("file", "dir/a.json", "  "))).toEqual({ tag: "BadRequest", error: "new_name required" })
        expect(yield* failure(r("file", "dir/none.json", "c"))).toEqual({ tag: "NotFound", error: "file not found" })
        expect(yield* failure(r("folder", "nodir", "c"))).toEqual({ tag: "NotFound", error: "folder not found" })
        expect(yield* failure(r("folder", "dir/a.json", "c"))).toEqual({ tag: "NotFound", error: "folder not found" })
        expect(yield* failure(r("file", "dir/a.json", "b"))).toEqual({ tag: "Conflict", error: "destination exists" })
        expect(yield* failure(r("folder", "dir", "../../escape"))).toEqual({ tag: "BadRequest", error: "invalid destination" })
        expect(yield* failure(r("folder", "dir", ".."))).toEqual({ tag: "BadRequest", error: "invalid destination" })
        expect(yield* failure(r("folder", "", "x"))).toEqual({ tag: "BadRequest", error: "invalid destination" })
        expect(yield* failure(r("file", "dir/a.json", ".."))).toEqual({ tag: "BadRequest", error: "invalid destination" })
        // a file's new name keeps only its last component, and a given extension
        expect(yield* r("file", "dir/a.json", "../../x/c.ps1")).toEqual({ status: "ok", rel_path: "dir/c.ps1" })
        expect(yield* r("file", "dir/c.ps1", "d")).toEqual({ status: "ok", rel_path: "dir/d.json" })
        expect(yield* r("file", "dir/d.json", "d.json")).toEqual({ status: "ok", rel_path: "dir/d.json" })
        expect(yield* r("folder", "dir", "renamed")).toEqual({ status: "ok", rel_path: "renamed" })
        expect(fs.readdirSync(path.join(root, "Scripts", "renamed")).sort()).toEqual(["b.json", "d.json"])
      })
    ))

  it.effect("move", () =>
    withLibrary((a, root) =>
      Effect.gen(function*() {
        const scripts = path.join(root, "Scripts")
        write(path.join(scripts, "a.json"), "{}")
        write(path.join(scripts, "b.json"), "{}")
        write(path.join(scripts, "Folder", "inner.json"), "{}")
        const m = (p: string, new_path: string, kind?: string) => a.move({ island: "scripts", path: p, new_path, kind })
        expect(yield* failure(m("none.json", "x.json", "file"))).toEqual({ tag: "NotFound", error: "file not found" })
        expect(yield* failure(m("none", "x", "folder"))).toEqual({ tag: "NotFound", error: "folder not found" })
        expect(yield* failure(m("Folder", "x", "file"))).toEqual({ tag: "NotFound", error: "file not found" })
        expect(yield* failure(m("a.json", "b.json", "file"))).toEqual({ tag: "Conflict", error: "destination exists" })
        expect(yield* failure(m("Folder", "Folder/Sub", "folder"))).toEqual({ tag: "BadRequest", error: "invalid destination" })
        expect(yield* failure(m("a.json", "../../outside.json", "file"))).toEqual({ tag: "BadRequest", error: "invalid path" })
        expect(yield* failure(m("", "x", "folder"))).toEqual({ tag: "BadRequest", error: "invalid path" })
        // into an existing folder keeps the name (shutil.move)
        expect(yield* m("a.json", "Folder", "file")).toEqual({ status: "ok" })
        expect(fs.existsSync(path.join(scripts, "Folder", "a.json"))).toBe(true)
        // a new path: parents are created
        expect(yield* m("b.json", "New/Deeper/b2.json")).toEqual({ status: "ok" })
        expect(fs.existsSync(path.join(scripts, "New", "Deeper", "b2.json"))).toBe(true)
        // folders move too; without kind any entry moves (first-gen)
        expect(yield* m("Folder", "New/Folder", "folder")).toEqual({ status: "ok" })
        expect(fs.readdirSync(path.join(scripts, "New", "Folder")).sort()).toEqual(["a.json", "inner.json"])
        expect(yield* m("New/Folder", "", undefined)).toEqual({ status: "ok" })
        expect(fs.existsSync(path.join(scripts, "Folder", "inner.json"))).toBe(true)
        expect(yield* m("Folder/inner.json", "Folder/inner.json", "file")).toEqual({ status: "ok" })
      })
    ))

  it.effect("delete", () =>
    withLibrary((a, root) =>
      Effect.gen(function*() {
        write(path.join(root, "Scripts", "Dir", "Sub", "x.json"), "{}")
        const d = (p: string, kind: string) => a.delete({ island: "scripts", path: p, kind })
        expect(yield* failure(d("", "folder"))).toEqual({ tag: "BadRequest", error: "cannot delete root" })
        expect(yield* failure(d("/", "file"))).toEqual({ tag: "BadRequest", error: "cannot delete root" })
        expect(yield* failure(d("Dir/../", "folder"))).toEqual({ tag: "BadRequest", error: "cannot delete root" })
        expect(yield* failure(d("Dir", "thing"))).toEqual({ tag: "BadRequest", error: "invalid kind" })
        expect(yield* failure(d("Dir", "file"))).toEqual({ tag: "NotFound", error: "file not found" })
        expect(yield* failure(d("Dir/Sub/x.json", "folder"))).toEqual({ tag: "NotFound", error: "folder not found" })
        expect(yield* d("Dir/Sub/x.json", "file")).toEqual({ status: "ok" })
        expect(yield* d("Dir", "folder")).toEqual({ status: "ok" })
        expect(fs.existsSync(path.join(root, "Scripts", "Dir"))).toBe(false)
        expect(fs.existsSync(path.join(root, "Scripts"))).toBe(true)
      })
    ))
})

describe("confinement: no .., no absolute paths, no symlink escape", () => {
  it.effect.each([
    "../outside.json",
    "../../etc/passwd",
    "a/../../outside.json",
    "..\\outside.json",
    "Utilities\\..\\..\\outside.json",
    "../Ansible_Playbooks/site.yml",
    "../Scripts_evil/x.json",
    "C:\\Windows\\win.ini",
    "c:/x.json",
    "x\0.json"
  ])("%j is an invalid path for every operation", (requested) =>
    withLibrary((a, root) =>
      Effect.gen(function*() {
        write(path.join(root, "Scripts_evil", "x.json"), "{}")
        write(path.join(root, "Ansible_Playbooks", "site.yml"), "- hosts: all")
        write(path.join(root, "Scripts", "ok.json"), "{}")
        const invalid = { tag: "BadRequest", error: "invalid path" }
        expect(yield* failure(a.load("scripts", requested))).toEqual(invalid)
        expect(yield* failure(a.create({ island: "scripts", kind: "file", path: requested, content: {} }))).toEqual(invalid)
        expect(yield* failure(a.create({ island: "scripts", kind: "folder", path: requested }))).toEqual(invalid)
        expect(yield* failure(a.edit({ island: "scripts", path: requested, content: {} }))).toEqual(invalid)
        expect(yield* failure(a.rename({ island: "scripts", kind: "file", path: requested, new_name: "n" }))).toEqual(invalid)
        expect(yield* failure(a.move({ island: "scripts", path: requested, new_path: "moved.json" }))).toEqual(invalid)
        expect(yield* failure(a.move({ island: "scripts", path: "ok.json", new_path: requested }))).toEqual(invalid)
        expect(yield* failure(a.delete({ island: "scripts", path: requested, kind: "file" }))).toEqual(invalid)
        expect(fs.existsSync(path.join(root, "Scripts_evil", "x.json"))).toBe(true)
        expect(fs.existsSync(path.join(root, "Ansible_Playbooks", "site.yml"))).toBe(true)
        expect(fs.existsSync(path.join(root, "outside.json"))).toBe(false)
      })
    ))

  it.effect("`..` that stays inside the island is fine", () =>
    withLibrary((a) =>
      Effect.gen(function*() {
        expect(yield* a.create({ island: "scripts", kind: "file", path: "a/../b", content: {} })).toEqual({ status: "ok", rel_path: "b.json" })
        expect(yield* a.create({ island: "scripts", kind: "file", path: "\\Tools\\tool", content: {} })).toEqual({ status: "ok", rel_path: "Tools/tool.json" })
      })
    ))

  it.effect("an absolute path is island-relative (leading slashes dropped), never the file system's", () =>
    withLibrary((a, root) =>
      Effect.gen(function*() {
        expect(yield* failure(a.load("scripts", "/etc/passwd"))).toEqual({ tag: "NotFound", error: "file not found" })
        expect(yield* failure(a.load("scripts", "//etc//hostname"))).toEqual({ tag: "NotFound", error: "file not found" })
        expect(yield* a.create({ island: "scripts", kind: "file", path: "/etc/passwd", content: {} })).toEqual({ status: "ok", rel_path: "etc/passwd.json" })
        expect(fs.existsSync(path.join(root, "Scripts", "etc", "passwd.json"))).toBe(true)
        expect(yield* failure(a.delete({ island: "scripts", path: "/etc/passwd", kind: "file" }))).toEqual({ tag: "NotFound", error: "file not found" })
        expect(fs.existsSync("/etc/passwd")).toBe(true)
      })
    ))

  it.effect("symbolic links that lead outside are refused; inside links work", () =>
    withLibrary((a, root) =>
      Effect.gen(function*() {
        const outside = fs.mkdtempSync(path.join(os.tmpdir(), "borealis-outside-"))
        write(path.join(outside, "secret.json"), JSON.stringify({ name: "Secret", script: "steal" }))
        const scripts = path.join(root, "Scripts")
        write(path.join(scripts, "real.json"), JSON.stringify({ name: "Real" }))
        fs.symlinkSync(outside, path.join(scripts, "escape"))
        fs.symlinkSync(path.join(outside, "secret.json"), path.join(scripts, "link.json"))
        fs.symlinkSync(path.join(outside, "planted.json"), path.join(scripts, "dangling.json"))
        fs.symlinkSync(path.join(scripts, "real.json"), path.join(scripts, "alias.json"))
        const invalid = { tag: "BadRequest", error: "invalid path" }

        expect(yield* failure(a.load("scripts", "escape/secret.json"))).toEqual(invalid)
        expect(yield* failure(a.load("scripts", "link.json"))).toEqual(invalid)
        expect(yield* failure(a.edit({ island: "scripts", path: "link.json", content: { name: "pwned" } }))).toEqual(invalid)
        expect(yield* failure(a.create({ island: "scripts", kind: "file", path: "escape/new", content: {} }))).toEqual(invalid)
        expect(yield* failure(a.create({ island: "scripts", kind: "folder", path: "escape/sub" }))).toEqual(invalid)
        expect(yield* failure(a.create({ island: "scripts", kind: "file", path: "dangling.json", content: {} }))).toEqual(invalid)
        expect(yield* failure(a.create({ island: "scripts", kind: "file", path: "dangling", content: {} }))).toEqual(invalid)
        expect(yield* failure(a.delete({ island: "scripts", path: "escape/secret.json", kind: "file" }))).toEqual(invalid)
        expect(yield* failure(a.delete({ island: "scripts", path: "escape", kind: "folder" }))).toEqual(invalid)
        expect(yield* failure(a.move({ island: "scripts", path: "real.json", new_path: "escape/real.json" }))).toEqual(invalid)
        expect(yield* failure(a.move({ island: "scripts", path: "real.json", new_path: "escape" }))).toEqual(invalid)
        expect(yield* failure(a.rename({ island: "scripts", kind: "file", path: "escape/secret.json", new_name: "x" }))).toEqual(invalid)

        // nothing outside was read, written, moved or deleted
        expect(fs.readdirSync(outside)).toEqual(["secret.json"])
        expect(JSON.parse(fs.readFileSync(path.join(outside, "secret.json"), "utf8")).name).toBe("Secret")

        // listing shows neither the escaping links nor what lies behind them
        const listing = yield* a.list("scripts")
        expect(listing.items.map((i) => i.rel_path).sort()).toEqual(["alias.json", "real.json"])
        expect(listing.folders).toEqual([])

        // a link inside the island is followed
        expect(((yield* a.load("scripts", "alias.json")) as { assembly: { name: string } }).assembly.name).toBe("Real")

        // the fabricator's reads are confined the same way
        expect(yield* a.readAssemblyText("Scripts/link.json")).toBeUndefined()
        expect(yield* a.readAssemblyText("Scripts/escape/secret.json")).toBeUndefined()
        expect(yield* a.readAssemblyText("Scripts/alias.json")).toBe(JSON.stringify({ name: "Real" }))
      })
    ))

  it.effect("a symlinked island folder inside the library root is its own confinement root", () =>
    withLibrary((a, root) =>
      Effect.gen(function*() {
        const elsewhere = fs.mkdtempSync(path.join(os.tmpdir(), "borealis-island-"))
        fs.mkdirSync(root, { recursive: true })
        fs.symlinkSync(elsewhere, path.join(root, "Workflows"))
        expect(yield* a.create({ island: "workflows", kind: "file", path: "w", content: {} })).toEqual({ status: "ok", rel_path: "w.json" })
        expect(fs.existsSync(path.join(elsewhere, "w.json"))).toBe(true)
        expect(yield* failure(a.load("workflows", "../Scripts/x.json"))).toEqual({ tag: "BadRequest", error: "invalid path" })
      })
    ))
})

describe("reads for the job fabricator", () => {
  it.effect("readAssemblyText / readSources feed fabricateJob", () =>
    withLibrary((a, root) =>
      Effect.gen(function*() {
        yield* a.create({
          island: "scripts",
          kind: "file",
          path: "Tools/hello",
          content: { name: "Hello", script: "Write-Output $env:WHO", variables: [{ name: "who", default: "you" }] }
        })
        write(path.join(root, "Ansible_Playbooks", "site.yml"), "- hosts: all\n")
        expect(yield* a.readAssemblyText("Scripts/missing.json")).toBeUndefined()
        expect(yield* a.readAssemblyText("Scripts/Tools")).toBeUndefined()
        expect(yield* a.readAssemblyText("Scripts")).toBeUndefined()
        expect(yield* a.readAssemblyText("Elsewhere/x.json")).toBeUndefined()
        expect(yield* a.readAssemblyText("Scripts/../../x")).toBeUndefined()
        expect(yield* a.readAssemblyText("Ansible_Playbooks/site.yml")).toBe("- hosts: all\n")
        expect(yield* a.readAssemblyText("Ansible_Playbooks/site.yml", 4)).toEqual({ _tag: "TooLarge", bytes: 13 })

        const job = {
          id: 1,
          name: "j",
          execution_context: "system",
          targets: ["h"],
          components: [{ type: "script", path: "Tools/hello.json" }, { type: "ansible", path: "site.yml" }, { type: "script", path: "nope.json" }]
        }
        const sources = yield* a.readSources(componentSourcePaths(job.components))
        const manifest = fabricateJob(job, 60, (p) => sources.get(p))
        expect(manifest.components.map((c) => c.path)).toEqual(["Scripts/Tools/hello.json", "Ansible_Playbooks/site.yml"])
        expect(manifest.components[0]?.kind === "script" && manifest.components[0].scriptContent).toBe("Write-Output 'you'")
        expect(manifest.skipped.map((s) => s.reason)).toEqual(["not_found"])
      })
    ))
})
