// spec: config-bootstrap-tests.md §6.11 (test_http_sites_devices.py), over HTTPS, logged in (these
// routes are guarded here; the original left them open).
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { startEngine } from "../../support/engine.ts"
import { auditRows, login, withDb } from "../../support/operators.ts"

const promise = <A>(f: () => Promise<A>) => Effect.promise(f)

const insertDevice = (file: string, columns: Record<string, unknown>) =>
  withDb(file, (db) => {
    const names = Object.keys(columns)
    db.prepare(`INSERT INTO devices (${names.join(", ")}) VALUES (${names.map(() => "?").join(", ")})`).run(...names.map((n) => columns[n] as never))
  })

describe("sites (test_sites_crud_flow)", () => {
  it.scoped("create, list, assign, device map, rename, delete", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const client = engine.client()
      yield* promise(() => login(client))
      const empty = yield* promise(() => client.get("/api/sites"))
      expect(empty.status).toBe(200)
      expect(empty.json).toEqual({ sites: [] })
      const created = yield* promise(() => client.post("/api/sites", { name: "HQ", description: "Primary" }))
      expect(created.status).toBe(201)
      expect(created.json).toMatchObject({ name: "HQ", description: "Primary", device_count: 0 })
      expect(created.json.created_at).toBeGreaterThan(0)
      const id = created.json.id as number
      const listed = yield* promise(() => client.get("/api/sites"))
      expect(listed.json.sites).toHaveLength(1)
      const assign = yield* promise(() => client.post("/api/sites/assign", { site_id: id, hostnames: ["device-1"] }))
      expect(assign.status).toBe(200)
      expect(assign.json).toEqual({ status: "ok" })
      const map = yield* promise(() => client.get("/api/sites/device_map?hostnames=device-1"))
      expect(map.status).toBe(200)
      expect(map.json.mapping["device-1"]).toEqual({ site_id: id, site_name: "HQ" })
      const all = yield* promise(() => client.get("/api/sites/device_map"))
      expect(Object.keys(all.json.mapping)).toEqual(["device-1"])
      const none = yield* promise(() => client.get("/api/sites/device_map?hostnames=other"))
      expect(none.json).toEqual({ mapping: {} })
      expect((yield* promise(() => client.get("/api/sites"))).json.sites[0].device_count).toBe(1)
      const renamed = yield* promise(() => client.post("/api/sites/rename", { id, new_name: "Main" }))
      expect(renamed.status).toBe(200)
      expect(renamed.json).toMatchObject({ id, name: "Main", device_count: 1 })
      const deleted = yield* promise(() => client.post("/api/sites/delete", { ids: [id] }))
      expect(deleted.status).toBe(200)
      expect(deleted.json).toEqual({ status: "ok", deleted: 1 })
      expect(withDb(engine.databasePath, (db) => db.prepare("SELECT count(*) AS n FROM device_sites").get())).toEqual({ n: 0 })
      expect(auditRows(engine.databasePath).map((r) => r.type).filter((t) => t.startsWith("site."))).toEqual([
        "site.created", "site.devices_assigned", "site.renamed", "site.deleted"
      ])
    }))

  it.scoped("the original's site errors", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const client = engine.client()
      yield* promise(() => login(client))
      const cases: Array<[string, unknown, number, string]> = [
        ["/api/sites", {}, 400, "name is required"],
        ["/api/sites", { name: "   " }, 400, "name is required"],
        ["/api/sites/delete", { ids: "1" }, 400, "ids must be a list"],
        ["/api/sites/assign", { site_id: 1, hostnames: "device-1" }, 400, "hostnames must be a list of strings"],
        ["/api/sites/assign", { site_id: 1, hostnames: [] }, 400, "hostnames must be a list of strings"],
        ["/api/sites/assign", { hostnames: ["a"] }, 400, "invalid site_id"],
        ["/api/sites/assign", { site_id: "x", hostnames: ["a"] }, 400, "invalid site_id"],
        ["/api/sites/assign", { site_id: 1, hostnames: [1, " "] }, 400, "hostnames must be a list of strings"],
        ["/api/sites/assign", { site_id: 999, hostnames: ["a"] }, 404, "site not found"],
        ["/api/sites/rename", { id: 999, new_name: "X" }, 404, "site not found"],
        ["/api/sites/rename", { id: 1 }, 400, "new_name is required"],
        ["/api/sites/rename", { id: "one", new_name: "X" }, 400, "invalid id"]
      ]
      for (const [path, body, status, error] of cases) {
        const reply = yield* promise(() => client.post(path, body))
        expect([path, reply.status, reply.json]).toEqual([path, status, { error }])
      }
      yield* promise(() => client.post("/api/sites", { name: "HQ" }))
      const other = yield* promise(() => client.post("/api/sites", { name: "Branch" }))
      const duplicate = yield* promise(() => client.post("/api/sites", { name: "HQ" }))
      expect(duplicate.status).toBe(409)
      expect(duplicate.json).toEqual({ error: "name already exists" })
      const renameClash = yield* promise(() => client.post("/api/sites/rename", { id: other.json.id, new_name: "HQ" }))
      expect(renameClash.status).toBe(409)
      expect(renameClash.json).toEqual({ error: "name already exists" })
      const nothing = yield* promise(() => client.post("/api/sites/delete", {}))
      expect(nothing.json).toEqual({ status: "ok", deleted: 0 })
      const skipsJunk = yield* promise(() => client.post("/api/sites/delete", { ids: ["x", other.json.id] }))
      expect(skipsJunk.json).toEqual({ status: "ok", deleted: 1 })
    }))
})

describe("devices (test_devices_listing, test_device_details_returns_inventory, …)", () => {
  it.scoped("lists devices with their site and online state", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const client = engine.client()
      yield* promise(() => login(client))
      const now = Math.floor(Date.now() / 1000)
      insertDevice(engine.databasePath, { guid: "11111111-1111-1111-1111-111111111111", hostname: "test-device", last_seen: now, created_at: now })
      insertDevice(engine.databasePath, { guid: "22222222-2222-2222-2222-222222222222", hostname: "stale", last_seen: now - 3600 })
      const reply = yield* promise(() => client.get("/api/devices"))
      expect(reply.status).toBe(200)
      const byHost = Object.fromEntries(reply.json.devices.map((d: { hostname: string }) => [d.hostname, d]))
      expect(byHost["test-device"]).toMatchObject({ status: "Online", site_id: null, site_name: "", guid: "11111111-1111-1111-1111-111111111111" })
      expect(byHost["stale"].status).toBe("Offline")
      const one = yield* promise(() => client.get("/api/devices/11111111-1111-1111-1111-111111111111"))
      expect(one.status).toBe(200)
      expect(one.json.hostname).toBe("test-device")
      const lower = yield* promise(() => client.get("/api/devices/{11111111-1111-1111-1111-111111111111}".toLowerCase()))
      expect(lower.status).toBe(200)
      const missing = yield* promise(() => client.get("/api/devices/33333333-3333-3333-3333-333333333333"))
      expect(missing.status).toBe(404)
      expect(missing.json).toEqual({ error: "not found" })
    }))

  it.scoped("details return the inventory snapshot (test_device_details_returns_inventory)", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const client = engine.client()
      yield* promise(() => login(client))
      const memory = [{ slot: "DIMM0", capacity: 17179869184 }]
      const network = [{ adapter: "Ethernet", ips: ["192.168.1.50"] }]
      const software = [{ name: "App", version: "1.0" }]
      const storage = [{ model: "NVMe", size: 512 }]
      const cpu = { name: "CPU", cores: 8 }
      insertDevice(engine.databasePath, {
        guid: "abcdef01-2345-6789-abcd-ef0123456789",
        hostname: "inventory-1",
        description: "Workstation",
        created_at: 1700000000,
        agent_hash: "hashvalue",
        memory: JSON.stringify(memory),
        network: JSON.stringify(network),
        software: JSON.stringify(software),
        storage: JSON.stringify(storage),
        cpu: JSON.stringify(cpu),
        device_type: "Laptop",
        domain: "ACME",
        external_ip: "1.2.3.4",
        internal_ip: "10.0.0.2",
        last_user: "ACME\\tech",
        operating_system: "Windows 11",
        uptime: 7200,
        agent_id: "agent-001",
        last_seen: 1700000100
      })
      const reply = yield* promise(() => client.get("/api/device/details/inventory-1"))
      expect(reply.status).toBe(200)
      const d = reply.json
      expect(d.memory).toEqual(memory)
      expect(d.network).toEqual(network)
      expect(d.software).toEqual(software)
      expect(d.storage).toEqual(storage)
      expect(d.cpu).toEqual(cpu)
      expect(d.description).toBe("Workstation")
      expect(d.agent_hash).toBe("hashvalue")
      expect(d.agent_guid.toLowerCase()).toBe("abcdef01-2345-6789-abcd-ef0123456789")
      expect(d.agent_guid).toBe("ABCDEF01-2345-6789-ABCD-EF0123456789")
      expect(d.last_user).toBe("ACME\\tech")
      expect(d.operating_system).toBe("Windows 11")
      expect(d.uptime).toBe(7200)
      expect(d.summary.hostname).toBe("inventory-1")
      expect(d.summary.uptime_sec).toBe(7200)
      expect(d.summary.created).toBe("2023-11-14 22:13:20")
      expect(d.created_at_iso).toBe("2023-11-14T22:13:20+00:00")
      expect(d.details.memory).toEqual(memory)
      expect(d.details.summary.hostname).toBe("inventory-1")
      const unknown = yield* promise(() => client.get("/api/device/details/nope"))
      expect(unknown.status).toBe(200)
      expect(unknown.json).toEqual({})
      // A column that is not JSON falls back to the empty shape.
      withDb(engine.databasePath, (db) => db.prepare("UPDATE devices SET memory = 'not json', cpu = '[1]'").run())
      const broken = yield* promise(() => client.get("/api/device/details/inventory-1"))
      expect(broken.json.memory).toEqual([])
      expect(broken.json.cpu).toEqual({})
    }))

  it.scoped("description update (test_device_description_update)", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const client = engine.client()
      insertDevice(engine.databasePath, { guid: "44444444-4444-4444-4444-444444444444", hostname: "device-desc" })
      const anonymous = yield* promise(() => client.post("/api/device/description/device-desc", { description: "x" }))
      expect(anonymous.status).toBe(401)
      yield* promise(() => login(client))
      const reply = yield* promise(() => client.post("/api/device/description/device-desc", { description: "Primary workstation" }))
      expect(reply.status).toBe(200)
      expect(reply.json).toEqual({ status: "ok" })
      expect(withDb(engine.databasePath, (db) => db.prepare("SELECT description FROM devices WHERE hostname = 'device-desc'").get()))
        .toEqual({ description: "Primary workstation" })
      const missing = yield* promise(() => client.post("/api/device/description/unknown-host", { description: "x" }))
      expect(missing.status).toBe(404)
      expect(missing.json).toEqual({ error: "not found" })
      const blank = yield* promise(() => client.post("/api/device/description/%20", { description: "x" }))
      expect(blank.status).toBe(400)
      expect(blank.json).toEqual({ error: "invalid hostname" })
      const cleared = yield* promise(() => client.post("/api/device/description/device-desc", {}))
      expect(cleared.status).toBe(200)
      expect(withDb(engine.databasePath, (db) => db.prepare("SELECT description FROM devices WHERE hostname = 'device-desc'").get()))
        .toEqual({ description: "" })
      expect(auditRows(engine.databasePath, "device.description_changed")).toHaveLength(2)
    }))

  it.scoped("activity history: list, one entry, delete (test_device_activity_endpoints)", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const client = engine.client()
      yield* promise(() => login(client))
      const id = withDb(engine.databasePath, (db) =>
        Number(db.prepare(`INSERT INTO activity_history (hostname, script_path, script_name, script_type, ran_at, status, stdout, stderr)
          VALUES ('activity-host', 'Scripts/a.ps1', 'a', 'powershell', 1700000000, 'Success', 'output', 'error')`).run().lastInsertRowid))
      withDb(engine.databasePath, (db) =>
        db.prepare(`INSERT INTO activity_history (hostname, script_name, ran_at, status, stdout, stderr) VALUES ('activity-host', 'b', 1600000000, 'Failed', '', NULL)`).run())
      const list = yield* promise(() => client.get("/api/device/activity/activity-host"))
      expect(list.status).toBe(200)
      expect(list.json.history).toHaveLength(2)
      expect(list.json.history[0]).toEqual({
        id, script_name: "a", script_path: "Scripts/a.ps1", script_type: "powershell", ran_at: 1700000000, status: "Success",
        has_stdout: true, has_stderr: true
      })
      expect(list.json.history[1]).toMatchObject({ has_stdout: false, has_stderr: false })
      const caseInsensitive = yield* promise(() => client.get("/api/device/activity/ACTIVITY-HOST"))
      expect(caseInsensitive.json.history).toHaveLength(2)
      const entry = yield* promise(() => client.get(`/api/device/activity/job/${id}`))
      expect(entry.status).toBe(200)
      expect(entry.json).toMatchObject({ id, hostname: "activity-host", stdout: "output", stderr: "error" })
      for (const bad of ["999999", "abc", "-1"]) {
        const missing = yield* promise(() => client.get(`/api/device/activity/job/${bad}`))
        expect(missing.status).toBe(404)
        expect(missing.json).toEqual({ error: "not found" })
      }
      const cleared = yield* promise(() => client.request("/api/device/activity/activity-host", { method: "DELETE" }))
      expect(cleared.status).toBe(200)
      expect(cleared.json).toEqual({ status: "ok" })
      expect(withDb(engine.databasePath, (db) => db.prepare("SELECT count(*) AS n FROM activity_history").get())).toEqual({ n: 0 })
      expect(JSON.parse(auditRows(engine.databasePath, "device.activity_cleared")[0]!.details_json)).toEqual({ deleted: 2 })
    }))

  it.scoped("server time (test_server_time_endpoint)", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const client = engine.client()
      expect((yield* promise(() => client.get("/api/server/time"))).status).toBe(401)
      yield* promise(() => login(client))
      const reply = yield* promise(() => client.get("/api/server/time"))
      expect(reply.status).toBe(200)
      expect(Object.keys(reply.json).sort()).toEqual(["display", "epoch", "iso", "offset_seconds", "timezone", "utc_iso"])
      expect(Math.abs(reply.json.epoch - Date.now() / 1000)).toBeLessThan(5)
      expect(reply.json.utc_iso).toMatch(/Z$/)
      expect(reply.json.display).toMatch(/^[A-Z][a-z]+ \d{1,2}(st|nd|rd|th) \d{4} @ \d{1,2}:\d\d(AM|PM)$/)
    }))
})
