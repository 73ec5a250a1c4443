import { describe, expect, it } from "@effect/vitest"
import {
  baseName,
  documentScript,
  documentTimeout,
  loadDispatchDocument,
  normaliseFiles,
  normaliseVariables,
  stem,
  typeFromExtension
} from "../../../src/services/assemblies/dispatchDocument.ts"

const b64 = (text: string) => Buffer.from(text, "utf8").toString("base64")
const json = (value: unknown) => JSON.stringify(value)

describe("file names", () => {
  it.each([
    ["Scripts/a/b.json", "b.json", "b"],
    ["b.json", "b.json", "b"],
    ["Scripts/x.tar.gz", "x.tar.gz", "x.tar"],
    ["Scripts/.hidden", ".hidden", ".hidden"],
    ["noext", "noext", "noext"]
  ])("%s → %s / %s", (p, base, s) => {
    expect(baseName(p)).toBe(base)
    expect(stem(baseName(p))).toBe(s)
  })

  it.each([
    ["a.ps1", "powershell"],
    ["a.PS1", "powershell"],
    ["a.bat", "batch"],
    ["a.sh", "bash"],
    ["a.yml", "ansible"],
    ["a.yaml", "ansible"],
    ["a.json", undefined],
    ["a.txt", undefined]
  ])("typeFromExtension(%s) = %s", (name, expected) => {
    expect(typeFromExtension(name)).toBe(expected)
  })
})

describe("documentScript: script from script_lines | script | content", () => {
  it.each([
    ["script_lines joined with LF", { script_lines: ["a", "b", 3, true] }, "a\nb\n3\nTrue", "plain"],
    ["script_lines beat script", { script_lines: ["lines"], script: "plain script" }, "lines", "plain"],
    ["script", { script: "Write-Host 1" }, "Write-Host 1", "plain"],
    ["script beats content", { script: "s", content: "c" }, "s", "plain"],
    ["content when script is not a string", { script: 5, content: "c" }, "c", "plain"],
    ["base64 script with hint", { script: b64("x\r\ny"), script_encoding: "base64" }, "x\ny", "base64"],
    ["b64 hint camelCase key", { script: b64("z"), scriptEncoding: "B64" }, "z", "base64"],
    ["base64 detected without hint", { script: b64("Write-Output 'Hi'") }, "Write-Output 'Hi'", "base64"],
    ["hint on text that is not base64", { script: "Write-Host 'x'", script_encoding: "base64" }, "Write-Host 'x'", "base64"],
    ["base64 content", { content: b64("from content") }, "from content", "base64"],
    // the original probes `script` even when script_lines supplied the text
    ["script_lines with a base64 script beside", { script_lines: ["lines"], script: b64("probe wins") }, "probe wins", "base64"],
    ["nothing", {}, "", "plain"]
  ])("%s", (_name, data, script, encoding) => {
    expect(documentScript(data)).toEqual({ script, encoding })
  })
})

describe("documentTimeout", () => {
  it.each([
    [{}, 3600],
    [{ timeout_seconds: 120 }, 120],
    [{ timeout_seconds: "90" }, 90],
    [{ timeout_seconds: 12.9 }, 12],
    [{ timeout_seconds: -5 }, 0],
    [{ timeout_seconds: 0 }, 0],
    [{ timeout_seconds: null, timeout: 50 }, 3600],
    [{ timeout: 50 }, 50],
    [{ timeout_seconds: "soon" }, 3600],
    [{ timeout_seconds: "1.5" }, 3600],
    [{ timeout_seconds: [1] }, 3600],
    [{ timeout_seconds: true }, 1]
  ])("%j → %i", (data, expected) => {
    expect(documentTimeout(data)).toBe(expected)
  })
})

describe("normaliseVariables", () => {
  it("names from name|key, types limited, fields stringified", () => {
    expect(
      normaliseVariables([
        { name: " Host ", label: "Host name", type: "STRING", default: "h", required: 1, description: "d" },
        { key: "Count", type: "number", default_value: 3 },
        { name: "Flag", type: "boolean", default: null, required: "" },
        { name: "Secret", type: "credential" },
        { name: "Odd", type: "date" },
        { name: "", key: "fallback" },
        { label: "nameless" },
        "junk",
        null
      ])
    ).toEqual([
      { name: "Host", label: "Host name", type: "string", default: "h", required: true, description: "d" },
      { name: "Count", label: "", type: "number", default: 3, required: false, description: "" },
      { name: "Flag", label: "", type: "boolean", default: null, required: false, description: "" },
      { name: "Secret", label: "", type: "credential", default: null, required: false, description: "" },
      { name: "Odd", label: "", type: "string", default: null, required: false, description: "" },
      { name: "fallback", label: "", type: "string", default: null, required: false, description: "" }
    ])
  })

  it("not a list → none", () => {
    expect(normaliseVariables({ name: "x" })).toEqual([])
  })
})

describe("normaliseFiles", () => {
  it("keeps named entries with string data", () => {
    expect(
      normaliseFiles([
        { file_name: "a.txt", size: "12", mime_type: "text/plain", data: "QQ==" },
        { name: "b.bin", size: "big", mimeType: "application/octet-stream", data: "" },
        { file_name: "c", data: 5 },
        { data: "QQ==" },
        "junk"
      ])
    ).toEqual([
      { file_name: "a.txt", size: 12, mime_type: "text/plain", data: "QQ==" },
      { file_name: "b.bin", size: 0, mime_type: "application/octet-stream", data: "" }
    ])
  })
})

describe("loadDispatchDocument", () => {
  it("a full JSON document", () => {
    const doc = loadDispatchDocument(
      "sample.json",
      json({
        name: "Sample",
        description: "Says hi",
        category: "Script",
        type: "PowerShell",
        script: b64("Write-Output $env:WHO\r\n"),
        script_encoding: "base64",
        timeout_seconds: 60,
        variables: [{ name: "who", type: "string", default: "world" }],
        files: [{ file_name: "f.txt", size: 1, mime_type: "text/plain", data: "QQ==" }]
      }),
      "powershell"
    )
    expect(doc).toEqual({
      name: "Sample",
      description: "Says hi",
      category: "script",
      type: "powershell",
      script: "Write-Output $env:WHO\n",
      script_encoding: "base64",
      variables: [{ name: "who", label: "", type: "string", default: "world", required: false, description: "" }],
      files: [{ file_name: "f.txt", size: 1, mime_type: "text/plain", data: "QQ==" }],
      timeout_seconds: 60
    })
  })

  it.each([
    ["name defaults to the stem", "My Script.json", json({ script: "x" }), { name: "My Script", type: "powershell", category: "script" }],
    ["script_type alias", "a.json", json({ script_type: "bash" }), { type: "bash" }],
    ["unknown type keeps the default", "a.json", json({ type: "python" }), { type: "powershell" }],
    ["unknown category keeps the default", "a.json", json({ category: "misc" }), { category: "script" }],
    ["application category", "a.json", json({ category: "APPLICATION" }), { category: "application" }],
    ["ansible default", "play.json", json({ script: "- hosts: all" }), { type: "ansible", category: "application" }]
  ])("%s", (_name, file, text, expected) => {
    const doc = loadDispatchDocument(file, text, file.startsWith("play") ? "ansible" : "powershell")
    expect(doc).toMatchObject(expected)
  })

  it.each([
    ["unparsable JSON", "{nope"],
    ["a JSON array", "[1,2]"],
    ["a JSON string", "\"x\""],
    ["empty file", ""]
  ])("%s gives the defaults", (_name, text) => {
    expect(loadDispatchDocument("broken.json", text, "powershell")).toEqual({
      name: "broken",
      description: "",
      category: "script",
      type: "powershell",
      script: "",
      variables: [],
      files: [],
      timeout_seconds: 3600
    })
  })

  it.each([
    ["a.ps1", "Write-Host 1\r\n", "powershell", "Write-Host 1\n"],
    ["a.bat", "echo 1", "batch", "echo 1"],
    ["a.sh", "echo 1", "bash", "echo 1"],
    ["site.yml", "- hosts: all\r\n", "ansible", "- hosts: all\n"],
    // a plain file is never base64-decoded
    ["a.ps1", b64("hidden"), "powershell", b64("hidden")]
  ])("plain file %s", (file, text, type, script) => {
    expect(loadDispatchDocument(file, text, "powershell")).toMatchObject({ name: file.replace(/\.[^.]+$/, ""), type, script })
  })
})
