// Keeping every library path inside its island: a request path is resolved lexically under the
// island root (no `..` out, no drive letters, no NUL), then each existing component is checked so a
// symbolic link cannot lead outside either (a dangling link is refused: writing through it would
// create a file wherever it points). The original compared string prefixes after resolving, which
// also admitted a sibling folder such as `Scripts_old`.
import * as Effect from "effect/Effect"
import * as fs from "node:fs/promises"
import * as path from "node:path"

/** `candidate` is `root` or below it (both absolute, normalised). */
export const within = (root: string, candidate: string): boolean =>
  candidate === root || candidate.startsWith(root.endsWith(path.sep) ? root : root + path.sep)

export interface LexicalPath {
  /** Absolute path under the root (symbolic links not followed). */
  readonly abs: string
  /** The same relative to the root, `/`-separated; `""` for the root itself. */
  readonly rel: string
}

/**
 * A request path relative to `root`: backslashes are separators, leading and trailing slashes are
 * dropped (so `/etc/passwd` means `<root>/etc/passwd`, as in the original), `.`/`..` resolve
 * lexically and must stay inside. `undefined` when they do not, or for NUL bytes or drive letters.
 */
export const lexicalPath = (root: string, requested: string): LexicalPath | undefined => {
  if (requested.includes("\0")) return undefined
  const relative = requested.replace(/\\/g, "/").replace(/^\/+|\/+$/g, "")
  if (/^[A-Za-z]:/.test(relative)) return undefined
  const abs = path.resolve(root, relative)
  if (!within(root, abs)) return undefined
  return { abs, rel: path.relative(root, abs).split(path.sep).join("/") }
}

const errno = (error: unknown): string | undefined =>
  typeof error === "object" && error !== null && "code" in error ? String((error as { code: unknown }).code) : undefined

/**
 * Whether following `abs` (a lexical path under `root`, which is itself a real path) stays inside:
 * every existing component that is a symbolic link must resolve, and resolve inside `root`.
 * Components that do not exist yet end the check (nothing to follow there).
 */
export const staysInside = (root: string, abs: string): Effect.Effect<boolean> =>
  Effect.promise(async () => {
    let current = root
    for (const segment of path.relative(root, abs).split(path.sep).filter((s) => s !== "")) {
      const next = path.join(current, segment)
      let isLink: boolean
      try {
        isLink = (await fs.lstat(next)).isSymbolicLink()
      } catch (error) {
        const code = errno(error)
        if (code === "ENOENT" || code === "ENOTDIR") return true
        throw error
      }
      if (!isLink) {
        current = next
        continue
      }
      let real: string
      try {
        real = await fs.realpath(next)
      } catch {
        return false
      }
      if (!within(root, real)) return false
      current = real
    }
    return true
  })

type EntryKind = "file" | "directory" | "missing" | "other"

/** What is at `abs`, following symbolic links. */
export const entryKind = (abs: string): Effect.Effect<EntryKind> =>
  Effect.promise(() =>
    fs.stat(abs).then(
      (stat) => (stat.isFile() ? "file" : stat.isDirectory() ? "directory" : "other"),
      (error: unknown) => {
        const code = errno(error)
        if (code === "ENOENT" || code === "ENOTDIR" || code === "ELOOP") return "missing" as const
        throw error
      }
    )
  )

/** Whether anything (even a dangling link) occupies `abs`. */
export const occupied = (abs: string): Effect.Effect<boolean> =>
  Effect.promise(() =>
    fs.lstat(abs).then(
      () => true,
      (error: unknown) => {
        const code = errno(error)
        if (code === "ENOENT" || code === "ENOTDIR") return false
        throw error
      }
    )
  )

export { errno }
