// Pure parsing of the Engine's environment variables, with the original's exact rules.
// spec: config-bootstrap-tests.md §1.2–§1.4, §7
import * as Schema from "effect/Schema"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as path from "node:path"
import proxyAddr from "proxy-addr"

/** What the parser may ask of the file system (injected so the rules stay testable). */
export interface PathProbe {
  readonly cwd: string
  readonly home: string
  readonly isDirectory: (p: string) => boolean
  readonly isFile: (p: string) => boolean
  /** Resolve symlinks of the longest existing prefix (Python's non-strict `Path.resolve`). */
  readonly realpath: (p: string) => string
}

export interface ConfigWarning {
  readonly variable: string
  readonly value: string
  readonly message: string
}

export class ConfigInvalid extends Schema.TaggedError<ConfigInvalid>()("ConfigInvalid", {
  variable: Schema.String,
  value: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `${this.variable}=${JSON.stringify(this.value)} cannot be used: ${this.reason}`
  }
}

export const LogFormat = Schema.Literal("text", "json")
export type LogFormat = typeof LogFormat.Type

export const TlsMinVersion = Schema.Literal("TLSv1.2", "TLSv1.3")

/** The decoded, typed configuration every layer reads. */
export const EngineSettings = Schema.Struct({
  projectRoot: Schema.String,
  runtimeRoot: Schema.String,
  certificatesRoot: Schema.String,
  serverCertRoot: Schema.String,
  agentCertRoot: Schema.String,
  logsRoot: Schema.String,
  assembliesRoot: Schema.String,
  databasePath: Schema.String,
  applyMigrations: Schema.Boolean,
  staticRoot: Schema.String,
  corsAllowedOrigins: Schema.Array(Schema.String).pipe(Schema.minItems(1)),
  /** BOREALIS_FLASK_SECRET_KEY when set (strong); otherwise the key folder holds a generated one. */
  secretKey: Schema.OptionFromUndefinedOr(Schema.Redacted(Schema.String)),
  /** Addresses whose `X-Forwarded-For` is believed (proxy-addr syntax: IPs, CIDRs, `loopback`, …). */
  trustedProxies: Schema.Array(Schema.String),
  http: Schema.Struct({
    headersTimeoutMs: Schema.Int.pipe(Schema.nonNegative()),
    requestTimeoutMs: Schema.Int.pipe(Schema.nonNegative()),
    keepAliveTimeoutMs: Schema.Int.pipe(Schema.nonNegative()),
    idleTimeoutMs: Schema.Int.pipe(Schema.nonNegative()),
    tlsHandshakeTimeoutMs: Schema.Int.pipe(Schema.nonNegative()),
    /** Connections per client address that have not authenticated yet (0 = no cap). */
    maxUnauthenticatedPerAddress: Schema.Int.pipe(Schema.nonNegative()),
    /** Body limit of the routes that take no credentials (enrollment, refresh, login, recap). */
    maxUnauthenticatedBodyBytes: Schema.Int.pipe(Schema.positive())
  }),
  /** Days of audit events kept (0 = keep forever). */
  auditRetentionDays: Schema.Int.pipe(Schema.nonNegative()),
  debug: Schema.Boolean,
  host: Schema.String,
  port: Schema.Int.pipe(Schema.between(0, 65535)),
  logFormat: LogFormat,
  logToStderr: Schema.Boolean,
  tls: Schema.Struct({
    enabled: Schema.Boolean,
    extraNames: Schema.Array(Schema.String),
    minVersion: TlsMinVersion,
    certFile: Schema.OptionFromUndefinedOr(Schema.String),
    keyFile: Schema.OptionFromUndefinedOr(Schema.String),
    bundleFile: Schema.OptionFromUndefinedOr(Schema.String)
  }),
  publicBaseUrl: Schema.OptionFromUndefinedOr(Schema.String),
  mfaIssuer: Schema.String,
  jobHistoryDays: Schema.Int.pipe(Schema.positive()),
  socket: Schema.Struct({
    allowAnonymous: Schema.Boolean,
    maxBufferBytes: Schema.Int.pipe(Schema.positive()),
    presenceGraceSeconds: Schema.Int.pipe(Schema.nonNegative())
  }),
  maxBodyBytes: Schema.Int.pipe(Schema.positive()),
  shutdownDrainSeconds: Schema.Number.pipe(Schema.nonNegative()),
  metricsListen: Schema.OptionFromUndefinedOr(Schema.Struct({ host: Schema.String, port: Schema.Int.pipe(Schema.between(0, 65535)) })),
  otlpEndpoint: Schema.OptionFromUndefinedOr(Schema.String),
  otlpServiceName: Schema.String,
  screenshots: Schema.Struct({
    maxEntries: Schema.Int.pipe(Schema.positive()),
    maxBytes: Schema.Int.pipe(Schema.positive())
  }),
  legacyBridge: Schema.Boolean,
  github: Schema.Struct({
    repo: Schema.String,
    branch: Schema.String,
    refreshIntervalSeconds: Schema.Int.pipe(Schema.between(30, 3600)),
    cacheRoot: Schema.String
  })
})
export type EngineSettings = typeof EngineSettings.Type

export interface ParsedEnvironment {
  readonly settings: EngineSettings
  readonly warnings: ReadonlyArray<ConfigWarning>
}

/** The original's default secret: known to everyone, so refused when set explicitly (outside debug). */
export const DEFAULT_SECRET_KEY = "change-me"
/** Shorter secrets are refused (outside debug): 32 bytes is what HMAC-SHA256 can use in full. */
export const MIN_SECRET_BYTES = 32
const KNOWN_WEAK_SECRETS = new Set([DEFAULT_SECRET_KEY, "changeme", "change_me", "secret", "password", "borealis"])

/** Why an explicitly set operator-token secret is too weak to use, if it is. */
export const secretWeakness = (value: string): string | undefined => {
  if (KNOWN_WEAK_SECRETS.has(value.trim().toLowerCase())) return "a published default that lets anyone forge operator tokens"
  const bytes = Buffer.byteLength(value, "utf8")
  if (bytes < MIN_SECRET_BYTES) return `${bytes} bytes; at least ${MIN_SECRET_BYTES} random bytes are needed (openssl rand -hex 32)`
  return undefined
}

/** `BOREALIS_TRUSTED_PROXIES`: comma-separated proxy-addr entries; `none` trusts no proxy. */
export const parseTrustedProxies = (raw: string | undefined): ReadonlyArray<string> | { readonly invalid: string } => {
  if (raw === undefined || raw.trim() === "") return ["loopback"]
  const parts = raw.split(",").map((p) => p.trim()).filter((p) => p !== "")
  if (parts.length === 1 && parts[0]!.toLowerCase() === "none") return []
  for (const part of parts) {
    try {
      proxyAddr.compile(part)
    } catch {
      return { invalid: part }
    }
  }
  return parts
}
export const DEFAULT_PORT = 5000
const TRUE_VALUES = new Set(["1", "true", "yes", "on"])
const FALSE_VALUES = new Set(["0", "false", "no", "off", ""])

/**
 * Static-root candidates relative to the project root, in order. The union of the later generations'
 * lists (ENV-11, ENV-P3 and the variant the newest tests assert), so every §6.1 case resolves.
 */
export const STATIC_ROOT_CANDIDATES: ReadonlyArray<string> = [
  "Engine/web-interface/build",
  "Engine/web-interface/dist",
  "Engine/web-interface",
  "Data/Engine/web-interface/build",
  "Data/Engine/web-interface",
  "Data/Engine/WebUI/build",
  "Data/Engine/WebUI",
  "Server/web-interface/build",
  "Server/web-interface",
  "Server/WebUI/build",
  "Server/WebUI",
  "Data/Server/web-interface/build",
  "Data/Server/web-interface",
  "Data/Server/WebUI/build",
  "Data/Server/WebUI",
  "Data/WebUI/build",
  "Data/WebUI"
]

/** Python's `Path(value).expanduser().resolve()`. */
export const resolvePath = (value: string, probe: PathProbe): string => {
  const expanded = value === "~" ? probe.home : value.startsWith("~/") ? path.join(probe.home, value.slice(2)) : value
  return probe.realpath(path.resolve(probe.cwd, expanded))
}

/** Python `int(value)`: surrounding whitespace, a sign and digit-group underscores are accepted. */
export const parsePythonInt = (raw: string): number | undefined => {
  const trimmed = raw.trim()
  if (!/^[+-]?\d+(?:_\d+)*$/.test(trimmed)) return undefined
  const n = Number(trimmed.replaceAll("_", ""))
  return Number.isSafeInteger(n) ? n : undefined
}

/** The original's boolean rule: lowercased, not trimmed, true only for 1/true/yes/on. */
export const parseFlag = (raw: string): boolean => TRUE_VALUES.has(raw.toLowerCase())

/** CORS origin list shared by HTTP and Socket.IO. */
export const parseCorsOrigins = (raw: string | undefined): ReadonlyArray<string> => {
  if (raw === undefined || raw === "") return ["*"]
  const parts = raw.split(",").map((p) => p.trim()).filter((p) => p.length > 0)
  return parts.length > 0 ? parts : ["*"]
}

/** ENV-NORM: an override naming `<repo>/Data` or `<repo>/Data/Engine` means the repository root. */
export const normaliseProjectRoot = (resolved: string): string => {
  const base = path.basename(resolved).toLowerCase()
  const parent = path.dirname(resolved)
  if (base === "data") return parent
  if (base === "engine" && path.basename(parent).toLowerCase() === "data") return path.dirname(parent)
  return resolved
}

const looksCompiled = (dir: string, probe: PathProbe): boolean => {
  if (!probe.isFile(path.join(dir, "index.html"))) return false
  return (
    probe.isDirectory(path.join(dir, "assets")) ||
    probe.isFile(path.join(dir, "manifest.json")) ||
    probe.isFile(path.join(dir, ".vite", "manifest.json")) ||
    (!probe.isDirectory(path.join(dir, "src")) && !probe.isFile(path.join(dir, "package.json")))
  )
}

/** First compiled candidate, else the first existing one, else the first candidate (the app still starts). */
export const discoverStaticRoot = (projectRoot: string, probe: PathProbe): string => {
  const candidates = STATIC_ROOT_CANDIDATES.map((c) => path.join(projectRoot, c))
  const existing = candidates.filter((c) => probe.isDirectory(c))
  const compiled = existing.find((c) => looksCompiled(c, probe))
  return probe.realpath(compiled ?? existing[0] ?? candidates[0]!)
}

const isIp = (value: string): boolean =>
  /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/.test(value) ||
  (value.includes(":") && /^[0-9a-fA-F:.]+$/.test(value))

const isDnsName = (value: string): boolean =>
  value.length <= 253 &&
  value.split(".").every((label) => /^(\*|[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)$/.test(label))

/** How the parts below read the environment: a variable counts as set only when non-empty. */
interface EnvReader {
  readonly env: Readonly<Record<string, string | undefined>>
  readonly probe: PathProbe
  readonly warnings: ReadonlyArray<ConfigWarning>
  /** A fallback the original applies silently, reported. */
  readonly warn: (variable: string, value: string, message: string) => void
  readonly nonEmpty: (name: string) => string | undefined
  readonly firstNonEmpty: (...names: ReadonlyArray<string>) => string | undefined
  /** The original's boolean; anything but a recognised false value is warned about. */
  readonly flag: (name: string, fallback: string) => boolean
  readonly positiveInt: (name: string, fallback: number) => Either.Either<number, ConfigInvalid>
  readonly nonNegativeInt: (name: string, fallback: number) => Either.Either<number, ConfigInvalid>
  /** Seconds (fractions allowed, 0-86400) as milliseconds. */
  readonly secondsAsMs: (name: string, fallback: number) => Either.Either<number, ConfigInvalid>
  /** A path variable expanded and resolved, or `fallback` when unset. */
  readonly pathOr: (name: string, fallback: () => string) => string
}

const envReader = (env: Readonly<Record<string, string | undefined>>, probe: PathProbe): EnvReader => {
  const warnings: Array<ConfigWarning> = []
  const warn = (variable: string, value: string, message: string) => void warnings.push({ variable, value, message })
  const nonEmpty = (name: string): string | undefined => {
    const v = env[name]
    return v === undefined || v === "" ? undefined : v
  }
  return {
    env,
    probe,
    warnings,
    warn,
    nonEmpty,
    firstNonEmpty: (...names) => {
      for (const name of names) {
        const v = nonEmpty(name)
        if (v !== undefined) return v
      }
      return undefined
    },
    flag: (name, fallback) => {
      const raw = env[name] ?? fallback
      const value = parseFlag(raw)
      if (!value && !FALSE_VALUES.has(raw.toLowerCase())) {
        warn(name, raw, "not one of 1/true/yes/on (case-insensitive, untrimmed); treated as false")
      }
      return value
    },
    positiveInt: (name, fallback) => {
      const raw = nonEmpty(name)
      if (raw === undefined) return Either.right(fallback)
      const n = parsePythonInt(raw)
      return n === undefined || n <= 0
        ? Either.left(new ConfigInvalid({ variable: name, value: raw, reason: "expected a positive integer" }))
        : Either.right(n)
    },
    nonNegativeInt: (name, fallback) => {
      const raw = nonEmpty(name)
      if (raw === undefined) return Either.right(fallback)
      const n = parsePythonInt(raw)
      return n === undefined || n < 0 ? Either.left(new ConfigInvalid({ variable: name, value: raw, reason: "expected a whole number ≥ 0" })) : Either.right(n)
    },
    secondsAsMs: (name, fallback) => {
      const raw = nonEmpty(name)
      if (raw === undefined) return Either.right(fallback * 1000)
      const n = Number(raw.trim())
      if (!Number.isFinite(n) || n < 0 || n > 86_400) {
        return Either.left(new ConfigInvalid({ variable: name, value: raw, reason: "expected a number of seconds (0 turns the timeout off)" }))
      }
      return Either.right(Math.round(n * 1000))
    },
    pathOr: (name, fallback) => {
      const raw = nonEmpty(name)
      return raw !== undefined ? resolvePath(raw, probe) : fallback()
    }
  }
}

const invalid = (variable: string, value: string, reason: string) => Either.left(new ConfigInvalid({ variable, value, reason }))

/** Where everything lives: the project root, the runtime, certificate, log and script folders, the web UI. */
const layoutPart = (read: EnvReader, defaultProjectRoot: string) => {
  const rootOverride = read.nonEmpty("BOREALIS_ROOT")
  const projectRoot = rootOverride !== undefined
    ? normaliseProjectRoot(resolvePath(rootOverride, read.probe))
    : read.probe.realpath(defaultProjectRoot)
  // runtime.py reads its own root variable; defaulting it to the resolved BOREALIS_ROOT keeps one
  // variable enough to relocate everything (the original would still write under the checkout).
  const runtimeProjectRoot = read.pathOr("BOREALIS_PROJECT_ROOT", () => projectRoot)
  const runtimeRootRaw = read.firstNonEmpty("BOREALIS_ENGINE_ROOT", "BOREALIS_SERVER_ROOT")
  const certsRaw = read.firstNonEmpty("BOREALIS_CERTIFICATES_ROOT", "BOREALIS_CERT_ROOT")
  const certificatesRoot = certsRaw !== undefined ? resolvePath(certsRaw, read.probe) : path.join(runtimeProjectRoot, "Certificates")
  return {
    projectRoot,
    runtimeRoot: runtimeRootRaw !== undefined ? resolvePath(runtimeRootRaw, read.probe) : path.join(runtimeProjectRoot, "Engine"),
    certificatesRoot,
    serverCertRoot: read.pathOr("BOREALIS_SERVER_CERT_ROOT", () => path.join(certificatesRoot, "Server")),
    agentCertRoot: read.pathOr("BOREALIS_AGENT_CERT_ROOT", () => path.join(certificatesRoot, "Agent")),
    logsRoot: path.join(projectRoot, "Logs", "Server"),
    assembliesRoot: path.join(projectRoot, "Assemblies"),
    staticRoot: read.pathOr("BOREALIS_STATIC_ROOT", () => discoverStaticRoot(projectRoot, read.probe))
  }
}

/** Operator-token secret, trusted proxies, CORS origins, audit retention, the MFA issuer name. */
const securityPart = (read: EnvReader, debug: boolean) =>
  Either.gen(function*() {
    const secretRaw = read.env["BOREALIS_FLASK_SECRET_KEY"]
    if (secretRaw === "") {
      return yield* invalid(
        "BOREALIS_FLASK_SECRET_KEY",
        "",
        "an empty secret would let anyone forge operator sessions; set a long random value or unset it (a random one is then generated and kept in the key folder)"
      )
    }
    const weakness = secretRaw === undefined ? undefined : secretWeakness(secretRaw)
    if (weakness !== undefined) {
      if (!debug) {
        return yield* invalid(
          "BOREALIS_FLASK_SECRET_KEY",
          "<redacted>",
          `too weak (${weakness}); unset it to have a random secret generated, or set at least ${MIN_SECRET_BYTES} random bytes`
        )
      }
      read.warn("BOREALIS_FLASK_SECRET_KEY", "<redacted>", `too weak (${weakness}); accepted only because BOREALIS_DEBUG is on`)
    }
    const proxies = parseTrustedProxies(read.nonEmpty("BOREALIS_TRUSTED_PROXIES"))
    if ("invalid" in proxies) {
      return yield* invalid(
        "BOREALIS_TRUSTED_PROXIES",
        proxies.invalid,
        "expected IP addresses or CIDR ranges (or loopback, linklocal, uniquelocal, none), comma-separated"
      )
    }
    return {
      secretKey: secretRaw,
      trustedProxies: proxies,
      corsAllowedOrigins: parseCorsOrigins(read.env["BOREALIS_CORS_ALLOWED_ORIGINS"]),
      auditRetentionDays: yield* read.nonNegativeInt("BOREALIS_AUDIT_RETENTION_DAYS", 0),
      mfaIssuer: read.nonEmpty("BOREALIS_MFA_ISSUER") ?? "Borealis"
    }
  })

/** The HTTP listener: address and port, timeouts and body limits, shutdown drain, public URL. */
const listenerPart = (read: EnvReader) =>
  Either.gen(function*() {
    const http = {
      headersTimeoutMs: yield* read.secondsAsMs("BOREALIS_HTTP_HEADERS_TIMEOUT_SECONDS", 20),
      requestTimeoutMs: yield* read.secondsAsMs("BOREALIS_HTTP_REQUEST_TIMEOUT_SECONDS", 60),
      keepAliveTimeoutMs: yield* read.secondsAsMs("BOREALIS_HTTP_KEEPALIVE_TIMEOUT_SECONDS", 5),
      idleTimeoutMs: yield* read.secondsAsMs("BOREALIS_HTTP_IDLE_TIMEOUT_SECONDS", 60),
      tlsHandshakeTimeoutMs: yield* read.secondsAsMs("BOREALIS_TLS_HANDSHAKE_TIMEOUT_SECONDS", 10),
      maxUnauthenticatedPerAddress: yield* read.nonNegativeInt("BOREALIS_MAX_UNAUTHENTICATED_CONNECTIONS_PER_ADDRESS", 256),
      maxUnauthenticatedBodyBytes: yield* read.positiveInt("BOREALIS_MAX_UNAUTHENTICATED_BODY_BYTES", 1024 * 1024)
    }
    const portRaw = read.env["BOREALIS_PORT"]
    let port = DEFAULT_PORT
    if (portRaw !== undefined) {
      const parsed = parsePythonInt(portRaw)
      if (parsed === undefined) read.warn("BOREALIS_PORT", portRaw, `not an integer; falling back to ${DEFAULT_PORT}`)
      else if (parsed < 0 || parsed > 65535) return yield* invalid("BOREALIS_PORT", portRaw, "not a TCP port (0-65535)")
      else port = parsed
    }
    const host = read.env["BOREALIS_HOST"] ?? "127.0.0.1"
    if (host === "") read.warn("BOREALIS_HOST", host, "empty; listening on every interface")
    const maxBodyBytes = yield* read.positiveInt("BOREALIS_MAX_BODY_BYTES", 10 * 1024 * 1024)
    const drainRaw = read.nonEmpty("BOREALIS_SHUTDOWN_DRAIN_SECONDS")
    const drain = drainRaw === undefined ? 0 : Number(drainRaw)
    if (!Number.isFinite(drain) || drain < 0 || drain > 60) return yield* invalid("BOREALIS_SHUTDOWN_DRAIN_SECONDS", drainRaw ?? "", "expected 0-60 seconds")
    return { host, port, http, maxBodyBytes, shutdownDrainSeconds: drain, publicBaseUrl: yield* publicBaseUrlOf(read) }
  })

/** `BOREALIS_PUBLIC_BASE_URL`: an absolute http(s) URL, kept without a trailing slash. */
const publicBaseUrlOf = (read: EnvReader): Either.Either<string | undefined, ConfigInvalid> => {
  const raw = read.nonEmpty("BOREALIS_PUBLIC_BASE_URL")
  if (raw === undefined) return Either.right(undefined)
  let url: URL | undefined
  try {
    url = new URL(raw)
  } catch {
    url = undefined
  }
  if (url === undefined || (url.protocol !== "https:" && url.protocol !== "http:")) {
    return invalid("BOREALIS_PUBLIC_BASE_URL", raw, "expected an absolute http(s) URL")
  }
  return Either.right(url.origin + url.pathname.replace(/\/+$/, ""))
}

/** Job history, the script repository the Engine mirrors, the legacy bridge. */
const jobsPart = (read: EnvReader, projectRoot: string) => {
  let refresh = 60
  const refreshRaw = read.nonEmpty("BOREALIS_REPO_HASH_REFRESH")
  if (refreshRaw !== undefined) {
    const parsed = parsePythonInt(refreshRaw)
    if (parsed === undefined) read.warn("BOREALIS_REPO_HASH_REFRESH", refreshRaw, "not an integer; using 60")
    else {
      refresh = Math.min(3600, Math.max(30, parsed))
      if (refresh !== parsed) read.warn("BOREALIS_REPO_HASH_REFRESH", refreshRaw, `clamped to ${refresh}`)
    }
  }
  let jobHistoryDays = 30
  const historyRaw = read.nonEmpty("BOREALIS_JOB_HISTORY_DAYS")
  if (historyRaw !== undefined) {
    const parsed = parsePythonInt(historyRaw)
    if (parsed === undefined || parsed < 1) read.warn("BOREALIS_JOB_HISTORY_DAYS", historyRaw, "not a positive integer; using 30")
    else jobHistoryDays = parsed
  }
  return {
    jobHistoryDays,
    legacyBridge: TRUE_VALUES.has((read.env["BOREALIS_ENGINE_ENABLE_LEGACY_BRIDGE"] ?? "1").trim().toLowerCase()),
    github: {
      repo: read.env["BOREALIS_REPO"] ?? "bunny-lab-io/Borealis",
      branch: read.env["BOREALIS_REPO_BRANCH"] ?? "main",
      refreshIntervalSeconds: refresh,
      cacheRoot: read.pathOr("BOREALIS_CACHE_DIR", () => path.join(projectRoot, "Data", "Engine", "cache"))
    }
  }
}

/** The database file, and whether migrations run at start. */
const storagePart = (read: EnvReader, projectRoot: string) => ({
  databasePath: read.pathOr("BOREALIS_DATABASE_PATH", () => path.join(projectRoot, "database.db")),
  applyMigrations: read.flag("BOREALIS_ENGINE_AUTO_MIGRATE", "true")
})

/** Log lines (format, stderr mirror), metrics listener, OpenTelemetry export. */
const observabilityPart = (read: EnvReader) =>
  Either.gen(function*() {
    const logFormatRaw = read.nonEmpty("BOREALIS_LOG_FORMAT") ?? "text"
    const logFormat = logFormatRaw.trim().toLowerCase()
    if (logFormat !== "text" && logFormat !== "json") return yield* invalid("BOREALIS_LOG_FORMAT", logFormatRaw, "expected text or json")
    const logToStderr = read.flag("BOREALIS_LOG_STDERR", "true")
    const metricsRaw = read.nonEmpty("BOREALIS_METRICS_LISTEN")
    let metricsListen: { host: string; port: number } | undefined
    if (metricsRaw !== undefined) {
      const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:]+)):(\d{1,5})$/.exec(metricsRaw.trim())
      const host = m?.[1] ?? m?.[2]
      const port = m === null ? NaN : Number(m[3])
      if (host === undefined || !(port <= 65535)) {
        return yield* invalid("BOREALIS_METRICS_LISTEN", metricsRaw, "expected host:port, e.g. 127.0.0.1:9464")
      }
      metricsListen = { host, port }
    }
    const otlpRaw = read.nonEmpty("OTEL_EXPORTER_OTLP_ENDPOINT")
    if (otlpRaw !== undefined) {
      let ok = false
      try {
        ok = ["http:", "https:"].includes(new URL(otlpRaw).protocol)
      } catch {
        ok = false
      }
      if (!ok) return yield* invalid("OTEL_EXPORTER_OTLP_ENDPOINT", otlpRaw, "expected an http(s) URL")
    }
    return { logFormat, logToStderr, metricsListen, otlpEndpoint: otlpRaw, otlpServiceName: read.nonEmpty("OTEL_SERVICE_NAME") ?? "borealis-engine" }
  })

/** TLS: on or off, extra certificate names, minimum version, an operator's own certificate. */
const tlsPart = (read: EnvReader) =>
  Either.gen(function*() {
    const enabled = read.flag("BOREALIS_TLS_ENABLED", "true")
    const extraNames: Array<string> = []
    for (const name of (read.nonEmpty("BOREALIS_TLS_SANS") ?? "").split(",").map((s) => s.trim()).filter((s) => s !== "")) {
      if (!isIp(name) && !isDnsName(name)) return yield* invalid("BOREALIS_TLS_SANS", name, "not a DNS name or IP address")
      extraNames.push(name)
    }
    const minRaw = read.nonEmpty("BOREALIS_TLS_MIN_VERSION") ?? "TLSv1.2"
    const minVersion = minRaw === "1.2" ? "TLSv1.2" : minRaw === "1.3" ? "TLSv1.3" : minRaw
    if (minVersion !== "TLSv1.2" && minVersion !== "TLSv1.3") return yield* invalid("BOREALIS_TLS_MIN_VERSION", minRaw, "expected TLSv1.2 or TLSv1.3")
    const certRaw = read.nonEmpty("BOREALIS_TLS_CERT")
    const keyRaw = read.nonEmpty("BOREALIS_TLS_KEY")
    if (certRaw === undefined && keyRaw !== undefined) return yield* invalid("BOREALIS_TLS_KEY", keyRaw, "BOREALIS_TLS_CERT and BOREALIS_TLS_KEY must be set together")
    if (certRaw !== undefined && keyRaw === undefined) return yield* invalid("BOREALIS_TLS_CERT", certRaw, "BOREALIS_TLS_CERT and BOREALIS_TLS_KEY must be set together")
    const certFile = certRaw === undefined ? undefined : resolvePath(certRaw, read.probe)
    const keyFile = keyRaw === undefined ? undefined : resolvePath(keyRaw, read.probe)
    for (const [variable, file] of [["BOREALIS_TLS_CERT", certFile], ["BOREALIS_TLS_KEY", keyFile]] as const) {
      if (file !== undefined && !read.probe.isFile(file)) return yield* invalid(variable, file, "file does not exist")
    }
    const bundleRaw = read.nonEmpty("BOREALIS_TLS_BUNDLE")
    return {
      enabled,
      extraNames,
      minVersion,
      certFile,
      keyFile,
      bundleFile: bundleRaw !== undefined ? resolvePath(bundleRaw, read.probe) : undefined
    }
  })

/** Sockets (anonymous agents, buffer size, presence grace) and the screenshot cache. */
const realtimePart = (read: EnvReader) =>
  Either.gen(function*() {
    const allowAnonymous = read.flag("BOREALIS_SOCKET_ALLOW_ANONYMOUS", "false")
    const maxBufferBytes = yield* read.positiveInt("BOREALIS_SOCKET_MAX_BUFFER_BYTES", 25 * 1024 * 1024)
    const graceRaw = read.nonEmpty("BOREALIS_PRESENCE_GRACE_SECONDS")
    const grace = graceRaw === undefined ? 30 : parsePythonInt(graceRaw)
    if (grace === undefined || grace < 0) return yield* invalid("BOREALIS_PRESENCE_GRACE_SECONDS", graceRaw ?? "", "expected a whole number of seconds")
    return {
      socket: { allowAnonymous, maxBufferBytes, presenceGraceSeconds: grace },
      screenshots: {
        maxEntries: yield* read.positiveInt("BOREALIS_SCREENSHOT_CACHE_ENTRIES", 1024),
        maxBytes: yield* read.positiveInt("BOREALIS_SCREENSHOT_CACHE_BYTES", 256 * 1024 * 1024)
      }
    }
  })

const decodeSettings = Schema.decodeUnknownEither(EngineSettings)

/**
 * Parse the environment, one concern at a time. Fallbacks the original applies silently are applied
 * the same way and reported as warnings; values that cannot be used at all fail with `ConfigInvalid`
 * naming the variable and the value.
 */
export const parseEnvironment = (
  env: Readonly<Record<string, string | undefined>>,
  options: { readonly defaultProjectRoot: string; readonly probe: PathProbe }
): Either.Either<ParsedEnvironment, ConfigInvalid> =>
  Either.gen(function*() {
    const read = envReader(env, options.probe)
    const layout = layoutPart(read, options.defaultProjectRoot)
    const debug = read.flag("BOREALIS_DEBUG", "false")
    const security = yield* securityPart(read, debug)
    const listener = yield* listenerPart(read)
    const jobs = jobsPart(read, layout.projectRoot)
    const storage = storagePart(read, layout.projectRoot)
    const observability = yield* observabilityPart(read)
    const tls = yield* tlsPart(read)
    const realtime = yield* realtimePart(read)
    const settings = yield* Either.mapLeft(
      decodeSettings({ ...layout, ...storage, ...security, debug, ...listener, ...observability, tls, ...jobs, ...realtime }),
      (error) => new ConfigInvalid({ variable: "(configuration)", value: "", reason: ParseResult.TreeFormatter.formatErrorSync(error) })
    )
    return { settings, warnings: read.warnings }
  })
