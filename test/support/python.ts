import { spawn } from "node:child_process"

/** Debian's interpreter: python3-socketio and friends are installed for it (see globalSetup.ts). */
export const PYTHON = "/usr/bin/python3"

export interface PythonResult {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Run a Python script (given as source) with arguments; resolves when it exits or after `timeoutMs`. */
export const runPython = (source: string, args: ReadonlyArray<string> = [], timeoutMs = 30_000, env: Record<string, string> = {}): Promise<PythonResult> =>
  new Promise((resolve) => {
    const child = spawn(PYTHON, ["-c", source, ...args], { env: { ...process.env, ...env } })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d) => (stdout += d))
    child.stderr.on("data", (d) => (stderr += d))
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs)
    child.on("close", (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
