import { describe, expect, it } from "@effect/vitest"
import {
  canonicalEnvKey,
  collectAnsibleOverrides,
  collectScriptOverrides,
  envString,
  extractVariableDefault,
  powershellLiteral,
  powershellString,
  prepareVariableContext,
  rewritePowershellScript
} from "../../../src/services/jobs/variables.ts"

describe("canonicalEnvKey", () => {
  it.each([
    ["name", "NAME"],
    ["Name", "NAME"],
    ["my-var", "MY_VAR"],
    ["my var", "MY_VAR"],
    ["  padded  ", "PADDED"],
    ["a.b.c", "A_B_C"],
    ["already_OK_1", "ALREADY_OK_1"],
    ["grüße", "GR__E"],
    ["emoji😀x", "EMOJI_X"],
    ["1st", "1ST"],
    ["", ""],
    [null, ""],
    [0, ""],
    [42, "42"]
  ])("%j → %j", (input, expected) => {
    expect(canonicalEnvKey(input)).toBe(expected)
  })
})

describe("envString (stringification for the environment)", () => {
  it.each([
    [true, "True"],
    [false, "False"],
    [null, ""],
    [undefined, ""],
    ["text", "text"],
    ["", ""],
    [0, "0"],
    [42, "42"],
    [1.5, "1.5"],
    [-0.25, "-0.25"],
    [1e-7, "1e-07"],
    [[1, "a", true, null], "[1, 'a', True, None]"],
    [{ a: 1, b: "x" }, "{'a': 1, 'b': 'x'}"],
    [["it's"], '["it\'s"]']
  ])("%j → %j", (input, expected) => {
    expect(envString(input)).toBe(expected)
  })
})

describe("powershellLiteral", () => {
  it.each([
    // booleans
    [true, "boolean", "$true"],
    [false, "boolean", "$false"],
    [null, "boolean", "$false"],
    [1, "boolean", "$true"],
    [0, "boolean", "$false"],
    [0.5, "boolean", "$true"],
    ["true", "boolean", "$true"],
    ["TRUE", "boolean", "$true"],
    [" yes ", "boolean", "$true"],
    ["y", "boolean", "$true"],
    ["on", "boolean", "$true"],
    ["1", "boolean", "$true"],
    ["false", "boolean", "$false"],
    ["False", "boolean", "$false"],
    ["no", "boolean", "$false"],
    ["n", "boolean", "$false"],
    ["off", "boolean", "$false"],
    ["0", "boolean", "$false"],
    ["", "boolean", "$false"],
    ["   ", "boolean", "$false"],
    ["maybe", "boolean", "$true"],
    ["Boolean type is case-insensitive", "BOOLEAN", "$true"],
    // numbers
    [42, "number", "42"],
    [-3.5, "number", "-3.5"],
    [0, "number", "0"],
    [null, "number", "0"],
    ["", "number", "0"],
    ["17", "number", "17"],
    [" 17 ", "number", "17"],
    ["1e3", "number", "1e3"],
    ["-.5", "number", "-.5"],
    // text that is not a number is quoted instead of pasted as code
    ["1; Remove-Item C:\\", "number", "'1; Remove-Item C:\\'"],
    ["abc", "number", "'abc'"],
    [true, "number", "'True'"],
    // strings (and every other type)
    ["hello", "string", "'hello'"],
    ["it's", "string", "'it''s'"],
    ["''", "string", "''''''"],
    ["", "string", "''"],
    [null, "string", "''"],
    [42, "string", "'42'"],
    [true, "string", "'True'"],
    ["$env:PATH; $(Get-Date)", "string", "'$env:PATH; $(Get-Date)'"],
    ["line1\nline2", "string", "'line1\nline2'"],
    ["secret", "credential", "'secret'"],
    ["x", "", "'x'"],
    ["x", "unknown", "'x'"],
    // PowerShell also ends single-quoted strings at typographic quotes: doubled too
    ["it\u2019s", "string", "'it\u2019\u2019s'"],
    ["\u2018q\u201A\u201B", "string", "'\u2018\u2018q\u201A\u201A\u201B\u201B'"]
  ])("%j as %s → %s", (value, type, expected) => {
    expect(powershellLiteral(value, type)).toBe(expected)
  })

  it("powershellString doubles every single-quote character", () => {
    expect(powershellString("a'b\u2019c")).toBe("'a''b\u2019\u2019c'")
  })
})

describe("extractVariableDefault", () => {
  it.each([
    [{ value: "v", default: "d" }, "v"],
    [{ default: "d", defaultValue: "dv" }, "d"],
    [{ defaultValue: "dv", default_value: "d_v" }, "dv"],
    [{ default_value: "d_v" }, "d_v"],
    [{ value: null, default: "d" }, ""],
    [{ default: false }, false],
    [{ default: 0 }, 0],
    [{}, ""]
  ])("%j → %j", (variable, expected) => {
    expect(extractVariableDefault(variable)).toEqual(expected)
  })
})

describe("overrides", () => {
  it("script: variable_values, then variables[].value wins", () => {
    const overrides = collectScriptOverrides({
      variable_values: { A: "from-values", B: "b", " C ": "c", "": "ignored" },
      variables: [{ name: "A", value: "from-variables" }, { name: "D" }, { name: " E ", value: null }, "junk", { value: "nameless" }]
    })
    expect([...overrides]).toEqual([["A", "from-variables"], ["B", "b"], ["C", "c"], ["E", null]])
  })

  it("ansible: variable_values win over variables[].value", () => {
    const overrides = collectAnsibleOverrides({
      variable_values: { A: "from-values" },
      variables: [{ name: "A", value: "from-variables" }, { name: "B", value: 2 }]
    })
    expect([...overrides]).toEqual([["A", "from-values"], ["B", 2]])
  })

  it("no overrides in an empty component", () => {
    expect(collectScriptOverrides({}).size).toBe(0)
    expect(collectScriptOverrides({ variable_values: ["a"], variables: { name: "x" } }).size).toBe(0)
  })
})

describe("prepareVariableContext", () => {
  const none = new Map<string, unknown>()

  it("defaults, overrides and extras, with aliases", () => {
    const context = prepareVariableContext(
      [
        { name: "Server-Name", type: "string", default: "srv01" },
        { name: "Force", type: "boolean", default: false },
        { name: "Count", type: "number", defaultValue: 3 },
        { name: "Mode", type: "string" },
        { name: "  ", default: "unnamed" },
        "not a dict"
      ],
      new Map<string, unknown>([["Force", "yes"], ["Extra Value", "it's"]])
    )
    expect(context.environment).toEqual({
      SERVER_NAME: "srv01",
      FORCE: "yes",
      COUNT: "3",
      MODE: "",
      EXTRA_VALUE: "it's",
      Server_Name: "srv01",
      Force: "yes",
      Count: "3",
      Mode: "",
      Extra_Value: "it's"
    })
    // insertion order as the original's dict: canonical keys first, then aliases
    expect(Object.keys(context.environment)).toEqual([
      "SERVER_NAME",
      "FORCE",
      "COUNT",
      "MODE",
      "EXTRA_VALUE",
      "Server_Name",
      "Force",
      "Count",
      "Mode",
      "Extra_Value"
    ])
    expect(context.literals).toEqual({
      SERVER_NAME: "'srv01'",
      FORCE: "$true",
      COUNT: "3",
      MODE: "''",
      EXTRA_VALUE: "'it''s'"
    })
    expect(context.variables).toEqual([
      { name: "Server-Name", type: "string", default: "srv01" },
      { name: "Force", type: "boolean", default: false, value: "yes" },
      { name: "Count", type: "number", defaultValue: 3 },
      { name: "Mode", type: "string" },
      { name: "Extra Value", value: "it's", type: "string" }
    ])
  })

  it.each([
    ["value beats default", { name: "x", value: "v", default: "d" }, "v", "'v'"],
    ["boolean default True", { name: "x", type: "boolean", default: true }, "True", "$true"],
    ["boolean default False", { name: "x", type: "boolean", default: false }, "False", "$false"],
    ["null default", { name: "x", default: null }, "", "''"],
    ["number without default", { name: "x", type: "number" }, "", "0"],
    ["type names any case", { name: "x", type: "Boolean", default: "on" }, "on", "$true"],
    ["missing type is string", { name: "x", default: 5 }, "5", "'5'"]
  ])("%s", (_name, definition, env, literal) => {
    const context = prepareVariableContext([definition], none)
    expect(context.environment["X"]).toBe(env)
    expect(context.literals["X"]).toBe(literal)
  })

  it("an identifier name gets no extra alias; the canonical key is upper-case", () => {
    const context = prepareVariableContext([{ name: "ok_name", default: 1 }], none)
    expect(context.environment).toEqual({ OK_NAME: "1", ok_name: "1" })
  })

  it("an upper-case name is only its canonical key", () => {
    expect(prepareVariableContext([{ name: "PATH_X", default: "p" }], none).environment).toEqual({ PATH_X: "p" })
  })

  it("colliding canonical keys: the later value wins, first position kept", () => {
    const context = prepareVariableContext([{ name: "a-b", default: "first" }, { name: "a_b", default: "second" }], none)
    expect(Object.entries(context.environment)).toEqual([["A_B", "second"], ["a_b", "second"]])
  })

  it("a `__proto__` name is an ordinary key", () => {
    const context = prepareVariableContext([{ name: "__proto__", default: "x" }], none)
    expect(Object.keys(context.environment)).toEqual(["__PROTO__", "__proto__"])
    expect(context.environment["__proto__"]).toBe("x")
  })

  it("names from `key` are not definitions here (the document normaliser maps them)", () => {
    expect(prepareVariableContext([{ key: "x", default: "1" }], none).environment).toEqual({})
  })
})

describe("rewritePowershellScript", () => {
  const literals = { NAME: "'World'", FORCE: "$true", MY_VAR: "'m'", COUNT: "3" }
  it.each([
    ["bare reference", "Write-Output $env:NAME", "Write-Output 'World'"],
    ["braced reference", "Write-Output $env:{NAME}", "Write-Output 'World'"],
    ["any case", "$ENV:name; $Env:Name; $env:nAmE", "'World'; 'World'; 'World'"],
    ["dash in the name maps to the canonical key", "$env:MY-VAR", "'m'"],
    ["underscore form", "$env:my_var", "'m'"],
    ["several in one line", "if ($env:FORCE) { $env:COUNT }", "if ($true) { 3 }"],
    ["unknown names stay", "$env:PATH and $env:{TEMP}", "$env:PATH and $env:{TEMP}"],
    ["unclosed brace stays", "$env:{NAME", "$env:{NAME"],
    ["trailing brace without opening stays after the literal", "$env:NAME}", "'World'}"],
    ["inside a double-quoted string (as the original)", "\"Hello $env:NAME\"", "\"Hello 'World'\""],
    ["no match without a colon", "$envNAME", "$envNAME"],
    ["name stops at other characters", "$env:NAME.Length", "'World'.Length"],
    ["literal with $ is inserted verbatim", "$env:NAME", "'World'"],
    ["empty script", "", ""]
  ])("%s", (_name, script, expected) => {
    expect(rewritePowershellScript(script, literals)).toBe(expected)
  })

  it("a literal containing $& or $1 is not a replacement pattern", () => {
    expect(rewritePowershellScript("x $env:A y", { A: "'$&$1'" })).toBe("x '$&$1' y")
  })

  it("nothing to rewrite without literals", () => {
    expect(rewritePowershellScript("$env:NAME", {})).toBe("$env:NAME")
  })

  it("end to end: values → literals → rewrite", () => {
    const context = prepareVariableContext(
      [{ name: "Target Path", type: "string", default: "C:\\Temp" }, { name: "Restart", type: "boolean" }],
      new Map([["Restart", "1"]])
    )
    expect(rewritePowershellScript("Remove-Item $env:TARGET_PATH -Recurse:$env:{Restart}", context.literals)).toBe(
      "Remove-Item 'C:\\Temp' -Recurse:$true"
    )
  })
})
