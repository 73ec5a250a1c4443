// Real agents are Python and use python-socketio; the tests that speak as them need Debian's packages.
// Install them once per run when missing (the machines run as root with apt reachable).
import { execFileSync, spawnSync } from "node:child_process"

export const PYTHON = "/usr/bin/python3"
const MODULES = ["socketio", "websocket", "requests", "cryptography"]
const PACKAGES = ["python3-socketio", "python3-websocket", "python3-requests", "python3-cryptography"]

const missing = () => spawnSync(PYTHON, ["-c", MODULES.map((m) => `import ${m}`).join(";")]).status !== 0

export default function setup() {
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
