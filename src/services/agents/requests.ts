// What an authenticated agent reports over REST, as one schema per route: the API declares them (so
// the OpenAPI document shows every field an agent may send) and the HTTP edge decodes with them. Each
// field reads the way the original reads it (`clean_device_str`, `if value:`, `int()`, "a list", "a
// dict") and none refuses a body: a value that is not what it should be is ignored, as the original
// ignores it. The answers that are errors (a bad hostname, `details` missing) stay in AgentInventory,
// where they come in the original's order, after the device is found.
// spec: realtime-jobs.md §2.2; config-bootstrap-tests.md §6.8
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as AST from "effect/SchemaAST"
import * as Schema from "effect/Schema"
import { capText } from "../devices/identity.ts"
import { Lenient, lenientDecoder, lenientStruct, piece } from "../lenientSchema.ts"
import { isRecord, pyInt, pyTruthy } from "../pyValues.ts"

/** Longest agent-reported text kept per column (OS names, users, addresses, …). */
const MAX_FIELD_CHARS = 1024

/** `clean_device_str`: a trimmed non-empty string (numbers rendered), capped, else undefined. */
export const cleanStr = (value: unknown): string | undefined => {
  if (value === undefined || value === null || typeof value === "object") return undefined
  const s = String(value).trim()
  return s === "" ? undefined : capText(s, MAX_FIELD_CHARS)
}

const ok = Either.right
const UnknownRecord = Schema.Record({ key: Schema.String, value: Schema.Unknown })

/** What the OpenAPI document says of a field (on the defined member: a union's own note is not shown). */
const doc = (description: string | undefined) => (description === undefined ? {} : { description })

/** `clean_device_str(value)`: any scalar, rendered and trimmed (`false` reads as "false"). */
const cleanText = (description?: string) =>
  piece(Schema.UndefinedOr(Schema.String.annotations(doc(description))), (value) => ok(cleanStr(value)))

/** `if value: clean_device_str(value)`: the same, but a falsy value (`0`, `false`, "") is not a report. */
const reportedText = (description?: string) =>
  piece(Schema.UndefinedOr(Schema.String.annotations(doc(description))), (value) => ok(pyTruthy(value) ? cleanStr(value) : undefined))

/** A JSON list, else undefined. */
const list = (description: string) =>
  piece(Schema.UndefinedOr(Schema.Array(Schema.Unknown).annotations(doc(description))), (value) => ok(Array.isArray(value) ? value : undefined))

/** A JSON object, else undefined. */
const object = (description: string) =>
  piece(Schema.UndefinedOr(UnknownRecord.annotations(doc(description))), (value) => ok(isRecord(value) ? value : undefined))

/**
 * An integer read from a key that may be followed by an alias (`uptime_sec or uptime_seconds or
 * uptime`, as `a ?? b ?? c` on the raw values): `undefined` when absent or null (the next alias counts),
 * `null` when sent but not an integer (no alias counts, no value either), else `int(value)`.
 */
const sentInt = piece(
  Schema.UndefinedOr(Schema.NullOr(Schema.Number.annotations({ description: "seconds (an integer, or text of one)" }))),
  (value) => ok(value === undefined || value === null ? undefined : pyInt(value) ?? null)
)

/**
 * The typed side of a nested struct, with a note for the OpenAPI document: a lenient struct documents
 * itself through a `jsonSchema` annotation, which would hide a plain description, so the note goes in it.
 */
const typedWithNote = <A, I>(struct: Schema.Schema<A, I>, description: string | undefined) => {
  const typed = Schema.typeSchema(struct)
  if (description === undefined) return typed
  const own = Option.getOrElse(AST.getJSONSchemaAnnotation(typed.ast), () => ({}))
  return typed.annotations({ jsonSchema: { ...own, description } })
}

/** A JSON object read with `struct`'s pieces; anything else reads as `{}`. The decoder is compiled once. */
const objectOf = <A, I>(struct: Schema.Schema<A, I>, description?: string) => {
  const decode = lenientDecoder(struct)
  return piece(typedWithNote(struct, description), (value) => decode(isRecord(value) ? value : {}))
}

/** A JSON object read with `struct`'s pieces, or `undefined` when something else was sent. */
const objectOrUndefinedOf = <A, I>(struct: Schema.Schema<A, I>, description: string) => {
  const decode = lenientDecoder(struct)
  return piece(
    Schema.UndefinedOr(typedWithNote(struct, description)),
    (value): Either.Either<A | undefined, string> => (isRecord(value) ? decode(value) : ok(undefined))
  )
}

const HeartbeatMetrics = lenientStruct({
  hostname: cleanText("used when the report has no top-level hostname"),
  last_user: reportedText(),
  username: reportedText("stands in for a missing last_user"),
  user: reportedText("stands in for a missing last_user and username"),
  operating_system: reportedText(),
  uptime: Lenient.int,
  agent_id: reportedText()
}, "HeartbeatMetrics")

const HeartbeatInventory = lenientStruct({
  memory: list("stored as sent (JSON), when it is a list"),
  network: list("stored as sent (JSON), when it is a list"),
  software: list("stored as sent (JSON), when it is a list"),
  storage: list("stored as sent (JSON), when it is a list"),
  cpu: object("stored as sent (JSON), when it is an object")
}, "HeartbeatInventory")

/** POST /api/agent/heartbeat. */
export const HeartbeatReport = lenientStruct({
  hostname: cleanText("the device's current name: a different one renames the device (≤ 253 characters)"),
  metrics: objectOf(HeartbeatMetrics, "what the agent measured; anything but an object reads as {}"),
  inventory: objectOf(HeartbeatInventory, "hardware and software lists; anything but an object reads as {}"),
  external_ip: cleanText(),
  internal_ip: cleanText(),
  device_type: cleanText()
}, "HeartbeatReport")
export type HeartbeatReport = typeof HeartbeatReport.Type

/** `details.summary`: each column with the aliases the original accepts, first one reported wins. */
export const DetailsSummary = lenientStruct({
  hostname: cleanText("used when the report has no top-level hostname"),
  description: cleanText(),
  agent_id: cleanText("preferred to the top-level agent_id"),
  device_type: reportedText(),
  type: reportedText("alias of device_type"),
  device_class: reportedText("alias of device_type"),
  domain: reportedText(),
  domain_name: reportedText("alias of domain"),
  external_ip: reportedText(),
  public_ip: reportedText("alias of external_ip"),
  internal_ip: reportedText(),
  private_ip: reportedText("alias of internal_ip"),
  last_reboot: reportedText(),
  last_boot: reportedText("alias of last_reboot"),
  last_user: reportedText(),
  last_user_name: reportedText("alias of last_user"),
  logged_in_user: reportedText("alias of last_user"),
  username: reportedText("alias of last_user"),
  user: reportedText("alias of last_user"),
  operating_system: reportedText(),
  agent_operating_system: reportedText("alias of operating_system"),
  os: reportedText("alias of operating_system"),
  uptime_sec: sentInt,
  uptime_seconds: sentInt,
  uptime: sentInt,
  ansible_ee_ver: reportedText(),
  cpu: object("merged into the stored CPU document (preferred to details.cpu)")
}, "DetailsSummary")
export type DetailsSummary = typeof DetailsSummary.Type

const DetailsInventory = lenientStruct({
  summary: objectOf(DetailsSummary, "the device's columns; anything but an object reads as {}"),
  memory: list("replaces the stored list when non-empty"),
  network: list("replaces the stored list when non-empty"),
  software: list("replaces the stored list when non-empty"),
  storage: list("replaces the stored list when non-empty"),
  cpu: object("merged into the stored CPU document")
}, "DetailsInventory")

/** POST /api/agent/details. */
export const DetailsReport = lenientStruct({
  hostname: cleanText("the device's current name (else details.summary.hostname); one of them is required"),
  agent_hash: cleanText(),
  agent_id: cleanText(),
  details: objectOrUndefinedOf(DetailsInventory, "required: without it the answer is 400 invalid_payload")
}, "DetailsReport")
export type DetailsReport = typeof DetailsReport.Type
