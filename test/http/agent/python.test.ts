// The enrollment flow from Python (Debian's python3-cryptography + python3-requests), built exactly as
// spec §2.2–§2.3 and §8 describe the real Python agent — because real agents are Python.
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { startEngine } from "../../support/engine.ts"
import { adminClient, approve, createCode } from "../../support/enrollment.ts"
import { runPython } from "../../support/python.ts"

const REQUEST = String.raw`
import base64, json, os, sys, requests, urllib3
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
urllib3.disable_warnings()
url, code, state = sys.argv[1], sys.argv[2], sys.argv[3]
key = ed25519.Ed25519PrivateKey.generate()
spki = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
client_nonce = base64.b64encode(os.urandom(32)).decode()
# Until a server certificate is stored the agent talks with verification disabled (spec §8).
r = requests.post(url + "/api/agent/enroll/request", json={
    "hostname": "py-agent", "enrollment_code": code,
    "agent_pubkey": base64.b64encode(spki).decode(), "client_nonce": client_nonce,
}, headers={"X-Borealis-Agent-Context": "SYSTEM", "User-Agent": "Borealis-Agent/secure"}, verify=False, timeout=10)
assert r.headers["Content-Type"].startswith("application/json"), r.headers
data = r.json()
if data.get("status") != "pending":
    raise SystemExit("Unexpected enrollment status: %r" % data)
for field in ("approval_reference", "server_nonce"):
    assert data.get(field), field
with open(os.path.join(state, "server_certificate.pem"), "w") as fh:
    fh.write(data["server_certificate"])
with open(os.path.join(state, "agent_key.ed25519"), "wb") as fh:
    fh.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
json.dump({"client_nonce": client_nonce, "approval_reference": data["approval_reference"],
           "server_nonce": data["server_nonce"], "signing_key": data["signing_key"]}, open(os.path.join(state, "state.json"), "w"))
print(json.dumps({"approval_reference": data["approval_reference"], "poll_after_ms": data["poll_after_ms"]}))
`

const POLL = String.raw`
import base64, json, os, sys, time, requests
from cryptography.hazmat.primitives import serialization
url, state = sys.argv[1], sys.argv[2]
st = json.load(open(os.path.join(state, "state.json")))
key = serialization.load_pem_private_key(open(os.path.join(state, "agent_key.ed25519"), "rb").read(), password=None)
pinned = os.path.join(state, "server_certificate.pem")
# The message: server_nonce || approval_reference || client_nonce, raw bytes (spec §2.3).
message = base64.b64decode(st["server_nonce"]) + st["approval_reference"].encode("utf-8") + base64.b64decode(st["client_nonce"])
proof = base64.b64encode(key.sign(message)).decode()
answers = []
for _ in range(3):
    # REST calls pass the pinned bundle as the whole trust store (spec §8).
    r = requests.post(url + "/api/agent/enroll/poll", json={"approval_reference": st["approval_reference"],
        "client_nonce": st["client_nonce"], "proof_sig": proof}, verify=pinned, timeout=10)
    body = r.json()
    answers.append(body.get("status"))
    if body.get("status") == "approved" and body.get("access_token"):
        break
    time.sleep(min(max(body.get("poll_after_ms", 1000) / 1000, 1), 15) / 10)
for field in ("guid", "access_token", "refresh_token"):
    assert body.get(field), (field, body)
assert body["server_certificate"] == open(pinned).read()
headers = {"Authorization": "Bearer " + body["access_token"], "X-Borealis-Agent-Context": "SYSTEM"}
hb = requests.post(url + "/api/agent/heartbeat", json={"guid": body["guid"], "hostname": "py-agent",
    "metrics": {"service_mode": "system", "uptime": 42, "username": "CORP\\py"}}, headers=headers, verify=pinned, timeout=10)
rf = requests.post(url + "/api/agent/token/refresh", json={"guid": body["guid"], "refresh_token": body["refresh_token"]},
    headers=headers, verify=pinned, timeout=10)
hb2 = requests.post(url + "/api/agent/heartbeat", json={"hostname": "py-agent"},
    headers={"Authorization": "Bearer " + rf.json()["access_token"]}, verify=pinned, timeout=10)
print(json.dumps({"answers": answers, "guid": body["guid"], "expires_in": body["expires_in"],
    "heartbeat": [hb.status_code, hb.json()], "refresh": [rf.status_code, sorted(rf.json().keys())],
    "heartbeat_after_refresh": hb2.status_code, "signing_key_matches": body["signing_key"] == st["signing_key"]}))
`

describe("a Python agent (requests + cryptography) enrolls against the real server", () => {
  it.scoped("request → pending, operator approves, poll → tokens, heartbeat, refresh, pinned TLS throughout", () =>
    Effect.gen(function*() {
      const engine = yield* startEngine()
      const admin = yield* Effect.promise(() => adminClient(engine.client))
      const { code } = yield* Effect.promise(() => createCode(admin))
      const state = path.join(engine.root, "agent-state")
      fs.mkdirSync(state)
      // A literal-IP URL: the pinned chain must verify for 127.0.0.1 (an IP SAN; the original's DNS-named IP failed).
      const url = engine.url.replace("localhost", "127.0.0.1")
      const first = yield* Effect.promise(() => runPython(REQUEST, [url, code, state]))
      expect(first.stderr).toBe("")
      expect(first.code).toBe(0)
      const requested = JSON.parse(first.stdout)
      expect(requested.poll_after_ms).toBe(3000)
      yield* Effect.promise(() => approve(admin, requested.approval_reference))
      const second = yield* Effect.promise(() => runPython(POLL, [url, state]))
      expect(second.stderr).toBe("")
      expect(second.code).toBe(0)
      const result = JSON.parse(second.stdout)
      expect(result.answers).toEqual(["approved"])
      expect(result.expires_in).toBe(900)
      expect(result.heartbeat).toEqual([200, { status: "ok", poll_after_ms: 15000 }])
      expect(result.refresh).toEqual([200, ["access_token", "expires_in", "token_type"]])
      expect(result.heartbeat_after_refresh).toBe(200)
      expect(result.signing_key_matches).toBe(true)
    }))
})
