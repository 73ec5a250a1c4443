// Cookie flags as the original sets them: SameSite Lax, path `/`, Secure unless BOREALIS_DEBUG. Both
// the session and `borealis_auth` are HttpOnly (the original left the token readable by scripts, so
// one injected script could carry it away) and browser-session cookies; the token is bound to the
// session server-side, so it ends when the session does (logout, idle or absolute expiry).
// spec: config-bootstrap-tests.md §3.3, §6.0
import type * as Cookies from "@effect/platform/Cookies"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { MFA_CHALLENGE_SECONDS, MFA_COOKIE, SESSION_COOKIE, TOKEN_COOKIE } from "../../services/operators/OperatorAuth.ts"

type CookieOptions = NonNullable<Cookies.Cookie["options"]>

const base = (debug: boolean): CookieOptions => ({ path: "/", sameSite: "lax", secure: !debug })

const expired: CookieOptions = { maxAge: 0, expires: new Date(0) }

export const setLoginCookies = (response: HttpServerResponse.HttpServerResponse, debug: boolean, session: string, token: string) =>
  response.pipe(
    HttpServerResponse.unsafeSetCookie(SESSION_COOKIE, session, { ...base(debug), httpOnly: true }),
    HttpServerResponse.unsafeSetCookie(TOKEN_COOKIE, token, { ...base(debug), httpOnly: true }),
    HttpServerResponse.unsafeSetCookie(MFA_COOKIE, "", { ...base(debug), httpOnly: true, ...expired })
  )

export const setChallengeCookie = (response: HttpServerResponse.HttpServerResponse, debug: boolean, challenge: string) =>
  HttpServerResponse.unsafeSetCookie(response, MFA_COOKIE, challenge, { ...base(debug), httpOnly: true, maxAge: `${MFA_CHALLENGE_SECONDS} seconds` })

export const clearAuthCookies = (response: HttpServerResponse.HttpServerResponse, debug: boolean) =>
  response.pipe(
    HttpServerResponse.unsafeSetCookie(SESSION_COOKIE, "", { ...base(debug), httpOnly: true, ...expired }),
    HttpServerResponse.unsafeSetCookie(TOKEN_COOKIE, "", { ...base(debug), httpOnly: true, ...expired }),
    HttpServerResponse.unsafeSetCookie(MFA_COOKIE, "", { ...base(debug), httpOnly: true, ...expired })
  )
