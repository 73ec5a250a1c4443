// The script library ("assemblies") under `<project root>/Assemblies`: list, load, create folder,
// create/update file, rename, move, delete per island, with the original's answers; and the
// confined reads the job fabricator needs. Every path stays inside its island (confine.ts).
// Original: first-generation Engine `services/assemblies/assembly_service.py` + legacy server routes.
//
// Where the original silently overwrote (rename/move onto an existing entry, a folder where a file
// is, a file where a folder is) this answers 409 {"error":"destination exists"}; writes go to a
// temporary file first, so a crash never leaves half a document.
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { randomUUID } from "node:crypto"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { EngineConfig } from "../../layers/Config.ts"
import { BadRequest, Conflict, NotFound } from "../errors.ts"
import { stem } from "./dispatchDocument.ts"
import { MAX_SCRIPT_BYTES, type SourceText } from "./source.ts"
import { isRecord, type JsonRecord } from "../pyValues.ts"
import { entryKind, errno, lexicalPath, type LexicalPath, occupied, staysInside, within } from "./confine.ts"
import {
  contentObject,
  detectScriptType,
  documentJson,
  normaliseAssemblyDocument,
  parseJsonText,
  readAssemblyDocument,
  storedDocument,
  workflowTabName
} from "./document.ts"
import { DEFAULT_EXTENSION, defaultTypeFor, type Island, islandNamed, islandOfDirectory } from "./islands.ts"

const bad = (error: string) => new BadRequest({ error })
const INVALID_ISLAND = "invalid island"
const INVALID_PATH = "invalid path"
const PATH_REQUIRED = "path required"
const INVALID_KIND = "invalid kind"
const INVALID_DESTINATION = "invalid destination"
const CANNOT_DELETE_ROOT = "cannot delete root"
const NEW_NAME_REQUIRED = "new_name required"
const INVALID_WORKFLOW = "invalid content for workflow"
const fileNotFound = () => new NotFound({ error: "file not found" })
const folderNotFound = () => new NotFound({ error: "folder not found" })
const destinationExists = () => new Conflict({ error: "destination exists" })

interface ScriptListItem {
  readonly file_name: string
  readonly rel_path: string
  readonly type: string
  readonly name: string
  readonly category: string
  readonly description: string
  /** Server-local `YYYY-MM-DDTHH:MM:SS`. */
  readonly last_edited: string
  /** Modification time, epoch seconds with fraction. */
  readonly last_edited_epoch: number
}

interface WorkflowListItem {
  readonly file_name: string
  readonly rel_path: string
  readonly type: "workflow"
  readonly tab_name: string
  readonly last_edited: string
  readonly last_edited_epoch: number
}

export interface AssemblyListing {
  /**
   * The island's folder relative to the Assemblies root (`Scripts`, `Workflows`,
   * `Ansible_Playbooks`), as job components name it; never the server's absolute path.
   */
  readonly root: string
  /** Newest first. */
  readonly items: ReadonlyArray<ScriptListItem | WorkflowListItem>
  /** Every sub-folder, `/`-separated, parents before children. */
  readonly folders: ReadonlyArray<string>
}

export interface MutationResult {
  readonly status: "ok"
  readonly rel_path?: string
}

interface CreateRequest {
  readonly island: string
  readonly kind: string
  readonly path: string
  readonly content?: unknown
  readonly type?: string | undefined
}

interface EditRequest {
  readonly island: string
  readonly path: string
  readonly content?: unknown
  readonly type?: string | undefined
}

interface RenameRequest {
  readonly island: string
  readonly kind: string
  readonly path: string
  readonly new_name: string
  readonly type?: string | undefined
}

interface MoveRequest {
  readonly island: string
  readonly path: string
  readonly new_path: string
  readonly kind?: string | undefined
}

interface DeleteRequest {
  readonly island: string
  readonly path: string
  readonly kind: string
}

const ok: MutationResult = { status: "ok" }
const okAt = (rel_path: string): MutationResult => ({ status: "ok", rel_path })

/** Python's `PurePath.suffix`: the last `.ext` of the name, not a leading or trailing dot. */
const suffix = (fileName: string): string => {
  const dot = fileName.lastIndexOf(".")
  return dot > 0 && dot < fileName.length - 1 ? fileName.slice(dot) : ""
}

const pad = (n: number) => String(n).padStart(2, "0")
/** `time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(t))`. */
const localTimestamp = (epochMs: number): string => {
  const d = new Date(epochMs)
  return `${String(d.getFullYear()).padStart(4, "0")}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${
    pad(d.getMinutes())
  }:${pad(d.getSeconds())}`
}

const lower = (value: string | undefined): string => (value ?? "").trim().toLowerCase()

/** Map the file-system refusals a caller can act on to 409; anything else is a defect. */
const conflictOnClash = <A>(run: () => Promise<A>): Effect.Effect<A, Conflict> =>
  Effect.tryPromise({ try: run, catch: (error) => error }).pipe(
    Effect.catchAll((error) => {
      const code = errno(error)
      return code === "EEXIST" || code === "ENOTDIR" || code === "EISDIR" || code === "ENOTEMPTY"
        ? Effect.fail(destinationExists())
        : Effect.die(error)
    })
  )

const readText = (abs: string): Effect.Effect<string> => Effect.promise(() => fs.readFile(abs, "utf8"))

interface Walked {
  readonly folders: Array<string>
  readonly files: Array<{ readonly abs: string; readonly rel: string; readonly name: string }>
}

/** `os.walk` top-down, names sorted; symbolic links are not descended, linked files only if they stay inside. */
const walk = (root: string, extensions: ReadonlyArray<string>): Effect.Effect<Walked> =>
  Effect.promise(async () => {
    const result: Walked = { folders: [], files: [] }
    const visit = async (dir: string, rel: string): Promise<void> => {
      if (rel !== "") result.folders.push(rel)
      const entries = (await fs.readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      const subdirs: Array<string> = []
      for (const entry of entries) {
        const abs = path.join(dir, entry.name)
        const entryRel = rel === "" ? entry.name : `${rel}/${entry.name}`
        if (entry.isDirectory()) {
          subdirs.push(entry.name)
          continue
        }
        if (!extensions.some((ext) => entry.name.toLowerCase().endsWith(ext))) continue
        if (entry.isFile()) {
          result.files.push({ abs, rel: entryRel, name: entry.name })
        } else if (entry.isSymbolicLink()) {
          const real = await fs.realpath(abs).catch(() => undefined)
          const stat = real === undefined ? undefined : await fs.stat(real).catch(() => undefined)
          if (real !== undefined && within(root, real) && stat?.isFile() === true) result.files.push({ abs, rel: entryRel, name: entry.name })
        }
      }
      for (const name of subdirs) await visit(path.join(dir, name), rel === "" ? name : `${rel}/${name}`)
    }
    await visit(root, "")
    return result
  })

const makeAssemblies = (assembliesRoot: string) =>
  Effect.gen(function*() {
    const base = path.resolve(assembliesRoot)
    yield* Effect.promise(() => fs.mkdir(base, { recursive: true })).pipe(
      Effect.catchAllDefect((defect) => Effect.logWarning("assemblies-root-unavailable", defect).pipe(Effect.annotateLogs({ root: base })))
    )

    const islandRootOf = (island: Island): Effect.Effect<string> =>
      Effect.promise(async () => {
        const dir = path.join(base, island.directory)
        await fs.mkdir(dir, { recursive: true })
        return fs.realpath(dir)
      })

    const islandNamedOrFail = (name: string) => {
      const island = islandNamed(name)
      return island === undefined
        ? Effect.fail(bad(INVALID_ISLAND))
        : Effect.map(islandRootOf(island), (root) => ({ island, root }))
    }

    /** A confined path under `root`, or the given 400. */
    const confined = (root: string, requested: string, error: string = INVALID_PATH): Effect.Effect<LexicalPath, BadRequest> => {
      const lexical = lexicalPath(root, requested)
      if (lexical === undefined) return Effect.fail(bad(error))
      return Effect.flatMap(staysInside(root, lexical.abs), (inside) => (inside ? Effect.succeed(lexical) : Effect.fail(bad(error))))
    }

    const writeFileAtomic = (abs: string, text: string): Effect.Effect<void, Conflict> =>
      conflictOnClash(async () => {
        await fs.mkdir(path.dirname(abs), { recursive: true })
        const temp = path.join(path.dirname(abs), `.${path.basename(abs)}.${randomUUID()}.tmp`)
        try {
          await fs.writeFile(temp, text, "utf8")
          await fs.rename(temp, abs)
        } catch (error) {
          await fs.rm(temp, { force: true })
          throw error
        }
      })

    /** Write editor content as the island's document; `workflow` shapes (or refuses) a workflow body. */
    const writeDocument = (
      island: Island,
      target: LexicalPath,
      content: unknown,
      typeHint: string,
      workflow: (obj: JsonRecord | undefined) => JsonRecord | undefined
    ) =>
      Effect.gen(function*() {
        if ((yield* entryKind(target.abs)) === "directory") return yield* destinationExists()
        if (island.key === "workflows") {
          const obj = workflow(contentObject(content))
          if (obj === undefined) return yield* bad(INVALID_WORKFLOW)
          return yield* writeFileAtomic(target.abs, documentJson(obj))
        }
        const doc = normaliseAssemblyDocument(contentObject(content) ?? {}, defaultTypeFor(island, typeHint), stem(path.basename(target.abs)))
        yield* writeFileAtomic(target.abs, documentJson(storedDocument(doc)))
      })

    const list = Effect.fn("Assemblies.list")(function*(islandName: string) {
      const { island, root } = yield* islandNamedOrFail(islandName)
      const walked = yield* walk(root, island.extensions)
      const items: Array<ScriptListItem | WorkflowListItem> = []
      for (const file of walked.files) {
        const stat = yield* Effect.promise(() => fs.stat(file.abs).catch(() => undefined))
        const mtimeMs = stat?.mtimeMs ?? 0
        const text = stat !== undefined && stat.size <= MAX_SCRIPT_BYTES ? yield* readText(file.abs) : undefined
        const timestamps = { last_edited: localTimestamp(mtimeMs), last_edited_epoch: mtimeMs / 1000 }
        if (island.key === "workflows") {
          const tab = workflowTabName(text === undefined ? undefined : parseJsonText(text))
          items.push({ file_name: file.name, rel_path: file.rel, type: "workflow", tab_name: tab, ...timestamps })
          continue
        }
        const detected = detectScriptType(file.name, text)
        const doc = readAssemblyDocument(file.name, text ?? "", defaultTypeFor(island, detected))
        items.push({
          file_name: file.name,
          rel_path: file.rel,
          type: doc.type,
          name: doc.name,
          category: doc.category,
          description: doc.description,
          ...timestamps
        })
      }
      items.sort((a, b) => b.last_edited_epoch - a.last_edited_epoch)
      return { root: island.directory, items, folders: walked.folders } satisfies AssemblyListing
    })

    const load = Effect.fn("Assemblies.load")(function*(islandName: string, requested: string) {
      const { island, root } = yield* islandNamedOrFail(islandName)
      const target = yield* confined(root, requested)
      if ((yield* entryKind(target.abs)) !== "file") return yield* fileNotFound()
      const text = yield* readText(target.abs)
      if (island.key === "workflows") return parseJsonText(text) ?? {}
      const fileName = path.basename(target.abs)
      const doc = readAssemblyDocument(fileName, text, defaultTypeFor(island, ""))
      return { file_name: fileName, rel_path: target.rel, type: doc.type, assembly: doc, content: doc.script }
    })

    const create = Effect.fn("Assemblies.create")(function*(request: CreateRequest) {
      const { island, root } = yield* islandNamedOrFail(request.island)
      const requested = yield* confined(root, request.path)
      if (requested.rel === "") return yield* bad(PATH_REQUIRED)
      const kind = lower(request.kind)
      if (kind === "folder") {
        if ((yield* entryKind(requested.abs)) === "file") return yield* destinationExists()
        yield* conflictOnClash(() => fs.mkdir(requested.abs, { recursive: true }))
        return ok
      }
      if (kind !== "file") return yield* bad(INVALID_KIND)
      const target = suffix(path.basename(requested.abs)) === ""
        ? yield* confined(root, requested.rel + DEFAULT_EXTENSION)
        : requested
      // a new workflow may start empty; it is named after its file unless it names itself
      yield* writeDocument(island, target, request.content, request.type ?? "", (obj = {}) =>
        Object.hasOwn(obj, "tab_name") ? obj : { ...obj, tab_name: stem(path.basename(target.abs)) })
      return okAt(target.rel)
    })

    const edit = Effect.fn("Assemblies.edit")(function*(request: EditRequest) {
      const { island, root } = yield* islandNamedOrFail(request.island)
      const current = yield* confined(root, request.path)
      if ((yield* entryKind(current.abs)) !== "file") return yield* fileNotFound()
      // A non-JSON file (a legacy .ps1) becomes a JSON document beside it, and the old file goes.
      const target = current.abs.toLowerCase().endsWith(".json")
        ? current
        : yield* confined(root, current.rel.slice(0, current.rel.length - suffix(path.basename(current.abs)).length) + DEFAULT_EXTENSION)
      if (target.abs !== current.abs && (yield* occupied(target.abs))) return yield* destinationExists()
      // an edit must carry a workflow object: never replace a workflow with nothing
      yield* writeDocument(island, target, request.content, request.type ?? "", (obj) => obj)
      if (target.abs !== current.abs) yield* Effect.promise(() => fs.rm(current.abs, { force: true }))
      return okAt(target.rel)
    })

    const sameEntry = (a: string, b: string): Effect.Effect<boolean> =>
      Effect.promise(async () => {
        const [x, y] = await Promise.all([fs.lstat(a).catch(() => undefined), fs.lstat(b).catch(() => undefined)])
        return x !== undefined && y !== undefined && x.ino === y.ino && x.dev === y.dev
      })

    const rename = Effect.fn("Assemblies.rename")(function*(request: RenameRequest) {
      const { island, root } = yield* islandNamedOrFail(request.island)
      const current = yield* confined(root, request.path)
      const kind = lower(request.kind)
      if (kind !== "file" && kind !== "folder") return yield* bad(INVALID_KIND)
      const newName = request.new_name.trim()
      if (newName === "") return yield* bad(NEW_NAME_REQUIRED)
      let name: string
      if (kind === "folder") {
        if ((yield* entryKind(current.abs)) !== "directory") return yield* folderNotFound()
        if (current.rel === "" || /[/\\]/.test(newName) || newName === "." || newName === "..") {
          return yield* bad(INVALID_DESTINATION)
        }
        name = newName
      } else {
        if ((yield* entryKind(current.abs)) !== "file") return yield* fileNotFound()
        // the original kept only the final component of a file's new name
        const last = newName.replace(/\\/g, "/").split("/").pop() ?? ""
        if (last === "" || last === "." || last === "..") return yield* bad(INVALID_DESTINATION)
        name = suffix(last) === "" ? last + DEFAULT_EXTENSION : last
      }
      const parentRel = path.posix.dirname(current.rel)
      const destination = yield* confined(root, parentRel === "." ? name : `${parentRel}/${name}`, INVALID_DESTINATION)
      if (destination.abs !== current.abs && (yield* occupied(destination.abs)) && !(yield* sameEntry(current.abs, destination.abs))) {
        return yield* destinationExists()
      }
      yield* conflictOnClash(() => fs.rename(current.abs, destination.abs))
      if (kind === "file" && island.key === "workflows") {
        // keep the workflow's own names in step with its file name (best effort, as the original)
        const obj = parseJsonText(yield* readText(destination.abs))
        if (isRecord(obj)) {
          const baseName = stem(path.basename(destination.abs))
          const updated: Record<string, unknown> = { ...obj }
          for (const key of ["tabName", "tab_name", "name", "title"]) if (Object.hasOwn(updated, key)) updated[key] = baseName
          if (!Object.hasOwn(updated, "tab_name")) updated["tab_name"] = baseName
          yield* writeFileAtomic(destination.abs, documentJson(updated)).pipe(Effect.catchAll(() => Effect.void))
        }
      }
      return okAt(destination.rel)
    })

    const move = Effect.fn("Assemblies.move")(function*(request: MoveRequest) {
      const { root } = yield* islandNamedOrFail(request.island)
      const source = yield* confined(root, request.path)
      const requested = yield* confined(root, request.new_path)
      const kind = lower(request.kind)
      const sourceKind = yield* entryKind(source.abs)
      if (kind === "folder") {
        if (sourceKind !== "directory") return yield* folderNotFound()
      } else if (kind === "file" ? sourceKind !== "file" : sourceKind !== "file" && sourceKind !== "directory") {
        return yield* fileNotFound()
      }
      if (source.rel === "") return yield* bad(INVALID_PATH)
      // shutil.move: into an existing folder keeps the name
      const destination = (yield* entryKind(requested.abs)) === "directory"
        ? yield* confined(root, requested.rel === "" ? path.basename(source.abs) : `${requested.rel}/${path.basename(source.abs)}`, INVALID_DESTINATION)
        : requested
      if (destination.abs === source.abs) return ok
      if (sourceKind === "directory" && within(source.abs, destination.abs)) return yield* bad(INVALID_DESTINATION)
      if ((yield* occupied(destination.abs)) && !(yield* sameEntry(source.abs, destination.abs))) return yield* destinationExists()
      yield* conflictOnClash(async () => {
        await fs.mkdir(path.dirname(destination.abs), { recursive: true })
        await fs.rename(source.abs, destination.abs)
      })
      return ok
    })

    const remove = Effect.fn("Assemblies.delete")(function*(request: DeleteRequest) {
      const { root } = yield* islandNamedOrFail(request.island)
      const target = yield* confined(root, request.path)
      if (target.rel === "") return yield* bad(CANNOT_DELETE_ROOT)
      const kind = lower(request.kind)
      if (kind === "folder") {
        if ((yield* entryKind(target.abs)) !== "directory") return yield* folderNotFound()
        // a linked folder loses only the link
        yield* Effect.promise(() => fs.rm(target.abs, { recursive: true }))
        return ok
      }
      if (kind !== "file") return yield* bad(INVALID_KIND)
      if ((yield* entryKind(target.abs)) !== "file") return yield* fileNotFound()
      yield* Effect.promise(() => fs.unlink(target.abs))
      return ok
    })

    /**
     * The text of an assembly by its path under the Assemblies root (`Scripts/…`,
     * `Ansible_Playbooks/…`, as the fabricator names them): confined like every other path;
     * `undefined` when missing or not a file; files over `maxBytes` are refused unread.
     */
    const readAssemblyText = Effect.fn("Assemblies.readAssemblyText")(function*(relative: string, maxBytes: number = MAX_SCRIPT_BYTES) {
      const [top, ...rest] = relative.split("/")
      const island = islandOfDirectory(top ?? "")
      if (island === undefined || rest.length === 0) return undefined
      const root = yield* islandRootOf(island)
      const lexical = lexicalPath(root, rest.join("/"))
      if (lexical === undefined || lexical.rel === "" || !(yield* staysInside(root, lexical.abs))) return undefined
      const stat = yield* Effect.promise(() => fs.stat(lexical.abs).catch(() => undefined))
      if (stat === undefined || !stat.isFile()) return undefined
      if (stat.size > maxBytes) return { _tag: "TooLarge", bytes: stat.size } satisfies SourceText
      return yield* readText(lexical.abs)
    })

    /** {@link readAssemblyText} for every path a job needs (see `componentSourcePaths`). */
    const readSources = Effect.fn("Assemblies.readSources")(function*(paths: ReadonlyArray<string>, maxBytes?: number) {
      const texts = yield* Effect.forEach(paths, (p) => readAssemblyText(p, maxBytes), { concurrency: 8 })
      return new Map<string, SourceText>(paths.map((p, i) => [p, texts[i]]))
    })

    return { root: base, list, load, create, edit, rename, move, delete: remove, readAssemblyText, readSources } as const
  })

export class Assemblies extends Effect.Service<Assemblies>()("borealis/Assemblies", {
  effect: Effect.flatMap(EngineConfig, (config) => makeAssemblies(config.assembliesRoot))
}) {
  /** The library rooted at `root` (tests, tools). */
  static readonly at = (root: string): Layer.Layer<Assemblies> =>
    Layer.effect(Assemblies, Effect.map(makeAssemblies(root), (impl) => Assemblies.make(impl)))
}
