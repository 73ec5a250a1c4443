import { describe, expect, it } from "@effect/vitest"
import { decodeBase64Text, decodeScriptContent, encodeScriptContent, isBase64Hint, toLf } from "../../../src/services/assemblies/scriptText.ts"

const b64 = (text: string) => Buffer.from(text, "utf8").toString("base64")

describe("decodeBase64Text (strict, after removing whitespace)", () => {
  it.each([
    ["", ""],
    ["   ", ""],
    ["V3JpdGUtT3V0cHV0ICdIaSc=", "Write-Output 'Hi'"],
    ["V3JpdGUtT3V0cHV0\nICdIaSc=", "Write-Output 'Hi'"],
    ["  V3JpdGUt\r\n  T3V0cHV0ICdIaSc=  ", "Write-Output 'Hi'"],
    ["YWJj\tZGVm", "abcdef"],
    ["YW Jj", "abc"],
    ["QQ==", "A"],
    ["QUI=", "AB"],
    ["QUJD", "ABC"],
    ["ab==", "i"],
    ["4pyTIMOgIGxhIG1vZGU=", "✓ à la mode"]
  ])("%j → %j", (input, expected) => {
    expect(decodeBase64Text(input)).toBe(expected)
  })

  it.each([
    ["not base64 at all", "Write-Output 'x'"],
    ["length not a multiple of 4", "abc"],
    ["two chars without padding", "QQ"],
    ["too much padding", "a==="],
    ["padding in the middle", "ab=c"],
    ["two padded quads", "ab==cd=="],
    ["url-safe alphabet", "_-8="],
    // valid base64 whose bytes are not UTF-8: kept as plain text (the original produced mojibake)
    ["`exit` looks like base64", "exit"],
    ["`test` looks like base64", "test"],
    ["binary bytes", "//79"]
  ])("%s → undefined", (_name, input) => {
    expect(decodeBase64Text(input)).toBeUndefined()
  })

  it.each([null, undefined, 42, true, ["QQ=="], { script: "QQ==" }])("non-string %j → undefined", (input) => {
    expect(decodeBase64Text(input)).toBeUndefined()
  })
})

describe("decodeScriptContent", () => {
  it.each([
    ["plain text", "Write-Host 'a'", "Write-Host 'a'"],
    ["plain CRLF → LF", "a\r\nb\r\n", "a\nb\n"],
    ["lone CR is kept", "a\rb", "a\rb"],
    ["base64 of CRLF text", b64("line1\r\nline2\r\n"), "line1\nline2\n"],
    ["base64 of UTF-8", b64("Write-Output 'Grüße ✓'"), "Write-Output 'Grüße ✓'"],
    ["base64 wrapped at 76 columns", b64("x".repeat(200)).replace(/(.{76})/g, "$1\n"), "x".repeat(200)],
    ["blank", "  \n ", ""]
  ])("%s", (_name, input, expected) => {
    expect(decodeScriptContent(input)).toBe(expected)
  })

  it.each([null, undefined, 5, ["a"], {}])("non-string %j → empty", (input) => {
    expect(decodeScriptContent(input)).toBe("")
  })
})

describe("encodeScriptContent", () => {
  it.each([
    ["", ""],
    ["a", "YQ=="],
    ["Write-Output 'Hi'", "V3JpdGUtT3V0cHV0ICdIaSc="],
    ["a\r\nb", b64("a\nb")],
    ["✓", "4pyT"]
  ])("%j → %j", (input, expected) => {
    expect(encodeScriptContent(input)).toBe(expected)
  })

  it("round-trips through decodeScriptContent", () => {
    const script = "param()\r\nWrite-Output \"$env:NAME\"\r\n# ünïcödé ✓\n"
    expect(decodeScriptContent(encodeScriptContent(script))).toBe(toLf(script))
  })
})

describe("isBase64Hint", () => {
  it.each([
    ["base64", true],
    ["b64", true],
    ["base-64", true],
    [" BASE64 ", true],
    ["plain", false],
    ["", false],
    [null, false],
    [64, false]
  ])("%j → %s", (hint, expected) => {
    expect(isBase64Hint(hint)).toBe(expected)
  })
})
