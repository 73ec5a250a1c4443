// Helpers for the jobs tests: script library files, agent/operator sockets over the real port,
// polling waits, and a scheduler tick triggered through the running Engine's context.
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as TestServices from "effect/TestServices"
import * as fs from "node:fs"
import * as path from "node:path"
import { io as ioClient, type Socket as ClientSocket } from "socket.io-client"
import { Scheduler } from "../../src/scheduler/Scheduler.ts"
import type { TestAgent } from "./agent.ts"
import type { RunningEngine } from "./engine.ts"
import type { Client } from "./http.ts"

/** Write `Assemblies/<relative>` under the Engine root (JSON documents are serialised). */
export const writeAssembly = (root: string, relative: string, content: unknown): string => {
  const file = path.join(root, "Assemblies", relative)
  fs.mkdirSync(path.dirname(file), { recursive: true })
  fs.writeFileSync(file, typeof content === "string" ? content : JSON.stringify(content, null, 2))
  return relative
}

/** A PowerShell document in the Scripts island. */
export const writeScript = (root: string, relative: string, script: string, extra: Record<string, unknown> = {}): string =>
  writeAssembly(root, path.posix.join("Scripts", relative), { name: path.posix.basename(relative, ".json"), type: "powershell", script, ...extra })

/** Open a socket.io-client socket and wait for connect; closed with the scope. */
export const openSocket = (engine: RunningEngine, headers: Record<string, string>) =>
  Effect.acquireRelease(
    Effect.promise(() =>
      new Promise<ClientSocket>((resolve, reject) => {
        const socket = ioClient(engine.url, { transports: ["websocket"], ca: engine.ca, extraHeaders: headers, reconnection: false, timeout: 10_000 } as never)
        socket.once("connect", () => resolve(socket))
        socket.once("connect_error", (error: Error) => {
          socket.close()
          reject(error)
        })
      })
    ),
    (socket) => Effect.sync(() => socket.close())
  )

export const agentHeaders = (agent: TestAgent, mode: "SYSTEM" | "CURRENTUSER" = "SYSTEM") => ({
  authorization: `Bearer ${agent.accessToken}`,
  "x-borealis-agent-context": mode
})
export const operatorHeaders = (admin: Client) => ({ cookie: admin.cookieHeader() ?? "" })
export const agentIdOf = (agent: TestAgent, mode = "SYSTEM") => `${agent.hostname.toUpperCase()}_${agent.guid}_${mode}`

/** A connected token-era agent socket that announced itself with `connect_agent`. */
export const connectedAgent = (engine: RunningEngine, agent: TestAgent, mode: "SYSTEM" | "CURRENTUSER" = "SYSTEM") =>
  Effect.gen(function*() {
    const socket = yield* openSocket(engine, agentHeaders(agent, mode))
    const ack = yield* Effect.promise(() =>
      socket.timeout(10_000).emitWithAck("connect_agent", { agent_id: agentIdOf(agent, mode), hostname: agent.hostname, service_mode: mode }) as Promise<unknown>
    )
    if (JSON.stringify(ack) !== JSON.stringify({ status: "ok" })) throw new Error(`connect_agent refused: ${JSON.stringify(ack)}`)
    return socket
  })

/** Every event a socket receives, in order. */
export const recorder = (socket: ClientSocket) => {
  const events: Array<{ event: string; payload: any }> = []
  socket.onAny((event: string, payload: unknown) => events.push({ event, payload }))
  return events
}

/** Poll `check` until it returns a value (generous deadline: several suites share two cores). */
export const waitFor = <A>(check: () => A | undefined | Promise<A | undefined>, ms = 20_000) =>
  Effect.promise(async () => {
    const end = Date.now() + ms
    for (;;) {
      const value = await check()
      if (value !== undefined) return value
      if (Date.now() > end) throw new Error("condition not met in time")
      await new Promise((r) => setTimeout(r, 25))
    }
  })

/** Run one scheduler tick in the running Engine now (what the minute loop does at each boundary). */
export const tickNow = (engine: RunningEngine) =>
  // On the live clock, as the Engine runs (the test's own fiber has a TestClock).
  TestServices.provideLive(Effect.flatMap(Effect.sync(() => Context.get(engine.context, Scheduler)), (scheduler) => scheduler.tick()))

/** The ISO start the UI sends for "now": seconds zeroed, UTC. */
export const isoMinute = (epochMs: number = Date.now()): string => new Date(Math.floor(epochMs / 60_000) * 60_000).toISOString()
