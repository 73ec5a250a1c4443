// Route templates of the declared API, so metrics carry `/api/device/details/:guid`, never the raw
// path (bounded label cardinality).
import * as HttpApi from "@effect/platform/HttpApi"
import type { BorealisApi } from "./api/Api.ts"

export interface RouteTemplate {
  readonly method: string
  readonly template: string
  readonly pattern: RegExp
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

export const routeTemplates = (api: typeof BorealisApi): ReadonlyArray<RouteTemplate> => {
  const routes: Array<RouteTemplate> = []
  HttpApi.reflect(api, {
    onGroup: () => undefined,
    onEndpoint: ({ endpoint }) => {
      const source = endpoint.path.split("/").map((seg) => (seg.startsWith(":") ? "[^/]+" : escape(seg))).join("/")
      routes.push({ method: endpoint.method, template: endpoint.path, pattern: new RegExp(`^${source}/?$`) })
    }
  })
  // Static segments first, so `/api/agents/:id/screenshot` never shadows a literal route.
  return routes.sort((a, b) => (a.template.match(/:/g)?.length ?? 0) - (b.template.match(/:/g)?.length ?? 0))
}

/** The template a request matched: declared routes, `/metrics`, else `other` (static files, 404s). */
export const routeMatcher = (routes: ReadonlyArray<RouteTemplate>) => (method: string, path: string): string => {
  const m = method === "HEAD" ? "GET" : method
  for (const r of routes) if (r.method === m && r.pattern.test(path)) return r.template
  return path.startsWith("/api/") ? "/api/other" : "other"
}
