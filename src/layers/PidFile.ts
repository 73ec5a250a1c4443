// `<runtime root>/engine.pid` while the Engine runs: lets tools (restore) refuse to replace the files
// of a running server. Removed on shutdown; a stale file (dead pid) is ignored.
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as fs from "node:fs"
import * as path from "node:path"
import { EngineConfig } from "./Config.ts"
import { makePrivateDir } from "./fileModes.ts"

export const pidFileOf = (runtimeRoot: string): string => path.join(runtimeRoot, "engine.pid")

/** The pid of a live Engine using `runtimeRoot`, if any. */
export const runningEngine = (runtimeRoot: string): number | undefined => {
  let pid: number
  try {
    pid = Number(fs.readFileSync(pidFileOf(runtimeRoot), "utf8").trim())
  } catch {
    return undefined
  }
  if (!Number.isInteger(pid) || pid <= 0) return undefined
  try {
    process.kill(pid, 0)
    return pid
  } catch (error) {
    // EPERM: it exists but belongs to someone else — still running.
    return (error as NodeJS.ErrnoException).code === "EPERM" ? pid : undefined
  }
}

export const PidFileLive = Layer.scopedDiscard(
  Effect.gen(function*() {
    const config = yield* EngineConfig
    const file = pidFileOf(config.runtimeRoot)
    yield* Effect.acquireRelease(
      Effect.sync(() => {
        makePrivateDir(config.runtimeRoot)
        fs.writeFileSync(file, `${process.pid}\n`)
      }),
      () =>
        Effect.sync(() => {
          try {
            if (fs.readFileSync(file, "utf8").trim() === String(process.pid)) fs.rmSync(file)
          } catch {
            // already gone
          }
        })
    )
  })
)
