// What an Admin sends to change the script library, one schema per body: the API declares them
// (`setPayload`) and the HTTP edge decodes with them. Fields read as the original reads them
// (`(data.get(k) or "").strip()` on strings; anything else is empty); none fails here: the library
// answers each case itself (invalid island, path required, invalid kind…), in its own order.
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { documentRequired, lenientStruct, piece, read } from "../lenientSchema.ts"

const trimmed = (value: unknown): string => (typeof value === "string" ? value.trim() : "")

const text = (description: string) => piece(Schema.String.annotations({ description }), (value) => Either.right(trimmed(value)))

const island = text("workflows | scripts | ansible (aliases: workflow, script, ansible_playbooks, ansible-playbooks, playbooks)")
const path = text("a path inside the island (`/`-separated)")
const kind = piece(Schema.String.annotations({ description: "file | folder" }), (value) => Either.right(trimmed(value).toLowerCase()))
const content = piece(Schema.Unknown.annotations({ description: "the document: an object or its JSON text" }), (value) => Either.right(value))
// the description sits on the string: the document leaves the undefined member out, and its annotations with it
const type = piece(Schema.UndefinedOr(Schema.String.annotations({ description: "script type hint (powershell, bash, …)" })), read.stringOrUndefined)

// Required in the document: the library refuses a body without them (invalid island, path required…).
export const AssemblyCreate = documentRequired(lenientStruct({ island, kind, path, content, type }, "AssemblyCreate"), ["island", "kind", "path"])
export const AssemblyEdit = documentRequired(lenientStruct({ island, path, content, type }, "AssemblyEdit"), ["island", "path"])
export const AssemblyRename = documentRequired(
  lenientStruct({ island, kind, path, new_name: text("the new name (a file gets `.json` when it has no extension)"), type }, "AssemblyRename"),
  ["island", "kind", "path", "new_name"]
)
export const AssemblyMove = documentRequired(
  lenientStruct({ island, path, new_path: text("the destination (into an existing folder keeps the name)"), kind }, "AssemblyMove"),
  ["island", "path", "new_path"]
)
export const AssemblyDelete = documentRequired(lenientStruct({ island, path, kind }, "AssemblyDelete"), ["island", "path", "kind"])
