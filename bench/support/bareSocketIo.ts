// A bare socket.io 4 server with the Engine's listener settings and nothing else (no auth, registry or
// handlers beyond acking `agent_heartbeat`): the library's own cost per connection, measured with the
// same simulator, so the Engine's figures can be read against it (bench:connections --modes bare-…).
// Started like the Engine: BOREALIS_ROOT, BOREALIS_HOST, BOREALIS_PORT, BOREALIS_TLS_ENABLED; it logs
// `http-listening url=…` to <root>/Logs/Server/engine.log and answers GET /health.
import * as fs from "node:fs"
import * as http from "node:http"
import * as https from "node:https"
import * as os from "node:os"
import * as path from "node:path"
import { Server } from "socket.io"
import { ensureTlsMaterial, serverNames } from "../../src/layers/keys/tls.ts"

const root = process.env["BOREALIS_ROOT"] ?? fs.mkdtempSync(path.join(os.tmpdir(), "bare-socketio-"))
const host = process.env["BOREALIS_HOST"] ?? "127.0.0.1"
const port = Number(process.env["BOREALIS_PORT"] ?? "0")
const tls = (process.env["BOREALIS_TLS_ENABLED"] ?? "true").toLowerCase() !== "false"
const logFile = path.join(root, "Logs", "Server", "engine.log")
fs.mkdirSync(path.dirname(logFile), { recursive: true })
const log = (line: string) => fs.appendFileSync(logFile, `${new Date().toISOString()}-bare-${line}\n`)

const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
  if (req.url === "/health") {
    res.writeHead(200, { "content-type": "application/json" })
    res.end('{"status":"ok"}')
  } else if (!(req.url ?? "").startsWith("/socket.io")) {
    res.writeHead(404)
    res.end()
  }
}

const main = async () => {
  let server: http.Server
  if (tls) {
    // Same CA and leaf (EC P-384) as the Engine would generate on this root.
    const material = await ensureTlsMaterial({
      dir: path.join(root, "Certificates", "Server"),
      legacyDir: path.join(root, "Engine", "certs"),
      names: serverNames(os.hostname(), [])
    })
    server = https.createServer({ key: material.keyPem, cert: material.bundlePem, minVersion: "TLSv1.2" }, onRequest)
  } else {
    server = http.createServer(onRequest)
  }
  const io = new Server(server, { path: "/socket.io", serveClient: false, maxHttpBufferSize: 25 * 1024 * 1024, cors: { origin: true, credentials: true } })
  io.on("connection", (socket) => {
    socket.on("agent_heartbeat", (_payload: unknown, ack?: (answer: unknown) => void) => {
      if (typeof ack === "function") ack({ status: "ok" })
    })
  })
  server.listen({ host, port }, () => {
    const address = server.address()
    const actual = typeof address === "object" && address !== null ? address.port : port
    log(`http-listening url=${tls ? "https" : "http"}://${host}:${actual} tls=${tls}`)
  })
  const stop = () => {
    io.disconnectSockets(true)
    void io.close(() => process.exit(0))
    setTimeout(() => process.exit(0), 3_000).unref()
  }
  process.once("SIGTERM", stop)
  process.once("SIGINT", stop)
}

main().catch((error: unknown) => {
  process.stderr.write(`bare socket.io server: ${error instanceof Error ? error.message : String(error)}\n`)
  process.exit(1)
})
