// A real browser for tests of what a browser does with our answers: Debian's Chromium driven by
// playwright-core. It accepts exactly the key of the certificate the Engine presents, after Node has
// verified that certificate against the Engine's CA — no blanket "ignore HTTPS errors".
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as tls from "node:tls"
import { type BrowserContext, chromium } from "playwright-core"

export const CHROMIUM = "/usr/bin/chromium"

const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync"
]

/** Why browser tests cannot run on this machine, or undefined when they can. */
export const browserUnavailable = (): string | undefined =>
  fs.existsSync(CHROMIUM) ? undefined : `${CHROMIUM} is missing (Debian package "chromium"; .ci/run installs it)`

/**
 * base64 SHA-256 of the public key (SPKI) of the certificate the server at `url` presents, once Node
 * has verified its chain against `ca` and its name against the URL's host.
 */
export const verifiedServerKeyPin = (url: string, ca: string): Promise<string> =>
  new Promise((resolve, reject) => {
    const { hostname, port } = new URL(url)
    const socket = tls.connect({ host: hostname, port: Number(port), servername: hostname, ca }, () => {
      const certificate = socket.getPeerX509Certificate()
      socket.end()
      if (certificate === undefined) return reject(new Error(`${url} presented no certificate`))
      const spki = certificate.publicKey.export({ type: "spki", format: "der" })
      resolve(crypto.createHash("sha256").update(spki).digest("base64"))
    })
    socket.once("error", reject)
  })

/**
 * A fresh browser (playwright gives every launch its own new user-data-dir and removes it on close)
 * and one context in it, closed with the scope. For HTTPS, Chromium's
 * `--ignore-certificate-errors-spki-list` admits only the Engine's verified server key: Chromium
 * keeps its own trust store (NSS under $HOME), and filling one would need certutil.
 */
export const launchBrowser = (engine: { readonly url: string; readonly ca: string | undefined }): Effect.Effect<BrowserContext, never, Scope.Scope> =>
  Effect.gen(function*() {
    const ca = engine.ca
    const pin = ca === undefined ? undefined : yield* Effect.promise(() => verifiedServerKeyPin(engine.url, ca))
    const browser = yield* Effect.acquireRelease(
      Effect.promise(() =>
        chromium.launch({
          executablePath: CHROMIUM,
          args: pin === undefined ? ARGS : [...ARGS, `--ignore-certificate-errors-spki-list=${pin}`]
        })
      ),
      (b) => Effect.promise(() => b.close())
    )
    return yield* Effect.promise(() => browser.newContext())
  })
