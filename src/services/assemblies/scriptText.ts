// Script text as assemblies store it and agents receive it: optionally base64, always LF line
// endings, dispatched as base64 of UTF-8. spec: realtime-jobs.md §4.2 step 4, step 7; §4.6
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/
const fatalUtf8 = new TextDecoder("utf-8", { fatal: true })

/** The encodings a hint may name to mean base64. */
export const isBase64Hint = (hint: unknown): boolean =>
  typeof hint === "string" && ["base64", "b64", "base-64"].includes(hint.trim().toLowerCase())

/**
 * Strict base64 → text: whitespace anywhere is removed first, then only the standard alphabet
 * with correct padding is accepted. Blank input is `""`; anything else that is not base64 is
 * `undefined`. Unlike the original (which then decoded with replacement characters), bytes that are
 * not valid UTF-8 are `undefined` too: a plain script that happens to look like base64 (`exit`,
 * `test`) stays a plain script instead of becoming mojibake.
 */
export const decodeBase64Text = (value: unknown): string | undefined => {
  if (typeof value !== "string") return undefined
  if (value.trim() === "") return ""
  const cleaned = value.replace(/\s+/g, "")
  if (cleaned.length % 4 !== 0 || !BASE64.test(cleaned)) return undefined
  try {
    return fatalUtf8.decode(Buffer.from(cleaned, "base64"))
  } catch {
    return undefined
  }
}

export const toLf = (text: string): string => text.replace(/\r\n/g, "\n")

/**
 * A stored script → its text: base64 when it strictly decodes, else the value itself; CRLF → LF.
 * Non-strings are `""`. (The original also took an encoding hint, but tried the same strict decode
 * with and without it, so the hint never changed the result; it only labels `script_encoding`.)
 */
export const decodeScriptContent = (value: unknown): string => {
  if (typeof value !== "string") return ""
  return toLf(decodeBase64Text(value) ?? value)
}

/** Script text → base64 of its UTF-8 bytes after CRLF → LF; empty text is `""`. */
export const encodeScriptContent = (text: string): string => {
  const normalised = toLf(text)
  return normalised === "" ? "" : Buffer.from(normalised, "utf8").toString("base64")
}
