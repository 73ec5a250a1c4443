// Real agents are Python and use python-socketio; the tests that speak as them need Debian's packages.
// Install them once per run when missing (the machines run as root with apt reachable).
//
// Every temporary root, database and socket a test makes goes under one directory per run (TMPDIR,
// inherited by the test workers and the servers they spawn), removed when the run ends, so runs do not
// pile up directories in /tmp.
import { execFileSync, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

export const PYTHON = "/usr/bin/python3"
const MODULES = ["socketio", "websocket", "requests", "cryptography"]
const PACKAGES = ["python3-socketio", "python3-websocket", "python3-requests", "python3-cryptography"]

const missing = () => spawnSync(PYTHON, ["-c", MODULES.map((m) => `import ${m}`).join(";")]).status !== 0

const installPython = () => {
  if (!missing()) return
  try {
    execFileSync("apt-get", ["update", "-qq"], { stdio: "ignore" })
    execFileSync("apt-get", ["install", "-y", "-qq", ...PACKAGES], {
      stdio: "ignore",
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" }
    })
  } catch (error) {
    process.stderr.write(`globalSetup: could not install ${PACKAGES.join(" ")}: ${String(error)}\n`)
  }
}

export default function setup() {
  installPython()
  const previous = process.env["TMPDIR"]
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), "borealis-vitest-"))
  process.env["TMPDIR"] = runDir
  return () => {
    if (previous === undefined) delete process.env["TMPDIR"]
    else process.env["TMPDIR"] = previous
    fs.rmSync(runDir, { recursive: true, force: true })
  }
}
