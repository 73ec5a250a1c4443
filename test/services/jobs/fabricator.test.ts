import { describe, expect, it } from "@effect/vitest"
import {
  type AnsibleManifest,
  componentSourcePath,
  componentSourcePaths,
  fabricateJob,
  normaliseComponentPath,
  normaliseTargets,
  prepareComponent,
  runModeOf,
  type ScriptManifest
} from "../../../src/services/jobs/fabricator.ts"
import { MAX_SCRIPT_BYTES, type SourceLookup } from "../../../src/services/assemblies/source.ts"

const b64 = (text: string) => Buffer.from(text, "utf8").toString("base64")
const unb64 = (text: string) => Buffer.from(text, "base64").toString("utf8")

const library: Record<string, string> = {
  "Scripts/hello.json": JSON.stringify({
    name: "Hello",
    type: "powershell",
    script: b64("Write-Output \"Hello $env:WHO\"\r\nif ($env:{Loud}) { 'LOUD' }\r\n"),
    script_encoding: "base64",
    timeout_seconds: 120,
    variables: [
      { name: "Who", type: "string", default: "World" },
      { name: "Loud", type: "boolean", default: false }
    ],
    files: [{ file_name: "readme.txt", size: 2, mime_type: "text/plain", data: "aGk=" }]
  }),
  "Scripts/Tools/plain.ps1": "Get-Date\r\n",
  "Scripts/bash.json": JSON.stringify({ name: "B", type: "bash", script: "echo hi" }),
  "Scripts/unnamed.json": JSON.stringify({ script: "exit 0" }),
  "Scripts/script_lines.json": JSON.stringify({ name: "Lines", script_lines: ["$a = $env:A", "$a"], variables: [{ key: "A", default: 1 }] }),
  "Ansible_Playbooks/site.yml": "- hosts: all\r\n  tasks: []\r\n",
  "Ansible_Playbooks/Linux/patch.json": JSON.stringify({
    name: "Patch",
    type: "ansible",
    script: "- hosts: all",
    variables: [{ name: "reboot", type: "boolean" }]
  })
}
const sources: SourceLookup = (p) => library[p]

const ready = (component: unknown): ScriptManifest | AnsibleManifest => {
  const prepared = prepareComponent(component, 0, sources)
  if (prepared._tag !== "Ready") throw new Error(`skipped: ${JSON.stringify(prepared.skip)}`)
  return prepared.manifest
}
const readyScript = (component: unknown): ScriptManifest => {
  const manifest = ready(component)
  if (manifest.kind !== "script") throw new Error("not a script")
  return manifest
}

describe("normaliseComponentPath (backslashes, leading slash, island prefix)", () => {
  it.each([
    ["script", "hello.json", "Scripts/hello.json"],
    ["script", "Scripts/hello.json", "Scripts/hello.json"],
    ["script", "/Scripts/hello.json", "Scripts/hello.json"],
    ["script", "scripts/hello.json", "Scripts/hello.json"],
    ["script", "SCRIPTS\\Tools\\plain.ps1", "Scripts/Tools/plain.ps1"],
    ["script", "Tools\\plain.ps1", "Scripts/Tools/plain.ps1"],
    ["script", "\\\\Tools//plain.ps1", "Scripts/Tools/plain.ps1"],
    ["script", "./Tools/./plain.ps1", "Scripts/Tools/plain.ps1"],
    ["script", "  hello.json  ", "Scripts/hello.json"],
    ["script", "Scripts2/x.json", "Scripts/Scripts2/x.json"],
    ["script", "Ansible_Playbooks/site.yml", "Scripts/Ansible_Playbooks/site.yml"],
    ["ansible", "site.yml", "Ansible_Playbooks/site.yml"],
    ["ansible", "Linux/patch.json", "Ansible_Playbooks/Linux/patch.json"],
    ["ansible", "ansible_playbooks/Linux/patch.json", "Ansible_Playbooks/Linux/patch.json"],
    // first-gen prefixed `Scripts/` to Ansible paths too; an Ansible path is never a script path here
    ["ansible", "Scripts/site.yml", "Ansible_Playbooks/Scripts/site.yml"]
  ] as const)("%s %j → %s", (kind, raw, expected) => {
    expect(normaliseComponentPath(kind, raw)).toBe(expected)
  })

  it.each([
    ["", "empty"],
    ["/", "only a slash"],
    ["Scripts", "only the island"],
    ["Scripts/", "only the island with slash"],
    ["../etc/passwd", "parent segment"],
    ["Scripts/../../etc/passwd", "parent segment after the island"],
    ["a/..\\..\\b", "backslash parents"],
    ["C:\\Windows\\win.ini", "drive letter"],
    ["c:/x.json", "drive letter, forward slashes"],
    ["a\0b.json", "NUL byte"]
  ])("%j (%s) → undefined", (raw) => {
    expect(normaliseComponentPath("script", raw)).toBeUndefined()
  })
})

describe("componentSourcePath(s)", () => {
  it.each([
    [{ type: "script", path: "hello.json" }, "Scripts/hello.json"],
    [{ type: "SCRIPT", script_path: "hello.json" }, "Scripts/hello.json"],
    [{ type: "script", path: "", script_path: "hello.json" }, "Scripts/hello.json"],
    [{ type: "ansible", path: "site.yml" }, "Ansible_Playbooks/site.yml"],
    [{ type: "ansible", playbook_path: "site.yml" }, "Ansible_Playbooks/site.yml"],
    [{ type: "workflow", path: "w.json" }, undefined],
    [{ path: "hello.json" }, undefined],
    [{ type: "script" }, undefined],
    [{ type: "script", path: "../x" }, undefined],
    ["hello.json", undefined],
    [null, undefined]
  ])("%j → %s", (component, expected) => {
    expect(componentSourcePath(component)).toBe(expected)
  })

  it("lists each needed file once", () => {
    expect(
      componentSourcePaths([
        { type: "script", path: "hello.json" },
        { type: "script", path: "Scripts\\hello.json" },
        { type: "ansible", path: "site.yml" },
        { type: "workflow", path: "x" }
      ])
    ).toEqual(["Scripts/hello.json", "Ansible_Playbooks/site.yml"])
  })
})

describe("prepareComponent: scripts", () => {
  it("a JSON assembly with defaults: decoded, rewritten, LF, encoded", () => {
    const m = readyScript({ type: "script", path: "hello.json", name: "Say hello" })
    expect(m.kind).toBe("script")
    expect(m.name).toBe("Say hello")
    expect(m.scriptName).toBe("Hello")
    expect(m.path).toBe("Scripts/hello.json")
    expect(m.scriptType).toBe("powershell")
    expect(m.scriptContent).toBe("Write-Output \"Hello 'World'\"\nif ($false) { 'LOUD' }\n")
    expect(unb64(m.encodedContent)).toBe(m.scriptContent)
    expect(m.environment).toEqual({ WHO: "World", LOUD: "False", Who: "World", Loud: "False" })
    expect(m.literalEnvironment).toEqual({ WHO: "'World'", LOUD: "$false" })
    expect(m.timeoutSeconds).toBe(120)
    expect(m.files).toEqual([{ file_name: "readme.txt", size: 2, mime_type: "text/plain", data: "aGk=" }])
  })

  it("overrides from variable_values and variables[].value", () => {
    const m = readyScript({
      type: "script",
      path: "hello.json",
      variable_values: { Who: "Ops", Loud: false, Extra: "x" },
      variables: [{ name: "Loud", type: "boolean", value: true }]
    })
    expect(m.scriptContent).toBe("Write-Output \"Hello 'Ops'\"\nif ($true) { 'LOUD' }\n")
    expect(m.environment).toEqual({ WHO: "Ops", LOUD: "True", EXTRA: "x", Who: "Ops", Loud: "True", Extra: "x" })
    expect(m.variables).toEqual([
      { name: "Who", label: "", type: "string", default: "World", required: false, description: "", value: "Ops" },
      { name: "Loud", label: "", type: "boolean", default: false, required: false, description: "", value: true },
      { name: "Extra", value: "x", type: "string" }
    ])
  })

  it("a value with CRLF is normalised after the rewrite, so the signed bytes are the sent bytes", () => {
    const m = readyScript({ type: "script", path: "hello.json", variable_values: { Who: "a\r\nb" } })
    expect(m.scriptContent).toBe("Write-Output \"Hello 'a\nb'\"\nif ($false) { 'LOUD' }\n")
    expect(unb64(m.encodedContent)).toBe(m.scriptContent)
  })

  it("a plain .ps1 file is the script; name from the file", () => {
    const m = readyScript({ type: "script", path: "Tools/plain.ps1" })
    expect(m).toMatchObject({ name: "plain", scriptName: "plain", path: "Scripts/Tools/plain.ps1", scriptContent: "Get-Date\n", timeoutSeconds: 3600 })
  })

  it("a document without a name: the script name is the file name, the manifest name its stem", () => {
    const m = readyScript({ type: "script", path: "unnamed.json" })
    expect([m.name, m.scriptName]).toEqual(["unnamed", "unnamed"])
  })

  it("script_lines and `key` variables", () => {
    const m = readyScript({ type: "script", path: "script_lines.json" })
    expect(m.scriptContent).toBe("$a = '1'\n$a")
  })

  it("a component's own script text replaces the library's (first-gen); base64 decoded", () => {
    const m = readyScript({ type: "script", path: "hello.json", script: b64("Write-Output $env:WHO\r\n") })
    expect(m.scriptContent).toBe("Write-Output 'World'\n")
  })

  it.each([
    [{ timeout_seconds: 30 }, 30],
    [{ timeout_seconds: "45" }, 45],
    [{ timeout: 15 }, 15],
    [{ timeout_seconds: 0, timeout: 20 }, 20],
    [{ timeout_seconds: -1 }, 120],
    [{ timeout_seconds: "soon" }, 120],
    [{}, 120]
  ])("timeout %j → %i", (extra, expected) => {
    expect(readyScript({ type: "script", path: "hello.json", ...extra }).timeoutSeconds).toBe(expected)
  })

  it("never mutates or freezes the caller's component; the manifest is frozen", () => {
    const values = { Who: { nested: true } }
    const component = { type: "script", path: "hello.json", variable_values: values }
    const m = readyScript(component)
    expect(Object.isFrozen(values)).toBe(false)
    expect(Object.isFrozen(m)).toBe(true)
    expect(Object.isFrozen(m.environment)).toBe(true)
    expect(Object.isFrozen(m.variables[0])).toBe(true)
  })
})

describe("prepareComponent: skips with the original's messages", () => {
  it.each([
    [{ type: "workflow", path: "x.json" }, "unsupported_component_type", "", "Unsupported component type 'workflow'"],
    ["not an object", "unsupported_component_type", "", "Unsupported component type ''"],
    [{ type: "script" }, "missing_path", "", "Missing script_path"],
    [{ type: "script", path: "   " }, "missing_path", "", "Missing script_path"],
    [{ type: "ansible" }, "missing_path", "", "Missing playbook_path"],
    [{ type: "script", path: "../../etc/passwd" }, "invalid_path", "../../etc/passwd", "Script not found"],
    [{ type: "script", path: "missing.json" }, "not_found", "Scripts/missing.json", "Script not found"],
    [{ type: "ansible", path: "missing.yml" }, "not_found", "Ansible_Playbooks/missing.yml", "Playbook not found"],
    [{ type: "script", path: "bash.json" }, "unsupported_script_type", "Scripts/bash.json", "Unsupported script type 'bash'. Only PowerShell is supported."]
  ])("%j → %s", (component, reason, path, message) => {
    const prepared = prepareComponent(component, 3, sources)
    expect(prepared).toEqual({ _tag: "Skipped", skip: expect.objectContaining({ index: 3, reason, path, message }) })
  })

  it("a script above the size limit is refused", () => {
    const big = "x".repeat(1000)
    const prepared = prepareComponent({ type: "script", path: "big.ps1" }, 0, (p) => (p === "Scripts/big.ps1" ? big : undefined), {
      maxScriptBytes: 999
    })
    expect(prepared._tag === "Skipped" && prepared.skip.reason).toBe("too_large")
    const refused = prepareComponent({ type: "script", path: "huge.ps1" }, 0, () => ({ _tag: "TooLarge", bytes: 1 << 30 }))
    expect(refused._tag === "Skipped" && refused.skip).toMatchObject({ reason: "too_large", message: `Script exceeds ${MAX_SCRIPT_BYTES} bytes` })
    expect(MAX_SCRIPT_BYTES).toBe(16 * 1024 * 1024)
  })
})

describe("prepareComponent: ansible", () => {
  it("a .yml playbook", () => {
    const m = ready({ type: "ansible", path: "site.yml", variable_values: { a: 1 }, variables: [{ name: "a", value: 2 }, { name: "b", value: 3 }] })
    expect(m).toMatchObject({
      kind: "ansible",
      name: "site",
      playbookName: "site",
      path: "Ansible_Playbooks/site.yml",
      islandPath: "site.yml",
      playbookContent: "- hosts: all\n  tasks: []\n",
      variableValues: { a: 1, b: 3 }
    })
    expect(unb64(m.encodedContent)).toBe("- hosts: all\n  tasks: []\n")
  })

  it("a JSON playbook document", () => {
    const m = ready({ type: "ansible", path: "Linux/patch.json", name: "Monthly patch" })
    expect(m).toMatchObject({ name: "Monthly patch", playbookName: "Patch", islandPath: "Linux/patch.json", playbookContent: "- hosts: all" })
    expect(m.kind === "ansible" && m.variables.map((v) => v.name)).toEqual(["reboot"])
  })
})

describe("fabricateJob", () => {
  const job = {
    id: 7,
    name: "Nightly",
    execution_context: " Current_User ",
    targets: ["HOST-A", " host-b ", "host-a", 42, "", null, true, { kind: "filter" }],
    components: [
      { type: "script", path: "hello.json" },
      { type: "script", path: "bash.json" },
      { type: "ansible", path: "site.yml" },
      { type: "script", path: "gone.json" }
    ]
  }

  it("builds one manifest per occurrence with every component's outcome", () => {
    const manifest = fabricateJob(job, 1_714_550_400, sources)
    expect(manifest.jobId).toBe(7)
    expect(manifest.name).toBe("Nightly")
    expect(manifest.occurrenceTs).toBe(1_714_550_400)
    expect(manifest.executionContext).toBe("current_user")
    expect(manifest.targets).toEqual(["HOST-A", "host-b", "42"])
    expect(manifest.components.map((c) => [c.index, c.kind, c.path])).toEqual([
      [0, "script", "Scripts/hello.json"],
      [2, "ansible", "Ansible_Playbooks/site.yml"]
    ])
    expect(manifest.skipped.map((s) => [s.index, s.reason])).toEqual([
      [1, "unsupported_script_type"],
      [3, "not_found"]
    ])
    expect(Object.isFrozen(manifest)).toBe(true)
    expect(Object.isFrozen(manifest.components)).toBe(true)
  })

  it("is deterministic", () => {
    expect(fabricateJob(job, 1, sources)).toEqual(fabricateJob(job, 1, sources))
  })

  it.each([
    [null, "system"],
    [undefined, "system"],
    ["", "system"],
    ["SYSTEM", "system"],
    ["current_user", "current_user"],
    ["winrm", "winrm"],
    [5, "system"]
  ])("runModeOf(%j) = %s", (input, expected) => {
    expect(runModeOf(input)).toBe(expected)
  })

  it("normaliseTargets", () => {
    expect(normaliseTargets(["a", "A", " b", 1, 1.5, false, "  "])).toEqual(["a", "b", "1"])
  })
})
