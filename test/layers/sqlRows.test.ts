// Row schemas read SQLite and PostgreSQL alike; BulkRows takes SQLite's already-typed rows as they
// are and decodes anything else row by row.
import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import * as Row from "../../src/layers/sqlRows.ts"

const JobRow = Schema.Struct({ id: Row.Num, name: Row.Nullable(Row.Text), enabled: Row.Nullable(Row.Bool), at: Row.TimestampText })
const decode = Schema.decodeUnknownEither(Row.BulkRows(JobRow))

describe("BulkRows", () => {
  it("keeps rows whose columns already have their decoded types, as they are", () => {
    const rows = [{ id: 1, name: "a", enabled: true, at: "2030-01-01" }, { id: 2, name: null, enabled: null, at: "x" }]
    expect(Either.getOrThrow(decode(rows))).toBe(rows)
  })

  it("decodes other dialects' values row by row (int8 strings, bigints, 0/1, dates)", () => {
    const rows = [{ id: "7", name: "a", enabled: 1, at: new Date(Date.UTC(2030, 0, 1)), extra: 1 }, { id: 8n, name: null, enabled: "f", at: "y" }]
    expect(Either.getOrThrow(decode(rows))).toEqual([
      { id: 7, name: "a", enabled: true, at: "2030-01-01T00:00:00.000Z" },
      { id: 8, name: null, enabled: false, at: "y" }
    ])
  })

  it("columns of other types are tested with the row schema's own test", () => {
    const decodeBlobs = Schema.decodeUnknownEither(Row.BulkRows(Schema.Struct({ id: Row.Num, blob: Row.Nullable(Row.Bytes) })))
    const rows = [{ id: 1, blob: new Uint8Array([1]) }, { id: 2, blob: null }]
    expect(Either.getOrThrow(decodeBlobs(rows))).toBe(rows)
    expect(Either.isLeft(decodeBlobs([{ id: 1, blob: "x" }]))).toBe(true)
  })

  it("refuses what the row schema refuses", () => {
    expect(Either.isLeft(decode([{ id: "seven", name: "a", enabled: true, at: "x" }]))).toBe(true)
    expect(Either.isLeft(decode([{ id: 1, name: 5, enabled: true, at: "x" }]))).toBe(true)
    expect(Either.isLeft(decode([null]))).toBe(true)
    expect(Either.getOrThrow(decode([]))).toEqual([])
  })
})
