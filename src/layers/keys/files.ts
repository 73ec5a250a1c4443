import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { makePrivateDir } from "../fileModes.ts"

export const readIfExists = (file: string): string | undefined => {
  try {
    return fs.readFileSync(file, "utf8")
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined
    throw error
  }
}

/**
 * Write a secret atomically (temp file + rename) with mode 0600, so a crash never leaves half a key.
 * Key folders created here are 0700; existing ones keep their mode.
 */
export const writeSecretFile = (file: string, contents: string | Uint8Array): void => {
  makePrivateDir(path.dirname(file))
  const temp = `${file}.${crypto.randomBytes(6).toString("hex")}.tmp`
  fs.writeFileSync(temp, contents, { mode: 0o600 })
  fs.renameSync(temp, file)
  fs.chmodSync(file, 0o600)
}

/**
 * Create `file` only if nobody has: two processes starting at once agree on one key, because the
 * loser of the exclusive create reads the winner's file.
 */
export const createOnce = (file: string, contents: string): string => {
  makePrivateDir(path.dirname(file))
  const temp = `${file}.${crypto.randomBytes(6).toString("hex")}.tmp`
  fs.writeFileSync(temp, contents, { mode: 0o600 })
  try {
    // link() is atomic and refuses an existing name: readers never see a half-written key.
    fs.linkSync(temp, file)
    return contents
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error
    return fs.readFileSync(file, "utf8")
  } finally {
    fs.rmSync(temp, { force: true })
  }
}
