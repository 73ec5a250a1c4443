// The assembly request schemas read each field as the original's handlers did (a string trimmed,
// anything else empty; `kind` lower-cased; `content` as sent) and never refuse a body: the library
// answers every case itself.
import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import { lenientDecoder } from "../../../src/services/lenientSchema.ts"
import { AssemblyCreate, AssemblyDelete, AssemblyEdit, AssemblyMove, AssemblyRename } from "../../../src/services/assemblies/requests.ts"

describe("assembly bodies", () => {
  it("create: fields trimmed, kind lower-cased, content as sent, a type hint only when it is text", () => {
    expect(lenientDecoder(AssemblyCreate)({ island: " Scripts ", kind: " FILE ", path: " a/b ", content: { script: "x" }, type: "bash" }))
      .toEqual(Either.right({ island: "Scripts", kind: "file", path: "a/b", content: { script: "x" }, type: "bash" }))
    expect(lenientDecoder(AssemblyCreate)({ island: 5, kind: ["file"], path: null, type: 3 }))
      .toEqual(Either.right({ island: "", kind: "", path: "", content: undefined, type: undefined }))
  })

  it("edit, rename, move, delete", () => {
    expect(lenientDecoder(AssemblyEdit)({ island: "scripts", path: "a.json", content: "{}" }))
      .toEqual(Either.right({ island: "scripts", path: "a.json", content: "{}", type: undefined }))
    expect(lenientDecoder(AssemblyRename)({ island: "scripts", kind: "Folder", path: "a", new_name: " b " }))
      .toEqual(Either.right({ island: "scripts", kind: "folder", path: "a", new_name: "b", type: undefined }))
    expect(lenientDecoder(AssemblyMove)({ island: "scripts", path: "a", new_path: 7 }))
      .toEqual(Either.right({ island: "scripts", path: "a", new_path: "", kind: "" }))
    expect(lenientDecoder(AssemblyDelete)({})).toEqual(Either.right({ island: "", path: "", kind: "" }))
  })
})
