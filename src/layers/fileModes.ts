// Data and secrets at rest (database, log, backups, keys) are readable by their owner only: files 0600,
// the directories we create for them 0700. Modes are set explicitly (create with a mode, then chmod),
// never left to the process umask, which is commonly 022 and would leave them world-readable.
import * as fs from "node:fs"
import * as path from "node:path"

export const PRIVATE_FILE_MODE = 0o600
export const PRIVATE_DIR_MODE = 0o700

const isCode = (error: unknown, code: string): boolean => (error as NodeJS.ErrnoException | undefined)?.code === code

/** `0644`-style text for a log line. */
export const formatMode = (mode: number): string => `0${(mode & 0o777).toString(8).padStart(3, "0")}`

/**
 * Create `dir` and its missing parents; each directory created here is made 0700. Directories that
 * already exist keep their mode (an operator's choice, or a shared parent such as /tmp).
 */
export const makePrivateDir = (dir: string): void => {
  const first = fs.mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE })
  if (first === undefined) return
  const stop = path.resolve(first)
  let current = path.resolve(dir)
  // mkdir's mode passes through the umask; chmod every directory created, from `dir` up to `first`.
  for (;;) {
    fs.chmodSync(current, PRIVATE_DIR_MODE)
    const parent = path.dirname(current)
    if (current === stop || parent === current) return
    current = parent
  }
}

/**
 * Create an empty file with mode 0600 unless it exists (exclusive create: never truncates). Returns
 * whether this call created it.
 */
export const createPrivateFile = (file: string): boolean => {
  let fd: number
  try {
    fd = fs.openSync(file, "wx", PRIVATE_FILE_MODE)
  } catch (error) {
    if (isCode(error, "EEXIST")) return false
    throw error
  }
  try {
    fs.fchmodSync(fd, PRIVATE_FILE_MODE)
  } finally {
    fs.closeSync(fd)
  }
  return true
}

/**
 * Make an existing file 0600 when it has any group or other permission bit. Returns its previous
 * permission bits when it changed them; nothing for a missing or already private file.
 */
export const tightenFileMode = (file: string): number | undefined => {
  let mode: number
  try {
    mode = fs.statSync(file).mode & 0o777
  } catch (error) {
    if (isCode(error, "ENOENT")) return undefined
    throw error
  }
  if ((mode & 0o077) === 0) return undefined
  fs.chmodSync(file, PRIVATE_FILE_MODE)
  return mode
}
