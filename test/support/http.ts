// A small HTTP(S) client for tests: trusts a given CA (no "insecure" flag), keeps cookies.
import * as http from "node:http"
import * as https from "node:https"

export interface Reply {
  readonly status: number
  readonly headers: http.IncomingHttpHeaders
  readonly text: string
  /** Parsed JSON body, or undefined when the body is not JSON. */
  readonly json: any
}

export interface RequestOptions {
  readonly method?: string
  /** Serialised as JSON with `Content-Type: application/json`. */
  readonly json?: unknown
  /** Sent verbatim (no Content-Type unless given in headers). */
  readonly body?: string | Buffer
  readonly headers?: Record<string, string>
}

export class Client {
  readonly cookies = new Map<string, string>()
  readonly baseUrl: string
  readonly ca: string | undefined
  constructor(baseUrl: string, ca?: string) {
    this.baseUrl = baseUrl
    this.ca = ca
  }

  cookieHeader(): string | undefined {
    if (this.cookies.size === 0) return undefined
    return Array.from(this.cookies, ([k, v]) => `${k}=${v}`).join("; ")
  }

  request(path: string, options: RequestOptions = {}): Promise<Reply> {
    const url = new URL(path, this.baseUrl)
    const body = options.json !== undefined ? JSON.stringify(options.json) : options.body
    const headers: Record<string, string> = { ...options.headers }
    if (options.json !== undefined && headers["content-type"] === undefined) headers["content-type"] = "application/json"
    const cookie = this.cookieHeader()
    if (cookie !== undefined && headers["cookie"] === undefined) headers["cookie"] = cookie
    if (body !== undefined) headers["content-length"] = String(Buffer.byteLength(body))
    const transport = url.protocol === "https:" ? https : http
    return new Promise<Reply>((resolve, reject) => {
      const req = transport.request(
        url,
        { method: options.method ?? (body === undefined ? "GET" : "POST"), headers, ...(this.ca ? { ca: this.ca } : {}), agent: false },
        (res) => {
          const chunks: Array<Buffer> = []
          res.on("data", (c: Buffer) => chunks.push(c))
          res.on("end", () => {
            for (const set of res.headers["set-cookie"] ?? []) {
              const [pair] = set.split(";")
              const eq = pair!.indexOf("=")
              const name = pair!.slice(0, eq).trim()
              const value = pair!.slice(eq + 1).trim()
              if (/max-age=0|expires=thu, 01 jan 1970/i.test(set) || value === "") this.cookies.delete(name)
              else this.cookies.set(name, value)
            }
            const text = Buffer.concat(chunks).toString("utf8")
            let json: unknown
            try {
              json = text === "" ? undefined : JSON.parse(text)
            } catch {
              json = undefined
            }
            resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json })
          })
          res.on("error", reject)
        }
      )
      req.on("error", reject)
      if (body !== undefined) req.write(body)
      req.end()
    })
  }

  get(path: string, headers?: Record<string, string>) {
    return this.request(path, { method: "GET", ...(headers ? { headers } : {}) })
  }

  post(path: string, json?: unknown, headers?: Record<string, string>) {
    return this.request(path, { method: "POST", json: json ?? {}, ...(headers ? { headers } : {}) })
  }
}
