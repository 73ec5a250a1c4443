import { describe, expect, it } from "@effect/vitest"
import { field, pyInt, pyRepr, pyStr, pyText, pyTruthy } from "../../src/services/pyValues.ts"

describe("Python builtins on JSON values", () => {
  it.each([
    [null, false],
    [false, false],
    [0, false],
    ["", false],
    [[], false],
    [{}, false],
    [" ", true],
    ["0", true],
    [1, true],
    [[0], true],
    [{ a: 1 }, true]
  ])("bool(%j) = %s", (value, expected) => {
    expect(pyTruthy(value)).toBe(expected)
  })

  it.each([
    ["s", "s"],
    [null, "None"],
    [true, "True"],
    [false, "False"],
    [7, "7"],
    [-7.25, "-7.25"],
    [1e-7, "1e-07"],
    [[1, [2, "x"]], "[1, [2, 'x']]"],
    [{ k: null, "it's": false }, "{'k': None, \"it's\": False}"],
    [["a\nb\\"], "['a\\nb\\\\']"]
  ])("str(%j) = %s", (value, expected) => {
    expect(pyStr(value)).toBe(expected)
  })

  it("repr of a string quotes it", () => {
    expect(pyRepr("x")).toBe("'x'")
    expect(pyRepr("\u0001")).toBe("'\\x01'")
  })

  it.each([
    [null, ""],
    [0, ""],
    ["  a  ", "a"],
    [5, "5"],
    [true, "True"]
  ])("str(x or '').strip() of %j = %j", (value, expected) => {
    expect(pyText(value)).toBe(expected)
  })

  it.each([
    [5, 5],
    [5.9, 5],
    [-5.9, -5],
    [true, 1],
    [false, 0],
    ["42", 42],
    [" -3 ", -3],
    ["+7", 7],
    ["1_000", 1000],
    ["1.5", undefined],
    ["", undefined],
    ["abc", undefined],
    [null, undefined],
    [[], undefined],
    [Number.POSITIVE_INFINITY, undefined]
  ])("int(%j) = %s", (value, expected) => {
    expect(pyInt(value)).toBe(expected)
  })

  it("field never reads the prototype chain", () => {
    expect(field({}, "toString")).toBeUndefined()
    expect(field({ a: 1 }, "a")).toBe(1)
  })
})
