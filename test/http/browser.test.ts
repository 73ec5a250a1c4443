// What a real browser (Chromium) does with our answers: text an agent supplies stays text, the page
// policy blocks inline script while the console's own script files run, framing is refused, and the
// security headers arrive as sent. Skipped, loudly, only where Chromium is not installed.
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as TestServices from "effect/TestServices"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import type { Page } from "playwright-core"
import { PAGE_CSP, RESOURCE_CSP } from "../../src/layers/webPolicy.ts"
import { browserUnavailable, launchBrowser } from "../support/browser.ts"
import { rootWithStatic, startEngine } from "../support/engine.ts"
import { adminClient, enrolledAgent } from "../support/enrollment.ts"

const unavailable = browserUnavailable()
if (unavailable !== undefined) console.warn(`browser tests SKIPPED: ${unavailable}`)

const HOSTNAME = "<img src=x onerror=alert(1)>"

// A page with one inline script (must not run) and one script file (must run).
const STATIC = {
  "index.html": [
    "<!doctype html><html><head><title>console</title></head><body>",
    "<p id=\"marker\">static page</p>",
    "<script>alert(\"inline\"); document.title = \"inline ran\"</script>",
    "<script src=\"/app.js\"></script>",
    "</body></html>"
  ].join("\n"),
  "app.js": "document.getElementById(\"marker\").dataset.external = \"ran\"\n"
}

const withStatic = rootWithStatic

/** Screenshots for a human to look at: under reports/ (ignored by git), which outlives the run's TMPDIR. */
const SCREENSHOTS = fileURLToPath(new URL("../../reports/browser/", import.meta.url))

const promise = <A>(f: () => Promise<A>) => Effect.promise(f)

/** A page that records every dialog (dismissing it) and every console line. */
const watchedPage = (page: Page) => {
  const dialogs: Array<string> = []
  const consoleLines: Array<string> = []
  page.on("dialog", (dialog) => {
    dialogs.push(dialog.message())
    dialog.dismiss().catch(() => undefined)
  })
  page.on("console", (message) => consoleLines.push(message.text()))
  return { page, dialogs, consoleLines }
}

const loginFromPage = (page: Page) =>
  promise(() =>
    page.evaluate(async () => {
      const reply = await fetch("/api/auth/login", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ username: "admin", password: "Password" })
      })
      return reply.status
    })
  )

describe.skipIf(unavailable !== undefined)("in a real browser (Chromium)", () => {
  it.scoped("a hostname an agent sent is shown as text: no dialog, no <img>, the literal text on the page", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine({ root: withStatic(STATIC) })
      const admin = yield* promise(() => adminClient(engine.client))
      const agent = yield* promise(() => enrolledAgent(engine, admin, HOSTNAME))
      expect(agent.guid).not.toBe("")
      const context = yield* launchBrowser(engine)
      const { page, dialogs } = watchedPage(yield* promise(() => context.newPage()))
      yield* promise(() => page.goto(`${engine.url}/`))
      expect(yield* loginFromPage(page)).toBe(200)
      for (const route of ["/api/devices", `/api/device/details/${encodeURIComponent(HOSTNAME)}`]) {
        const response = yield* promise(() => page.goto(`${engine.url}${route}`))
        expect([route, response?.status()]).toEqual([route, 200])
        expect([route, response?.headers()["content-type"]]).toEqual([route, "application/json"])
        // an onerror handler would fire as soon as the element existed; give it the chance
        yield* promise(() => page.waitForTimeout(300))
        expect([route, dialogs]).toEqual([route, []])
        expect([route, yield* promise(() => page.locator("img").count())]).toEqual([route, 0])
        expect([route, (yield* promise(() => page.textContent("body"))) ?? ""]).toEqual([route, expect.stringContaining(HOSTNAME)])
      }
      fs.mkdirSync(SCREENSHOTS, { recursive: true })
      yield* promise(() => page.screenshot({ path: path.join(SCREENSHOTS, "device-details.png"), fullPage: true }))
    }))

  it.scoped("the page policy blocks an inline script in a served page while its script file runs", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine({ root: withStatic(STATIC) })
      const context = yield* launchBrowser(engine)
      const { page, dialogs, consoleLines } = watchedPage(yield* promise(() => context.newPage()))
      // the SPA fallback serves the same index.html under a client-side route
      for (const route of ["/", "/devices/42"]) {
        const response = yield* promise(() => page.goto(`${engine.url}${route}`))
        expect([route, response?.status()]).toEqual([route, 200])
        expect(yield* promise(() => page.getAttribute("#marker", "data-external"))).toBe("ran")
        expect(yield* promise(() => page.title())).toBe("console")
        expect(dialogs).toEqual([])
      }
      // the block is the policy's doing, not a script error
      expect(consoleLines.some((line) => /Content Security Policy/.test(line) && /inline script/.test(line))).toBe(true)
    }))

  it.scoped("headers as the browser received them; our pages cannot be framed", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine({ root: withStatic(STATIC) })
      const context = yield* launchBrowser(engine)
      const { page } = watchedPage(yield* promise(() => context.newPage()))
      const cases: Array<[string, number, string]> = [
        ["/", 200, PAGE_CSP],
        ["/app.js", 200, PAGE_CSP],
        ["/health", 200, RESOURCE_CSP],
        ["/api/devices", 401, RESOURCE_CSP],
        ["/missing.css", 404, RESOURCE_CSP]
      ]
      for (const [route, status, csp] of cases) {
        const response = yield* promise(() => page.goto(`${engine.url}${route}`))
        const headers = response?.headers() ?? {}
        expect([route, response?.status()]).toEqual([route, status])
        expect([route, headers["content-security-policy"]]).toEqual([route, csp])
        expect([route, headers["x-content-type-options"], headers["x-frame-options"], headers["referrer-policy"]]).toEqual([route, "nosniff", "DENY", "no-referrer"])
        expect([route, headers["strict-transport-security"]]).toEqual([route, "max-age=31536000"])
      }
      yield* promise(() => page.goto(`${engine.url}/`))
      fs.mkdirSync(SCREENSHOTS, { recursive: true })
      yield* promise(() => page.screenshot({ path: path.join(SCREENSHOTS, "static-index.png") }))

      // a page of another origin framing ours gets nothing of it, and the browser says why
      const framing = watchedPage(yield* promise(() => context.newPage()))
      yield* promise(() => framing.page.setContent(`<iframe src="${engine.url}/"></iframe>`, { waitUntil: "load" }))
      const child = framing.page.frames().find((frame) => frame !== framing.page.mainFrame())
      expect(child?.url()).toMatch(/^chrome-error:/)
      const framedText = yield* promise(() => (child === undefined ? Promise.resolve("") : child.innerText("body", { timeout: 2000 }).catch(() => "")))
      expect(framedText).not.toContain("static page")
      // The browser's console message may arrive after the load event under load: give it a moment.
      const explained = () => framing.consoleLines.some((line) => /frame-ancestors 'none'/.test(line) && /blocked/.test(line))
      for (let i = 0; i < 50 && !explained(); i++) yield* TestServices.provideLive(Effect.sleep("100 millis"))
      expect(explained()).toBe(true)
    }))
})
