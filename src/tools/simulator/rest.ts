// JSON over HTTP(S) for simulated agents and the operator: one keep-alive pool per process (bounded
// sockets, so thousands of agents never hold thousands of REST connections), the CA parsed once.
// Plain promises rather than Effect: this sits on the simulator's hot path (see rawSocket.ts).
import * as http from "node:http"
import * as https from "node:https"

export interface RestConfig {
  /** `http(s)://host:port` */
  readonly baseUrl: string
  readonly ca?: string
  readonly rejectUnauthorized?: boolean
  /** Concurrent REST connections per process (requests beyond wait in the pool's queue). */
  readonly maxSockets?: number
  readonly timeoutMs?: number
  readonly localAddress?: string
}

export interface RestReply {
  readonly status: number
  readonly headers: http.IncomingHttpHeaders
  readonly text: string
  /** Parsed JSON body, or undefined. */
  readonly json: unknown
}

/** Network-level failure (no HTTP answer): `code` is the errno or "timeout". */
export class RestNetworkError extends Error {
  override readonly name = "RestNetworkError"
  readonly code: string
  constructor(code: string, message: string) {
    super(message)
    this.code = code
  }
}

const MAX_BODY = 8 * 1024 * 1024

export class RestClient {
  readonly baseUrl: URL
  private readonly agent: http.Agent
  private readonly transport: typeof http | typeof https
  private readonly timeoutMs: number

  constructor(config: RestConfig) {
    this.baseUrl = new URL(config.baseUrl)
    const secure = this.baseUrl.protocol === "https:"
    const pool = { keepAlive: true, maxSockets: config.maxSockets ?? 32, maxFreeSockets: config.maxSockets ?? 32 }
    this.agent = secure
      ? new https.Agent({
        ...pool,
        ...(config.ca !== undefined ? { ca: config.ca } : {}),
        ...(config.rejectUnauthorized !== undefined ? { rejectUnauthorized: config.rejectUnauthorized } : {}),
        ...(config.localAddress !== undefined ? { localAddress: config.localAddress } : {})
      })
      : new http.Agent({ ...pool, ...(config.localAddress !== undefined ? { localAddress: config.localAddress } : {}) })
    this.transport = secure ? https : http
    this.timeoutMs = config.timeoutMs ?? 30_000
  }

  request(method: string, path: string, body?: unknown, headers: Readonly<Record<string, string>> = {}): Promise<RestReply> {
    const payload = body === undefined ? undefined : JSON.stringify(body)
    const all: Record<string, string> = { accept: "application/json", ...headers }
    if (payload !== undefined) {
      all["content-type"] = "application/json"
      all["content-length"] = String(Buffer.byteLength(payload))
    }
    return new Promise<RestReply>((resolve, reject) => {
      const req = this.transport.request(new URL(path, this.baseUrl), { method, headers: all, agent: this.agent }, (res) => {
        const chunks: Array<Buffer> = []
        let size = 0
        res.on("data", (chunk: Buffer) => {
          size += chunk.length
          if (size <= MAX_BODY) chunks.push(chunk)
        })
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8")
          let json: unknown
          try {
            json = text === "" ? undefined : JSON.parse(text)
          } catch {
            json = undefined
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json })
        })
        res.on("error", (error) => reject(new RestNetworkError((error as NodeJS.ErrnoException).code ?? "error", error.message)))
      })
      req.setTimeout(this.timeoutMs, () => req.destroy(new RestNetworkError("timeout", `no answer in ${this.timeoutMs} ms`)))
      req.on("error", (error) => {
        reject(error instanceof RestNetworkError ? error : new RestNetworkError((error as NodeJS.ErrnoException).code ?? "error", error.message))
      })
      if (payload !== undefined) req.write(payload)
      req.end()
    })
  }

  post(path: string, body: unknown, headers?: Readonly<Record<string, string>>): Promise<RestReply> {
    return this.request("POST", path, body, headers)
  }

  get(path: string, headers?: Readonly<Record<string, string>>): Promise<RestReply> {
    return this.request("GET", path, undefined, headers)
  }

  close(): void {
    this.agent.destroy()
  }
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** A field of a JSON object body, if the body is an object. */
export const field = (json: unknown, key: string): unknown => (isRecord(json) ? json[key] : undefined)

/** `error` of an `{"error": …}` body, else undefined. */
export const errorCode = (json: unknown): string | undefined => {
  const e = field(json, "error")
  return typeof e === "string" ? e : undefined
}

/** Error kind for counting: `http_<status>[:<error code>]`, or the network code. */
export const failureKind = (outcome: RestReply | unknown): string => {
  if (outcome instanceof RestNetworkError) return outcome.code
  if (isRecord(outcome) && typeof outcome["status"] === "number") {
    const code = errorCode(outcome["json"])
    return `http_${outcome["status"]}${code === undefined ? "" : `:${code.slice(0, 40)}`}`
  }
  return outcome instanceof Error ? outcome.name : "error"
}

/** `Retry-After` in ms (at least 1 s), when present. */
export const retryAfterMs = (reply: RestReply): number | undefined => {
  const raw = reply.headers["retry-after"]
  const n = typeof raw === "string" ? Number(raw) : NaN
  return Number.isFinite(n) ? Math.max(1, n) * 1000 : undefined
}
