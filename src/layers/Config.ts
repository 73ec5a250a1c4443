import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import {
  type ConfigInvalid,
  type ConfigWarning,
  type EngineSettings,
  type PathProbe,
  parseEnvironment
} from "./configParse.ts"

/** The repository checkout this source lives in (`src/layers/..` → root): the default project root. */
export const repositoryRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..")

const realpathLenient = (p: string): string => {
  // Resolve symlinks of the longest existing prefix, keep the rest verbatim.
  let head = p
  const tail: Array<string> = []
  for (;;) {
    try {
      return path.join(fs.realpathSync(head), ...tail.reverse())
    } catch {
      const parent = path.dirname(head)
      if (parent === head) return p
      tail.push(path.basename(head))
      head = parent
    }
  }
}

const statOr = (p: string) => {
  try {
    return fs.statSync(p)
  } catch {
    return undefined
  }
}

export const nodePathProbe = (cwd: string = process.cwd()): PathProbe => ({
  cwd,
  home: os.homedir(),
  isDirectory: (p) => statOr(p)?.isDirectory() ?? false,
  isFile: (p) => statOr(p)?.isFile() ?? false,
  realpath: realpathLenient
})

/** One typed configuration for the whole Engine, decoded once at start-up. */
export class EngineConfig extends Context.Tag("borealis/EngineConfig")<
  EngineConfig,
  EngineSettings & { readonly warnings: ReadonlyArray<ConfigWarning> }
>() {
  static readonly fromEnv = (
    env: Readonly<Record<string, string | undefined>> = process.env
  ): Layer.Layer<EngineConfig, ConfigInvalid> =>
    Layer.effect(
      EngineConfig,
      Effect.suspend(() =>
        parseEnvironment(env, { defaultProjectRoot: repositoryRoot, probe: nodePathProbe() }).pipe(
          Either.map(({ settings, warnings }) => ({ ...settings, warnings }))
        )
      )
    )

  /** A configuration rooted in `root` (tests), with any variable overridden. */
  static readonly forRoot = (
    root: string,
    env: Readonly<Record<string, string | undefined>> = {}
  ): Layer.Layer<EngineConfig, ConfigInvalid> =>
    EngineConfig.fromEnv({ BOREALIS_ROOT: root, BOREALIS_STATIC_ROOT: path.join(root, "static"), ...env })
}
