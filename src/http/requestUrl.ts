// The URL a client addressed, as DPoP's `htu` must name it: BOREALIS_PUBLIC_BASE_URL when set, else the
// scheme and host a trusted proxy forwarded (X-Forwarded-Proto/Host), else the direct ones, plus the
// path. spec: auth-enrollment.md §4
import * as Option from "effect/Option"

const firstHop = (value: string | undefined): string | undefined => {
  const v = value?.split(",")[0]?.trim()
  return v === undefined || v === "" ? undefined : v
}

export const publicRequestUrl = (
  request: { readonly url: string; readonly headers: Readonly<Record<string, string | undefined>> },
  publicBase: Option.Option<string>,
  tls: boolean,
  /** The peer is a trusted proxy: its forwarded scheme and host are believed. */
  forwardedTrusted: boolean
): string => {
  const path = request.url.split("?")[0]!.split("#")[0]!
  if (Option.isSome(publicBase)) return `${publicBase.value}${path}`
  const forwarded = (name: string) => (forwardedTrusted ? firstHop(request.headers[name]) : undefined)
  const proto = forwarded("x-forwarded-proto") ?? (tls ? "https" : "http")
  const host = forwarded("x-forwarded-host") ?? request.headers["host"] ?? "localhost"
  return `${proto}://${host}${path}`
}

/** `DPoP` header values (several headers arrive joined by commas; a compact JWS has none). */
export const dpopHeaderValues = (header: string | undefined): ReadonlyArray<string> =>
  header === undefined ? [] : header.split(",").map((s) => s.trim()).filter((s) => s !== "")
