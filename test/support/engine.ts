// Start the real Engine in-process on a temp root and a free port (HTTPS with its generated CA unless
// told otherwise), for as long as the surrounding scope lives.
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as TestServices from "effect/TestServices"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { EngineConfig } from "../../src/layers/Config.ts"
import { makeAppLayer } from "../../src/app/App.ts"
import { HttpListener } from "../../src/layers/HttpListener.ts"
import { Client } from "./http.ts"

export const tempRoot = (prefix = "borealis-test-"): string => fs.mkdtempSync(path.join(os.tmpdir(), prefix))

/** A temp root whose static folder (the web UI's) holds `files` (name → content). */
export const rootWithStatic = (files: Record<string, string>): string => {
  const root = tempRoot()
  for (const [name, content] of Object.entries(files)) {
    const file = path.join(root, "static", name)
    fs.mkdirSync(path.dirname(file), { recursive: true })
    fs.writeFileSync(file, content)
  }
  return root
}

export interface RunningEngine {
  readonly root: string
  readonly url: string
  readonly port: number
  readonly ca: string | undefined
  readonly databasePath: string
  readonly logFile: string
  readonly context: Context.Context<any>
  /** A fresh client (own cookie jar) trusting the Engine's CA. */
  readonly client: () => Client
}

export const startEngine = (
  options: { readonly root?: string; readonly env?: Record<string, string> } = {}
): Effect.Effect<RunningEngine, unknown, Scope.Scope> =>
  Effect.gen(function*() {
    const root = options.root ?? tempRoot()
    fs.mkdirSync(path.join(root, "static"), { recursive: true })
    const env = { BOREALIS_PORT: "0", BOREALIS_LOG_STDERR: "false", ...options.env }
    const scope = yield* Effect.scope
    // The server runs on real time even inside `it.scoped` (whose TestClock would freeze its timers).
    const context = yield* TestServices.provideLive(Layer.buildWithScope(makeAppLayer(EngineConfig.forRoot(root, env)), scope))
    const listener = Context.get(context, HttpListener)
    const config = Context.get(context, EngineConfig)
    const caFile = path.join(config.serverCertRoot, "borealis-root-ca.pem")
    const ca = listener.scheme === "https" ? fs.readFileSync(caFile, "utf8") : undefined
    const url = listener.scheme === "https" ? `https://localhost:${listener.port}` : `http://127.0.0.1:${listener.port}`
    return {
      root,
      url,
      port: listener.port,
      ca,
      databasePath: config.databasePath,
      logFile: path.join(config.logsRoot, "engine.log"),
      context,
      client: () => new Client(url, ca)
    }
  })
