// Connect + disconnect in a loop with Debian's python-socketio (what agents run), against the real
// Engine (TLS, enrolled device tokens) and a bare socket.io 4 server with the same listener settings
// (bench/support/bareSocketIo.ts), in one run: the Engine must lose no more connects than the bare
// library does, and refuse none.
//
// The bare server loses some too (1 to 2 in 100 on this machine). Those losses are the client's:
// python-engineio 4.3 reads and writes one TLS socket from two threads (CPython's ssl module lets
// SSL_read and SSL_write run at once on one OpenSSL object, which OpenSSL does not support), so now and
// then the reader sees a spurious EOF right after the client sent CONNECT and closes the socket; and
// its disconnect does not wait for its writer thread, whose last write can land in the next connection
// that reuses the fd number. python-socketio 5.7.2 then waits out its whole wait_timeout
// ("One or more namespaces failed to connect"). Over plain HTTP, or with the client's SSL reads and
// writes serialised, neither server loses any.
//
// One device looping faster than 60 handshakes a minute is refused by the device-auth rate limit; a
// Socket.IO-level refusal used to cost python-socketio 5.7.2 its whole wait_timeout too (it looked
// like a hang). Refusals are HTTP answers at the handshake now, reported at once (handshake.test.ts).
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { caFileOf, startEngineProcess, tempRoot } from "../../bench/support/engineProcess.ts"
import { startEngine } from "../support/engine.ts"
import { adminClient, enrolledAgent } from "../support/enrollment.ts"
import { runPython } from "../support/python.ts"

/** Connects per server. */
const CONNECTS = 200
/** Devices the Engine's connects rotate over: each stays under its 60 handshakes a minute. */
const DEVICES = 5
/** A healthy connect takes milliseconds; a lost one costs this long. */
const WAIT_SECONDS = 3
/** Losses the Engine may have beyond the bare server's: chance, at 1 to 2 in 100 each (< 0.1% false alarms). */
const SLACK = 8

// One interpreter, connects alternating between the servers (same load, same client state). Why a
// websocket could not be opened (the HTTP status of a refused handshake, or the TLS error) is only
// observed, the client is not changed.
const LOOP = String.raw`
import json, sys, time, requests, socketio, websocket
config = json.loads(sys.argv[1])
why = {}
create_connection = websocket.create_connection
def observed(*args, **kwargs):
    try:
        return create_connection(*args, **kwargs)
    except Exception as e:
        status = getattr(e, "status_code", None)
        why["cause"] = "http_%d" % status if status else type(e).__name__
        raise
websocket.create_connection = observed
results = {t["name"]: {"ok": 0, "failures": {}, "ms": []} for t in config["targets"]}
for i in range(config["connects"]):
    for t in config["targets"]:
        tokens = t["tokens"]
        headers = {"X-Borealis-Agent-Context": "SYSTEM"}
        if tokens:
            headers["Authorization"] = "Bearer " + tokens[i % len(tokens)]
        http = requests.Session()
        http.verify = t["ca"]
        sio = socketio.Client(http_session=http, reconnection=False)
        refusals = []
        sio.on("connect_error", lambda data=None: refusals.append(data))
        why.clear()
        started = time.monotonic()
        r = results[t["name"]]
        try:
            sio.connect(t["url"], transports=["websocket"], headers=headers, wait_timeout=config["wait"])
            r["ok"] += 1
            r["ms"].append((time.monotonic() - started) * 1000)
            sio.disconnect()
        except socketio.exceptions.ConnectionError as e:
            data = [x for x in refusals if isinstance(x, dict)]
            if data:
                kind = "refused:" + json.dumps(data[0].get("data", data[0]), sort_keys=True)
            elif "cause" in why:
                kind = "handshake:" + why["cause"]
            else:
                kind = "namespace_timeout" if "namespaces" in str(e) else "other:" + str(e)
            r["failures"][kind] = r["failures"].get(kind, 0) + 1
for name, r in results.items():
    ms = sorted(r.pop("ms"))
    r["median_ms"] = round(ms[len(ms) // 2], 1) if ms else None
    r["p99_ms"] = round(ms[int(len(ms) * 0.99)], 1) if ms else None
print(json.dumps({"client": socketio.__file__, "results": results}))
`

interface LoopResult {
  readonly ok: number
  readonly failures: Readonly<Record<string, number>>
  readonly median_ms: number | null
  readonly p99_ms: number | null
}

const failed = (r: LoopResult) => Object.values(r.failures).reduce((a, b) => a + b, 0)
/** Losses that are the server's doing: a refused handshake (HTTP status) or a Socket.IO refusal. */
const refusals = (r: LoopResult) =>
  Object.entries(r.failures).filter(([kind]) => kind.startsWith("refused:") || kind.startsWith("handshake:http_")).reduce((a, [, n]) => a + n, 0)

describe("connect loop", () => {
  it.scoped(`${CONNECTS} connects + disconnects each: the Engine loses no more than a bare socket.io server`, () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const admin = yield* Effect.promise(() => adminClient(engine.client))
      const tokens: Array<string> = []
      for (let i = 0; i < DEVICES; i++) tokens.push((yield* Effect.promise(() => enrolledAgent(engine, admin, `loop-host-${i}`))).accessToken)
      const engineCa = path.join(engine.root, "ca.pem")
      fs.writeFileSync(engineCa, engine.ca ?? "")
      const bare = yield* Effect.acquireRelease(
        Effect.promise(() => startEngineProcess({ root: tempRoot("bare-socketio-"), tls: true, script: "bench/support/bareSocketIo.ts" })),
        (server) => Effect.promise(() => server.stop(5_000))
      )
      const config = {
        connects: CONNECTS,
        wait: WAIT_SECONDS,
        targets: [
          { name: "engine", url: engine.url, ca: engineCa, tokens },
          { name: "bare", url: bare.url, ca: caFileOf(bare.root), tokens: [] }
        ]
      }
      // CONNECT_LOOP_PYTHONPATH runs the same loop with another python-socketio/python-engineio
      // (e.g. a checkout of the newest, what agents installed from PyPI run).
      const pythonPath = process.env["CONNECT_LOOP_PYTHONPATH"]
      const run = yield* Effect.promise(() =>
        runPython(LOOP, [JSON.stringify(config)], 170_000, pythonPath === undefined ? {} : { PYTHONPATH: pythonPath })
      )
      expect(run.stderr).toBe("")
      const summary = JSON.parse(run.stdout) as { readonly results: { readonly engine: LoopResult; readonly bare: LoopResult } }
      const { engine: onEngine, bare: onBare } = summary.results
      process.stdout.write(`connect loop: ${JSON.stringify(summary)}\n`)
      expect(onEngine.ok + failed(onEngine)).toBe(CONNECTS)
      expect(onBare.ok + failed(onBare)).toBe(CONNECTS)
      // Nothing refused: every loss is of a kind the bare library shows too.
      expect(refusals(onEngine)).toBe(0)
      expect(refusals(onBare)).toBe(0)
      expect(failed(onEngine)).toBeLessThanOrEqual(failed(onBare) + SLACK)
    }), 240_000)
})
