import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { nodePathProbe, repositoryRoot } from "../../src/layers/Config.ts"
import {
  discoverStaticRoot,
  normaliseProjectRoot,
  parseCorsOrigins,
  parseEnvironment,
  parseFlag,
  parsePythonInt
} from "../../src/layers/configParse.ts"

const tmp = () => fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "cfg-")))
const touch = (file: string) => {
  fs.mkdirSync(path.dirname(file), { recursive: true })
  fs.writeFileSync(file, "<html></html>")
}
const parse = (env: Record<string, string | undefined>, cwd = process.cwd()) =>
  parseEnvironment(env, { defaultProjectRoot: repositoryRoot, probe: nodePathProbe(cwd) })
const ok = (env: Record<string, string | undefined>, cwd?: string) => {
  const result = parse(env, cwd)
  if (Either.isLeft(result)) throw new Error(result.left.message)
  return result.right
}
const fails = (env: Record<string, string | undefined>) => {
  const result = parse(env)
  if (Either.isRight(result)) throw new Error("expected a start-up error")
  return result.left
}

describe("boolean rule (BOREALIS_ENGINE_AUTO_MIGRATE, BOREALIS_DEBUG)", () => {
  it.each([
    ["1", true], ["true", true], ["TRUE", true], ["yes", true], ["On", true],
    [" true", false], ["y", false], ["enabled", false], ["", false], ["0", false], ["false", false]
  ])("%j → %s", (raw, expected) => {
    expect(parseFlag(raw)).toBe(expected)
    expect(ok({ BOREALIS_ENGINE_AUTO_MIGRATE: raw }).settings.applyMigrations).toBe(expected)
    expect(ok({ BOREALIS_DEBUG: raw }).settings.debug).toBe(expected)
  })

  it("defaults: migrations on, debug off", () => {
    const { settings } = ok({})
    expect(settings.applyMigrations).toBe(true)
    expect(settings.debug).toBe(false)
  })

  it("an unrecognised value falls back to false with a warning naming the variable", () => {
    const { settings, warnings } = ok({ BOREALIS_DEBUG: "enabled" })
    expect(settings.debug).toBe(false)
    expect(warnings).toContainEqual(expect.objectContaining({ variable: "BOREALIS_DEBUG", value: "enabled" }))
    expect(ok({ BOREALIS_DEBUG: "off" }).warnings).toEqual([])
  })
})

describe("BOREALIS_PORT", () => {
  it.each([
    [undefined, 5000, false],
    [" 8080 ", 8080, false],
    ["+8080", 8080, false],
    ["8_080", 8080, false],
    ["0", 0, false],
    ["", 5000, true],
    ["80a", 5000, true],
    ["8080.0", 5000, true]
  ])("%j → %d (warning: %s)", (raw, port, warned) => {
    const { settings, warnings } = ok({ BOREALIS_PORT: raw })
    expect(settings.port).toBe(port)
    expect(warnings.some((w) => w.variable === "BOREALIS_PORT")).toBe(warned)
  })

  it.each(["-1", "70000"])("%j cannot be listened on: start-up error naming it", (raw) => {
    const error = fails({ BOREALIS_PORT: raw })
    expect(error.variable).toBe("BOREALIS_PORT")
    expect(error.message).toContain(raw)
  })

  it("parsePythonInt accepts what int() accepts", () => {
    expect(parsePythonInt(" -12 ")).toBe(-12)
    expect(parsePythonInt("1__0")).toBeUndefined()
    expect(parsePythonInt("0x10")).toBeUndefined()
  })
})

describe("BOREALIS_HOST, secret key", () => {
  it("host is verbatim; empty stays empty and warns", () => {
    expect(ok({}).settings.host).toBe("127.0.0.1")
    expect(ok({ BOREALIS_HOST: " 0.0.0.0" }).settings.host).toBe(" 0.0.0.0")
    const empty = ok({ BOREALIS_HOST: "" })
    expect(empty.settings.host).toBe("")
    expect(empty.warnings.map((w) => w.variable)).toContain("BOREALIS_HOST")
  })

  it("secret key: unset means generated in the key folder; a strong value is kept verbatim", () => {
    expect(Option.isNone(ok({}).settings.secretKey)).toBe(true)
    const strong = ` ${"k".repeat(40)} `
    const s = ok({ BOREALIS_FLASK_SECRET_KEY: strong }).settings
    expect(Option.map(s.secretKey, Redacted.value)).toEqual(Option.some(strong))
  })

  it.each(["change-me", "CHANGE-ME", "secret", "s3cret", "x".repeat(31)])(
    "a known-weak or short secret (%j) refuses to start, naming the variable, outside BOREALIS_DEBUG",
    (weak) => {
      const refused = fails({ BOREALIS_FLASK_SECRET_KEY: weak })
      expect(refused.variable).toBe("BOREALIS_FLASK_SECRET_KEY")
      expect(refused.message).not.toContain(weak.length > 8 ? weak : "\u0000")
      const debug = ok({ BOREALIS_FLASK_SECRET_KEY: weak, BOREALIS_DEBUG: "1" })
      expect(Option.map(debug.settings.secretKey, Redacted.value)).toEqual(Option.some(weak))
      expect(debug.warnings.map((w) => w.variable)).toContain("BOREALIS_FLASK_SECRET_KEY")
    }
  )

  it("an empty secret key is refused at start-up", () => {
    expect(fails({ BOREALIS_FLASK_SECRET_KEY: "" }).variable).toBe("BOREALIS_FLASK_SECRET_KEY")
  })
})

describe("BOREALIS_CORS_ALLOWED_ORIGINS", () => {
  it.each([
    [undefined, ["*"]],
    ["", ["*"]],
    [" , ,", ["*"]],
    ["https://a.example, https://b.example ,,https://a.example", ["https://a.example", "https://b.example", "https://a.example"]],
    ["https://a.example,*", ["https://a.example", "*"]]
  ])("%j → %j", (raw, expected) => {
    expect(parseCorsOrigins(raw)).toEqual(expected)
    expect(ok({ BOREALIS_CORS_ALLOWED_ORIGINS: raw }).settings.corsAllowedOrigins).toEqual(expected)
  })
})

describe("project root, database path, runtime and certificate roots", () => {
  it("defaults to the repository checkout", () => {
    const { settings } = ok({})
    expect(settings.projectRoot).toBe(fs.realpathSync(repositoryRoot))
    expect(settings.databasePath).toBe(path.join(settings.projectRoot, "database.db"))
    expect(settings.logsRoot).toBe(path.join(settings.projectRoot, "Logs", "Server"))
    expect(settings.runtimeRoot).toBe(path.join(settings.projectRoot, "Engine"))
    expect(settings.certificatesRoot).toBe(path.join(settings.projectRoot, "Certificates"))
    expect(settings.serverCertRoot).toBe(path.join(settings.projectRoot, "Certificates", "Server"))
    expect(settings.agentCertRoot).toBe(path.join(settings.projectRoot, "Certificates", "Agent"))
  })

  it("BOREALIS_ROOT is expanded, resolved against the cwd, and `Data` / `Data/Engine` collapse to the repo", () => {
    const root = tmp()
    expect(ok({ BOREALIS_ROOT: "rel" }, root).settings.projectRoot).toBe(path.join(root, "rel"))
    expect(ok({ BOREALIS_ROOT: path.join(root, "Data") }).settings.projectRoot).toBe(root)
    expect(ok({ BOREALIS_ROOT: path.join(root, "data", "Engine") }).settings.projectRoot).toBe(root)
    expect(normaliseProjectRoot("/x/Engine")).toBe("/x/Engine")
    expect(ok({ BOREALIS_ROOT: "~/b" }).settings.projectRoot).toBe(fs.realpathSync(os.homedir()) + "/b")
  })

  it("BOREALIS_ROOT follows symlinks", () => {
    const root = tmp()
    fs.mkdirSync(path.join(root, "real"))
    fs.symlinkSync(path.join(root, "real"), path.join(root, "link"))
    expect(ok({ BOREALIS_ROOT: path.join(root, "link") }).settings.projectRoot).toBe(path.join(root, "real"))
  })

  it("an empty path variable behaves as unset", () => {
    const root = tmp()
    const { settings } = ok({ BOREALIS_ROOT: root, BOREALIS_DATABASE_PATH: "", BOREALIS_STATIC_ROOT: "" })
    expect(settings.databasePath).toBe(path.join(root, "database.db"))
  })

  it("BOREALIS_DATABASE_PATH, runtime and certificate roots with their fallbacks", () => {
    const root = tmp()
    const { settings } = ok({
      BOREALIS_ROOT: root,
      BOREALIS_DATABASE_PATH: "db/x.db",
      BOREALIS_SERVER_ROOT: path.join(root, "srv"),
      BOREALIS_CERT_ROOT: path.join(root, "certs")
    }, root)
    expect(settings.databasePath).toBe(path.join(root, "db", "x.db"))
    expect(settings.runtimeRoot).toBe(path.join(root, "srv"))
    expect(settings.serverCertRoot).toBe(path.join(root, "certs", "Server"))
    const first = ok({
      BOREALIS_ROOT: root,
      BOREALIS_ENGINE_ROOT: path.join(root, "eng"),
      BOREALIS_SERVER_ROOT: path.join(root, "srv"),
      BOREALIS_CERTIFICATES_ROOT: path.join(root, "c1"),
      BOREALIS_CERT_ROOT: path.join(root, "c2"),
      BOREALIS_SERVER_CERT_ROOT: path.join(root, "s"),
      BOREALIS_AGENT_CERT_ROOT: path.join(root, "a")
    }).settings
    expect(first.runtimeRoot).toBe(path.join(root, "eng"))
    expect(first.certificatesRoot).toBe(path.join(root, "c1"))
    expect(first.serverCertRoot).toBe(path.join(root, "s"))
    expect(first.agentCertRoot).toBe(path.join(root, "a"))
  })

  it("BOREALIS_PROJECT_ROOT relocates runtime and certificates (runtime.py), defaulting to BOREALIS_ROOT", () => {
    const root = tmp()
    const other = tmp()
    const { settings } = ok({ BOREALIS_ROOT: root, BOREALIS_PROJECT_ROOT: other })
    expect(settings.databasePath).toBe(path.join(root, "database.db"))
    expect(settings.runtimeRoot).toBe(path.join(other, "Engine"))
    expect(settings.certificatesRoot).toBe(path.join(other, "Certificates"))
    expect(ok({ BOREALIS_ROOT: root }).settings.runtimeRoot).toBe(path.join(root, "Engine"))
  })
})

describe("static root (spec §6.1 variants A, B, C)", () => {
  const env = (root: string) => ({ BOREALIS_ROOT: root })

  it("prefers the Engine runtime build over legacy sources", () => {
    const root = tmp()
    touch(path.join(root, "Engine/web-interface/build/index.html"))
    touch(path.join(root, "Data/Server/WebUI/build/index.html"))
    expect(ok(env(root)).settings.staticRoot).toBe(path.join(root, "Engine/web-interface/build"))
  })

  it("BOREALIS_STATIC_ROOT overrides (existence not required)", () => {
    const root = tmp()
    touch(path.join(root, "custom/build/index.html"))
    expect(ok({ ...env(root), BOREALIS_STATIC_ROOT: path.join(root, "custom/build") }).settings.staticRoot).toBe(path.join(root, "custom/build"))
    expect(ok({ ...env(root), BOREALIS_STATIC_ROOT: path.join(root, "missing") }).settings.staticRoot).toBe(path.join(root, "missing"))
  })

  it.each([
    "Data/Server/WebUI",
    "Server/WebUI",
    "Data/Engine/web-interface",
    "Server/web-interface"
  ])("falls back to %s when only it has index.html", (dir) => {
    const root = tmp()
    touch(path.join(root, dir, "index.html"))
    expect(ok(env(root)).settings.staticRoot).toBe(path.join(root, dir))
  })

  it("handles a BOREALIS_ROOT that names the Data directory", () => {
    const root = tmp()
    touch(path.join(root, "Data/Server/WebUI/index.html"))
    expect(ok({ BOREALIS_ROOT: path.join(root, "Data") }).settings.staticRoot).toBe(path.join(root, "Data/Server/WebUI"))
  })

  it("a compiled directory wins over an earlier source tree; with nothing, the first candidate", () => {
    const root = tmp()
    touch(path.join(root, "Engine/web-interface/index.html"))
    touch(path.join(root, "Engine/web-interface/package.json"))
    touch(path.join(root, "Server/WebUI/build/index.html"))
    fs.mkdirSync(path.join(root, "Server/WebUI/build/assets"))
    expect(discoverStaticRoot(root, nodePathProbe())).toBe(path.join(root, "Server/WebUI/build"))
    const empty = tmp()
    expect(discoverStaticRoot(empty, nodePathProbe())).toBe(path.join(empty, "Engine/web-interface/build"))
  })
})

describe("variables added by this rebuild", () => {
  it("BOREALIS_LOG_FORMAT text|json, anything else refused", () => {
    expect(ok({}).settings.logFormat).toBe("text")
    expect(ok({ BOREALIS_LOG_FORMAT: "JSON" }).settings.logFormat).toBe("json")
    expect(fails({ BOREALIS_LOG_FORMAT: "xml" }).variable).toBe("BOREALIS_LOG_FORMAT")
  })

  it("BOREALIS_TLS_SANS are validated names or IPs", () => {
    expect(ok({ BOREALIS_TLS_SANS: "engine.example, 10.0.0.5 ,fd00::1" }).settings.tls.extraNames).toEqual(["engine.example", "10.0.0.5", "fd00::1"])
    expect(fails({ BOREALIS_TLS_SANS: "bad name" }).variable).toBe("BOREALIS_TLS_SANS")
  })

  it("BOREALIS_TLS_ENABLED=false is the plain-HTTP opt-out", () => {
    expect(ok({}).settings.tls.enabled).toBe(true)
    expect(ok({ BOREALIS_TLS_ENABLED: "false" }).settings.tls.enabled).toBe(false)
  })

  it("BOREALIS_TLS_CERT and BOREALIS_TLS_KEY go together and must exist", () => {
    const root = tmp()
    touch(path.join(root, "c.pem"))
    expect(fails({ BOREALIS_TLS_CERT: path.join(root, "c.pem") }).variable).toBe("BOREALIS_TLS_CERT")
    expect(fails({ BOREALIS_TLS_CERT: path.join(root, "c.pem"), BOREALIS_TLS_KEY: path.join(root, "k.pem") }).variable).toBe("BOREALIS_TLS_KEY")
    touch(path.join(root, "k.pem"))
    const tls = ok({ BOREALIS_TLS_CERT: path.join(root, "c.pem"), BOREALIS_TLS_KEY: path.join(root, "k.pem") }).settings.tls
    expect(Option.getOrNull(tls.certFile)).toBe(path.join(root, "c.pem"))
  })

  it("BOREALIS_PUBLIC_BASE_URL must be an http(s) URL; trailing slash dropped", () => {
    expect(Option.getOrNull(ok({ BOREALIS_PUBLIC_BASE_URL: "https://rmm.example/" }).settings.publicBaseUrl)).toBe("https://rmm.example")
    expect(fails({ BOREALIS_PUBLIC_BASE_URL: "rmm.example" }).variable).toBe("BOREALIS_PUBLIC_BASE_URL")
  })

  it("job history days: invalid falls back to 30 with a warning", () => {
    expect(ok({}).settings.jobHistoryDays).toBe(30)
    expect(ok({ BOREALIS_JOB_HISTORY_DAYS: "7" }).settings.jobHistoryDays).toBe(7)
    const bad = ok({ BOREALIS_JOB_HISTORY_DAYS: "week" })
    expect(bad.settings.jobHistoryDays).toBe(30)
    expect(bad.warnings.map((w) => w.variable)).toContain("BOREALIS_JOB_HISTORY_DAYS")
  })

  it("GitHub refresh interval is clamped to [30, 3600]", () => {
    expect(ok({ BOREALIS_REPO_HASH_REFRESH: "5" }).settings.github.refreshIntervalSeconds).toBe(30)
    expect(ok({ BOREALIS_REPO_HASH_REFRESH: "99999" }).settings.github.refreshIntervalSeconds).toBe(3600)
    expect(ok({ BOREALIS_REPO_HASH_REFRESH: "x" }).settings.github.refreshIntervalSeconds).toBe(60)
  })

  it("MFA issuer and legacy bridge flag (stripped and lowercased)", () => {
    expect(ok({}).settings.mfaIssuer).toBe("Borealis")
    expect(ok({ BOREALIS_MFA_ISSUER: "Acme" }).settings.mfaIssuer).toBe("Acme")
    expect(ok({}).settings.legacyBridge).toBe(true)
    expect(ok({ BOREALIS_ENGINE_ENABLE_LEGACY_BRIDGE: " TRUE " }).settings.legacyBridge).toBe(true)
    expect(ok({ BOREALIS_ENGINE_ENABLE_LEGACY_BRIDGE: "0" }).settings.legacyBridge).toBe(false)
  })

  it("socket buffer and body limits must be positive integers", () => {
    expect(ok({}).settings.socket.maxBufferBytes).toBe(25 * 1024 * 1024)
    expect(fails({ BOREALIS_SOCKET_MAX_BUFFER_BYTES: "big" }).variable).toBe("BOREALIS_SOCKET_MAX_BUFFER_BYTES")
    expect(fails({ BOREALIS_MAX_BODY_BYTES: "0" }).variable).toBe("BOREALIS_MAX_BODY_BYTES")
  })
})
