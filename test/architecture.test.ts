// The import rule of docs/architecture.md, checked on every file of src/: imports point one way —
// foundations (src/layers) ← capabilities (src/services/<capability>, and the small shared modules
// directly in src/services) ← transports and fibers (src/http, src/ws, src/scheduler) ← the
// composition root (src/app) ← the entry points (src/main.ts, and the operator CLI src/cli*, a
// program of its own). No two capability folders depend on each other (the capability graph has no
// cycle), and no transport imports another. Tools (src/tools: the simulator) may use anything below
// the composition root.
import { describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "src")

type Kind = "foundation" | "shared" | "capability" | "transport" | "composition" | "entry" | "tool"

interface Unit {
  readonly kind: Kind
  /** The capability folder or transport folder a file belongs to. */
  readonly area: string
}

export const unitOf = (file: string): Unit => {
  const rel = path.relative(ROOT, file).split(path.sep)
  const [top, second] = rel
  if (top === "main.ts" || top === "cli.ts" || top === "cli") return { kind: "entry", area: top === "cli.ts" ? "cli" : top }
  if (top === "layers") return { kind: "foundation", area: "layers" }
  if (top === "app") return { kind: "composition", area: "app" }
  if (top === "tools") return { kind: "tool", area: "tools" }
  if (top === "http" || top === "ws" || top === "scheduler") return { kind: "transport", area: top }
  if (top === "services") {
    return rel.length === 2 ? { kind: "shared", area: "services" } : { kind: "capability", area: second! }
  }
  return { kind: "entry", area: top ?? "" }
}

const ALLOWED: Readonly<Record<Kind, ReadonlyArray<Kind>>> = {
  foundation: ["foundation"],
  shared: ["foundation", "shared"],
  capability: ["foundation", "shared", "capability"],
  transport: ["foundation", "shared", "capability", "transport"],
  composition: ["foundation", "shared", "capability", "transport", "composition"],
  entry: ["foundation", "shared", "capability", "transport", "composition", "entry"],
  tool: ["foundation", "shared", "capability", "transport", "tool"]
}

const sources = (dir: string): Array<string> =>
  fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name)
    return entry.isDirectory() ? sources(full) : entry.name.endsWith(".ts") ? [full] : []
  })

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^"';]*?from\s+["'](\.{1,2}\/[^"']+)["']|(?:^|\n)\s*import\s+["'](\.{1,2}\/[^"']+)["']|import\(\s*["'](\.{1,2}\/[^"']+)["']\s*\)/g

export interface Edge {
  readonly from: string
  readonly to: string
}

export const importsOf = (file: string): Array<string> => {
  const text = fs.readFileSync(file, "utf8")
  const out: Array<string> = []
  for (const m of text.matchAll(IMPORT)) out.push(path.resolve(path.dirname(file), (m[1] ?? m[2] ?? m[3])!))
  return out
}

const edges = (): Array<Edge> => sources(ROOT).flatMap((from) => importsOf(from).map((to) => ({ from, to })))

const show = (file: string) => path.relative(path.dirname(ROOT), file)

describe("imports point one way", () => {
  const all = edges()

  it("every relative import resolves to a file of src/", () => {
    const missing = all.filter((e) => !fs.existsSync(e.to)).map((e) => `${show(e.from)} → ${show(e.to)}`)
    expect(missing).toEqual([])
  })

  it("no file imports against the direction foundations ← capabilities ← transports ← composition ← entry points", () => {
    const against = all.flatMap((e) => {
      const from = unitOf(e.from)
      const to = unitOf(e.to)
      if (!ALLOWED[from.kind].includes(to.kind)) return [`${show(e.from)} (${from.kind}) → ${show(e.to)} (${to.kind})`]
      // Transports stand side by side: an HTTP route never reaches into the Socket.IO layer, nor back.
      if (from.kind === "transport" && to.kind === "transport" && from.area !== to.area) {
        return [`${show(e.from)} (${from.area}) → ${show(e.to)} (${to.area})`]
      }
      return []
    })
    expect(against).toEqual([])
  })

  it("no two capability folders depend on each other, directly or around a cycle", () => {
    const graph = new Map<string, Set<string>>()
    const witness = new Map<string, string>()
    for (const e of all) {
      const from = unitOf(e.from)
      const to = unitOf(e.to)
      if (from.kind !== "capability" || to.kind !== "capability" || from.area === to.area) continue
      if (!graph.has(from.area)) graph.set(from.area, new Set())
      graph.get(from.area)!.add(to.area)
      witness.set(`${from.area}→${to.area}`, `${show(e.from)} → ${show(e.to)}`)
    }
    const cycles: Array<string> = []
    const visit = (node: string, trail: ReadonlyArray<string>) => {
      for (const next of graph.get(node) ?? []) {
        if (next === trail[0]) {
          const loop = [...trail, next]
          cycles.push(loop.slice(1).map((to, i) => witness.get(`${loop[i]}→${to}`)).join("; "))
        } else if (!trail.includes(next) && next > trail[0]!) visit(next, [...trail, next])
      }
    }
    for (const start of graph.keys()) visit(start, [start])
    expect(cycles).toEqual([])
  })
})
