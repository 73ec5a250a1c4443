// The job request schemas and the rules that judge them, without a database: every wire code, and
// which one wins when several fields are wrong (the order the original checks them in).
// spec: realtime-jobs.md §4.1, §5.2, §5.3, §2.3, §2.4
import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import { lenientDecoder } from "../../../src/services/lenientSchema.ts"
import { checkCreate, checkUpdate, NO_FIELDS, REQUIRED_FIELDS } from "../../../src/services/jobs/jobInput.ts"
import type { JobRow } from "../../../src/services/jobs/JobsRepo.ts"
import { jobRow } from "./fixtures.ts"
import {
  AnsibleRecap,
  JobCreate,
  JobReport,
  JobStatusRequest,
  JobToggle,
  JobUpdate,
  MISSING_QUICK_RUN_FIELDS,
  PlaybookCancelRelay,
  PlaybookRunRelay,
  QuickRun,
  RUN_ID_REQUIRED
} from "../../../src/services/jobs/requests.ts"

const ZONE = "UTC"
const decodeCreate = lenientDecoder(JobCreate)
const decodeUpdate = lenientDecoder(JobUpdate)

/** What POST /api/scheduled_jobs decides from a body: the edge's decode, then the rules. */
const create = (body: unknown) => Either.flatMap(decodeCreate(body), (b) => checkCreate(b, ZONE))
/** What PUT decides for a body against the stored job. */
const update = (body: unknown, current: JobRow = stored) => Either.flatMap(decodeUpdate(body), (b) => checkUpdate(b, current, ZONE))
const errorOf = <A>(result: Either.Either<A, string>) => Either.match(result, { onLeft: (e) => e, onRight: () => "ok" })

const components = [{ type: "script", path: "Scripts/clean.json" }]
const body = (overrides: Record<string, unknown> = {}) => ({
  name: "Nightly",
  components,
  targets: ["host-1"],
  schedule: { type: "daily", start: "2030-01-01T02:00:00Z" },
  ...overrides
})

const stored = jobRow({
  components_json: JSON.stringify(components),
  schedule_type: "daily",
  start_ts: Date.parse("2030-01-01T02:00:00Z") / 1000
})

describe("JobCreate + checkCreate", () => {
  it("a UI body becomes every column, with the legacy defaults", () => {
    expect(create(body())).toEqual(Either.right({
      name: "Nightly",
      components_json: JSON.stringify(components),
      targets_json: "[\"host-1\"]",
      schedule_type: "daily",
      start_ts: Date.parse("2030-01-01T02:00:00Z") / 1000,
      duration_stop_enabled: 0,
      expiration: "no_expire",
      execution_context: "system",
      credential_id: null,
      use_service_account: 0,
      enabled: 1,
      timezone: null
    }))
    expect(create({
      name: "  Padded  ",
      components,
      targets: [" host-1 ", "HOST-1", 42, ""],
      schedule_type: "Every_Hour",
      start: 1_900_000_000,
      duration: { stopAfterEnabled: 1, expiration: "2H" },
      execution_context: " WinRM ",
      credential_id: "7",
      enabled: 0,
      timezone: "europe/berlin"
    })).toEqual(Either.right(expect.objectContaining({
      name: "Padded",
      targets_json: "[\"host-1\",\"42\"]",
      schedule_type: "every_hour",
      start_ts: 1_900_000_000,
      duration_stop_enabled: 1,
      expiration: "2h",
      execution_context: "winrm",
      credential_id: 7,
      use_service_account: 1,
      enabled: 0,
      timezone: "Europe/Berlin"
    })))
  })

  it.each([
    [{}, REQUIRED_FIELDS],
    [body({ name: "  " }), REQUIRED_FIELDS],
    [body({ components: [] }), REQUIRED_FIELDS],
    [body({ targets: ["  "] }), REQUIRED_FIELDS],
    [body({ name: 42 }), "name must be text"],
    [body({ name: "x".repeat(513) }), "name is too long (at most 512 characters)"],
    [body({ components: "Scripts/x.json" }), "components must be a list"],
    [body({ components: Array(65).fill(components[0]) }), "too many components (at most 64)"],
    [body({ components: ["Scripts/x.json"] }), "component 1 must be an object"],
    [body({ components: [...components, { type: "workflow" }] }), "Unsupported component type 'workflow'"],
    [body({ components: [{ type: 5 }] }), "Unsupported component type '5'"],
    [body({ components: [{ type: "script" }] }), "Missing script_path"],
    [body({ components: [{ type: "ansible" }] }), "Missing playbook_path"],
    [body({ components: [{ type: "script", path: "../../etc/passwd" }] }), "invalid component path '../../etc/passwd'"],
    [body({ targets: "host-1" }), "targets must be a list of hostnames"],
    [body({ targets: [{ kind: "filter" }] }), "targets must be a list of hostnames"],
    [body({ targets: ["x".repeat(256)] }), "targets must be a list of hostnames"],
    [body({ targets: Array.from({ length: 10_001 }, (_, i) => `h${i}`) }), "too many targets (at most 10000)"],
    [body({ timezone: 3 }), "timezone must be an IANA zone name such as Europe/Berlin"],
    [body({ timezone: "Mars/Olympus_Mons" }), "invalid timezone 'Mars/Olympus_Mons' (expected an IANA zone such as Europe/Berlin)"],
    [body({ schedule: { type: "fortnightly", start: "2030-01-01T00:00:00Z" } }), "invalid schedule type"],
    [body({ schedule: { type: 5 } }), "invalid schedule type"],
    [body({ schedule: {}, schedule_type: ["daily"] }), "invalid schedule type"],
    [body({ schedule: { type: "every_5_minutes" } }), "start is required for this schedule type"],
    [body({ schedule: { type: "once", start: "next tuesday" } }), "invalid schedule start"],
    [body({ schedule: { type: "daily", start: true } }), "invalid schedule start"],
    [body({ schedule: { type: "daily", start: "2030-02-30T00:00:00Z" } }), "invalid schedule start"],
    [body({ duration: { expiration: "soon" } }), "invalid expiration"],
    [body({ expiration: 5 }), "invalid expiration"],
    [body({ execution_context: ["system"] }), "invalid execution_context"]
  ])("case %# → %s", (input, error) => expect(errorOf(create(input))).toBe(error))

  it("the first failing check wins, in the original's order", () => {
    const cases: ReadonlyArray<readonly [Record<string, unknown>, string]> = [
      [{ name: 42, components: "x", targets: "y" }, "name must be text"],
      [{ components: "x", targets: "y" }, "components must be a list"],
      [{ targets: "y", timezone: 3 }, "targets must be a list of hostnames"],
      // the required-fields rule comes after the three fields, before everything else
      [{ name: "", timezone: 3, schedule: { type: 5 }, execution_context: [] }, REQUIRED_FIELDS],
      [body({ timezone: 3, schedule: { type: 5 } }), "timezone must be an IANA zone name such as Europe/Berlin"],
      [body({ schedule: { type: 5, start: true } }), "invalid schedule type"],
      [body({ schedule: { type: "daily", start: true }, duration: { expiration: "soon" } }), "invalid schedule start"],
      [body({ schedule: { type: "every_5_minutes" }, expiration: "soon" }), "start is required for this schedule type"],
      [body({ duration: { expiration: "soon" }, execution_context: [] }), "invalid expiration"]
    ]
    for (const [input, error] of cases) expect([input, errorOf(create(input))]).toEqual([input, error])
  })

  it("aliases: schedule.type over schedule_type when truthy, duration.expiration over expiration when truthy", () => {
    const columns = (input: Record<string, unknown>) => Either.getOrThrow(create(input))
    expect(columns(body({ schedule: { type: "", start: "2030-01-01T02:00:00Z" }, schedule_type: "weekly" })).schedule_type).toBe("weekly")
    // a blank but truthy type is taken, and means the default
    expect(columns(body({ schedule: { type: " " }, schedule_type: "weekly" })).schedule_type).toBe("immediately")
    expect(columns(body({ schedule: { type: "once" }, start: "2030-01-01T00:00:00Z" })).start_ts).toBe(Date.parse("2030-01-01T00:00:00Z") / 1000)
    expect(columns(body({ duration: { expiration: "" }, expiration: "30m" })).expiration).toBe("30m")
    expect(columns(body({ duration: { expiration: "1d" }, expiration: "soon" })).expiration).toBe("1d")
    // an offset-less start is wall time in the job's zone
    expect(columns(body({ schedule: { type: "once", start: "2030-01-01T09:00:00" }, timezone: "America/New_York" })).start_ts)
      .toBe(Date.parse("2030-01-01T14:00:00Z") / 1000)
    expect(columns(body({ credential_id: "null", use_service_account: true })).credential_id).toBe(null)
  })
})

describe("JobUpdate + checkUpdate", () => {
  it("only the named fields change", () => {
    expect(update({ name: "  Renamed " })).toEqual(Either.right({ name: "Renamed" }))
    expect(update({ enabled: 0, credential_id: "7" })).toEqual(Either.right({ enabled: 0, credential_id: 7 }))
    expect(update({ schedule_type: null })).toEqual(Either.right({ schedule_type: "immediately", start_ts: null }))
    expect(update({ timezone: "Europe/Berlin" })).toEqual(Either.right({ timezone: "Europe/Berlin" }))
    expect(update({ duration: {} })).toEqual(Either.right({ duration_stop_enabled: 0 }))
    expect(update({ duration: { expiration: "" } })).toEqual(Either.right({ duration_stop_enabled: 0, expiration: "no_expire" }))
    expect(update({ expiration: "2h" })).toEqual(Either.right({ expiration: "2h" }))
  })

  it("the service account follows the execution context (later Engine)", () => {
    expect(update({ execution_context: "winrm" })).toEqual(Either.right({ execution_context: "winrm", use_service_account: 1 }))
    expect(update({ execution_context: "winrm", use_service_account: false })).toEqual(Either.right({ execution_context: "winrm", use_service_account: 0 }))
    expect(update({ use_service_account: true })).toEqual(Either.right({ use_service_account: 0 }))
    expect(update({ use_service_account: true }, { ...stored, execution_context: "winrm" })).toEqual(Either.right({ use_service_account: 1 }))
  })

  it("the schedule is judged against the stored job: its zone, its start", () => {
    expect(update({ schedule: { type: "every_5_minutes" } })).toEqual(Either.left("start is required for this schedule type"))
    expect(update({ schedule: { type: "weekly", start: "2030-01-06T09:00:00" } }, { ...stored, timezone: "America/New_York" }))
      .toEqual(Either.right({ schedule_type: "weekly", start_ts: Date.parse("2030-01-06T14:00:00Z") / 1000 }))
    // a zone alone re-checks the stored schedule
    expect(update({ timezone: null }, { ...stored, start_ts: null })).toEqual(Either.left("start is required for this schedule type"))
  })

  it.each([
    [{}, NO_FIELDS],
    [{ name: null }, "name required"],
    [{ name: "  " }, "name required"],
    [{ name: 5 }, "name must be text"],
    [{ components: [] }, "components required"],
    [{ components: "x" }, "components must be a list"],
    [{ targets: [] }, "targets required"],
    [{ targets: 5 }, "targets must be a list of hostnames"],
    [{ timezone: 3 }, "timezone must be an IANA zone name such as Europe/Berlin"],
    [{ schedule: { type: "x" } }, "invalid schedule type"],
    [{ schedule_type: "daily", start: "soon" }, "invalid schedule start"],
    [{ expiration: "soon" }, "invalid expiration"],
    [{ duration: { expiration: "" }, expiration: "soon" }, "invalid expiration"],
    [{ execution_context: 5 }, "invalid execution_context"]
  ])("case %# → %s", (input, error) => expect(errorOf(update(input))).toBe(error))

  it("the first failing check wins, in the original's order", () => {
    const cases: ReadonlyArray<readonly [Record<string, unknown>, string]> = [
      [{ name: "", components: "x" }, "name required"],
      [{ components: [], targets: 5 }, "components required"],
      [{ targets: [], timezone: 3 }, "targets required"],
      [{ timezone: 3, schedule: { type: "x" } }, "timezone must be an IANA zone name such as Europe/Berlin"],
      [{ schedule: { type: "x" }, expiration: "soon" }, "invalid schedule type"],
      [{ expiration: "soon", execution_context: 5 }, "invalid expiration"]
    ]
    for (const [input, error] of cases) expect([input, errorOf(update(input))]).toEqual([input, error])
  })

  it("no field fails at the edge: the job is found and owned before the body is judged", () => {
    for (const input of [{ name: 5 }, { components: "x" }, { timezone: 3 }, { schedule: { type: 5 } }, { execution_context: [] }]) {
      expect(Either.isRight(decodeUpdate(input))).toBe(true)
    }
  })
})

describe("JobToggle", () => {
  const decode = lenientDecoder(JobToggle)
  it("enabled by truthiness; absent enables", () => {
    expect([{}, { enabled: true }, { enabled: "no" }, { enabled: 1 }].map((b) => Either.getOrThrow(decode(b)).enabled)).toEqual([true, true, true, true])
    expect([{ enabled: false }, { enabled: 0 }, { enabled: "" }, { enabled: null }, { enabled: [] }].map((b) => Either.getOrThrow(decode(b)).enabled))
      .toEqual([false, false, false, false, false])
  })
})

describe("QuickRun", () => {
  const decode = lenientDecoder(QuickRun)
  const many = Array.from({ length: 10_001 }, (_, i) => `h${i}`)
  it.each([
    [{}, MISSING_QUICK_RUN_FIELDS],
    [{ script_path: "  ", hostnames: ["a"] }, MISSING_QUICK_RUN_FIELDS],
    [{ script_path: 5, hostnames: ["a"] }, MISSING_QUICK_RUN_FIELDS],
    [{ script_path: "x" }, MISSING_QUICK_RUN_FIELDS],
    [{ script_path: "x", hostnames: "a" }, MISSING_QUICK_RUN_FIELDS],
    [{ script_path: "x", hostnames: [] }, MISSING_QUICK_RUN_FIELDS],
    [{ script_path: "x", hostnames: [" ", ""] }, MISSING_QUICK_RUN_FIELDS],
    [{ script_path: "x", hostnames: ["a", { host: "b" }] }, MISSING_QUICK_RUN_FIELDS],
    [{ script_path: "x", hostnames: many }, "too many hostnames (at most 10000)"],
    // the path is checked first
    [{ script_path: "", hostnames: many }, MISSING_QUICK_RUN_FIELDS]
  ])("case %# → %s", (input, error) => expect(decode(input)).toEqual(Either.left(error)))

  it("reads hosts once each, the run mode, and overrides only when they are an object", () => {
    expect(decode({ script_path: " Scripts/a.json ", hostnames: ["A", " a ", 7, "b"], run_mode: " Current_User " })).toEqual(Either.right({
      script_path: "Scripts/a.json",
      hostnames: ["A", "7", "b"],
      run_mode: "current_user",
      variable_values: undefined
    }))
    expect(Either.getOrThrow(decode({ script_path: "a", hostnames: ["a"], run_mode: 5, variable_values: [1] }))).toMatchObject({ run_mode: "system", variable_values: undefined })
    expect(Either.getOrThrow(decode({ script_path: "a", hostnames: ["a"], variable_values: { x: 1 } })).variable_values).toEqual({ x: 1 })
  })
})

describe("AnsibleRecap", () => {
  const decode = lenientDecoder(AnsibleRecap)
  it("run_id: required, at most 128 characters", () => {
    expect(decode({ hostname: "h" })).toEqual(Either.left(RUN_ID_REQUIRED))
    expect(decode({ run_id: "   " })).toEqual(Either.left(RUN_ID_REQUIRED))
    expect(decode({ run_id: "x".repeat(129) })).toEqual(Either.left("run_id is invalid"))
    expect(Either.getOrThrow(decode({ run_id: 12 })).run_id).toBe("12")
  })

  it("reads the progress fields as the original did", () => {
    expect(decode({ run_id: " r1 ", hostname: " host ", status: "", recap_text: 5, recap_json: { ok: 2 }, started_ts: "17", finished_ts: "x", agent_id: 0 }))
      .toEqual(Either.right({
        run_id: "r1",
        hostname: "host",
        agent_id: null,
        status: null,
        recap_text: null,
        recap_json: "{\"ok\":2}",
        started_ts: 17,
        finished_ts: null
      }))
    expect(Either.getOrThrow(decode({ run_id: "r", recap_json: "{\"a\":1}", recap_text: "PLAY RECAP" }))).toMatchObject({ recap_json: "{\"a\":1}", recap_text: "PLAY RECAP" })
  })
})

describe("socket payloads", () => {
  it("quick_job_result / progress: a job_id that is not an integer is dropped with that reason", () => {
    const decode = lenientDecoder(JobReport)
    for (const job_id of [undefined, "abc", 1.5, 0, -3, true, [1], "1e3"]) expect(decode({ job_id, status: "Success" })).toEqual(Either.left("job_id not an integer"))
    expect(decode({ job_id: " 12 ", status: " success ", stdout: 5, stderr: null, append_output: "yes", context: { scheduled_job_id: "3", scheduled_job_run_id: "x" } }))
      .toEqual(Either.right({
        job_id: 12,
        status: "success",
        stdout: "5",
        stderr: undefined,
        append_output: true,
        context: { scheduled_job_id: 3, scheduled_job_run_id: undefined }
      }))
    expect(Either.getOrThrow(decode({ job_id: 1, context: "x" })).context).toBe(undefined)
  })

  it("job_status_request: a bad job_id is not dropped (the service answers {error})", () => {
    const decode = lenientDecoder(JobStatusRequest)
    expect(decode({ job_id: "abc" })).toEqual(Either.right({ job_id: undefined }))
    expect(decode({ job_id: "4" })).toEqual(Either.right({ job_id: 4 }))
  })

  it("playbook relays read only non-blank text and drop nothing", () => {
    expect(lenientDecoder(PlaybookRunRelay)({ target_hostname: " ", run_id: "r1", playbook_name: 5 }))
      .toEqual(Either.right({ target_hostname: undefined, run_id: "r1", playbook_name: undefined }))
    expect(lenientDecoder(PlaybookCancelRelay)({})).toEqual(Either.right({ run_id: undefined }))
  })
})
