#!/usr/bin/env python3
"""The user's walk through a running compose stack, through nginx only (docker/compose-test.sh
runs it): register, log in, browse trips, order, pay at the fake Alipay (the order turns paid
through its signed notification), chat over WebSockets. Prints one line per step and exits 1
at the first step that fails. Standard library only.

Environment: WALK_BASE (nginx, e.g. http://127.0.0.1:18080), WALK_ALIPAY (the fake Alipay's
published address, for the buyer's side of the cashier), WALK_ADMIN_ACCOUNT and
WALK_ADMIN_PASSWORD; optional: WALK_PROMETHEUS (every scrape target must be up),
WALK_WECHAT_OPEN_BASE (WeChat sign-in must start there).
"""

import base64
import json
import os
import secrets
import socket
import struct
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

BASE = os.environ["WALK_BASE"].rstrip("/")
ALIPAY = os.environ["WALK_ALIPAY"].rstrip("/")
RUN = secrets.token_hex(4)


class StepFailed(Exception):
    pass


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


OPENER = urllib.request.build_opener(NoRedirect)


def http(method, url, body=None, token=None, headers=None, form=None):
    """(status, headers, parsed JSON or text) of one request; never raises on a status."""
    data = None
    hdrs = dict(headers or {})
    if body is not None:
        data = json.dumps(body).encode()
        hdrs["content-type"] = "application/json"
    elif form is not None:
        data = urllib.parse.urlencode(form).encode()
        hdrs["content-type"] = "application/x-www-form-urlencoded"
    if token:
        hdrs["authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with OPENER.open(request, timeout=30) as response:
            status, rhdrs, raw = response.status, response.headers, response.read()
    except urllib.error.HTTPError as err:
        status, rhdrs, raw = err.code, err.headers, err.read()
    text = raw.decode(errors="replace")
    try:
        return status, rhdrs, json.loads(text)
    except ValueError:
        return status, rhdrs, text


def api(method, path, body=None, token=None, expect=(200,), headers=None):
    status, _, answer = http(method, BASE + path, body, token, headers)
    if status not in expect:
        raise StepFailed(f"{method} {path}: {status} (expected {expect}): {str(answer)[:300]}")
    return status, answer


def step(name, detail):
    print(f"ok   {name:<28} {detail}", flush=True)


def eventually(what, check, seconds=30):
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise StepFailed(f"{what}: not within {seconds} s")
        time.sleep(0.5)


class WebSocket:
    """A minimal RFC 6455 client: text frames out (masked), text/ping/close frames in."""

    def __init__(self, url):
        parts = urllib.parse.urlsplit(url)
        self.sock = socket.create_connection((parts.hostname, parts.port or 80), timeout=15)
        key = base64.b64encode(secrets.token_bytes(16)).decode()
        target = parts.path + ("?" + parts.query if parts.query else "")
        self.sock.sendall(
            (
                f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise StepFailed(f"WebSocket handshake: connection closed after {head!r}")
            head += chunk
        head, self.buffer = head.split(b"\r\n\r\n", 1)
        self.status_line = head.split(b"\r\n", 1)[0].decode()
        if " 101 " not in self.status_line:
            raise StepFailed(f"WebSocket handshake: {head.decode(errors='replace')[:300]}")

    def send(self, obj):
        payload = json.dumps(obj).encode()
        mask = secrets.token_bytes(4)
        header = bytes([0x81])
        if len(payload) < 126:
            header += bytes([0x80 | len(payload)])
        else:
            header += bytes([0x80 | 126]) + struct.pack("!H", len(payload))
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def _read(self, n):
        while len(self.buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise StepFailed("WebSocket closed by the server")
            self.buffer += chunk
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def receive(self, want, seconds=15):
        """The next text frame whose JSON satisfies `want`, answering pings meanwhile."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                b0, b1 = self._read(2)
            except socket.timeout:
                break
            length = b1 & 0x7F
            if length == 126:
                length = struct.unpack("!H", self._read(2))[0]
            elif length == 127:
                length = struct.unpack("!Q", self._read(8))[0]
            payload = self._read(length)
            opcode = b0 & 0x0F
            if opcode == 0x9:  # ping: pong with the same payload
                mask = secrets.token_bytes(4)
                masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
                self.sock.sendall(bytes([0x8A, 0x80 | len(payload)]) + mask + masked)
            elif opcode == 0x8:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                raise StepFailed(f"WebSocket closed by the server with {code}")
            elif opcode == 0x1:
                frame = json.loads(payload)
                if want(frame):
                    return frame
        raise StepFailed(f"no matching frame within {seconds} s")

    def close(self):
        self.sock.close()


def register_and_login(account, name):
    password = secrets.token_urlsafe(18)
    _, user = api(
        "POST",
        "/v1/auth/register",
        {"account": account, "name": name, "email": f"{account}@example.com", "password": password},
        expect=(201,),
    )
    _, tokens = api("POST", "/v1/auth/login", {"account": account, "password": password})
    return user["id"], tokens["access_token"]


def walk():
    status, _, ready = http("GET", BASE + "/readyz")
    if status != 200:
        raise StepFailed(f"/readyz through nginx: {status} {ready}")
    step("ready", "GET /readyz through nginx: 200")

    wechat = os.environ.get("WALK_WECHAT_OPEN_BASE")
    if wechat:
        status, headers, _ = http("GET", BASE + "/v1/auth/oauth/wechat/authorize?return_to=/")
        location = headers.get("location", "")
        if status != 302 or not location.startswith(wechat):
            raise StepFailed(f"WeChat authorize: {status} to {location!r}, not to {wechat}")
        step("wechat sign-in starts", f"GET /v1/auth/oauth/wechat/authorize: 302 to {location[:45]}…")

    _, admin = api(
        "POST",
        "/v1/auth/login",
        {"account": os.environ["WALK_ADMIN_ACCOUNT"], "password": os.environ["WALK_ADMIN_PASSWORD"]},
    )
    admin_token = admin["access_token"]
    step("admin login", "POST /v1/auth/login: 200")
    _, trip = api(
        "POST",
        "/v1/trips",
        {
            "title": f"Compose walk {RUN}",
            "destination": "Lijiang",
            "description": "Old town and the snow mountain.",
            "price_cents": 177600,
            "duration_days": 3,
            "tags": ["culture"],
            "status": "on_sale",
        },
        admin_token,
        expect=(201,),
    )
    step("admin creates a trip", f"POST /v1/trips: 201 (trip {trip['id']})")

    traveller_id, token = register_and_login(f"walker{RUN}", "Walker")
    step("register + login", f"POST /v1/auth/register: 201, login: 200 (user {traveller_id})")
    _, me = api("GET", "/v1/auth/me", token=token)
    if me["id"] != traveller_id:
        raise StepFailed(f"/v1/auth/me names {me['id']}, not {traveller_id}")
    step("who am I", "GET /v1/auth/me: 200")

    _, trips = api("GET", "/v1/trips?destination=Lijiang", token=token)
    if not any(t["id"] == trip["id"] for t in trips["results"]):
        raise StepFailed(f"the new trip is not in GET /v1/trips: {trips}")
    _, one = api("GET", f"/v1/trips/{trip['id']}", token=token)
    step("browse trips", f"GET /v1/trips: 200 ({len(trips['results'])} listed), GET /v1/trips/{one['id']}: 200")

    _, order = api(
        "POST",
        "/v1/orders",
        {"trip_id": trip["id"], "quantity": 1},
        token,
        expect=(201,),
        headers={"idempotency-key": f"walk-{RUN}"},
    )
    step("create order", f"POST /v1/orders: 201 (order {order['id']}, {order['status']}, {order['amount_cents']} cents)")

    _, pay = api("POST", f"/v1/orders/{order['id']}/pay", {"channel": "page"}, token)
    cashier_url = pay["url"]
    # The buyer's browser opens the cashier: the signed URL names the fake Alipay by its
    # compose name; the test reaches it on its published port instead.
    parts = urllib.parse.urlsplit(cashier_url)
    status, _, page = http("GET", ALIPAY + parts.path + "?" + parts.query)
    if status != 200 or "Pay" not in str(page):
        raise StepFailed(f"the fake Alipay's cashier: {status} {str(page)[:300]}")
    step("pay: cashier page", f"POST /v1/orders/{order['id']}/pay: 200, cashier at {parts.netloc}: 200")
    status, headers, page = http("POST", ALIPAY + "/cashier/pay", form={"out_trade_no": order["out_trade_no"]})
    if status != 303:
        raise StepFailed(f"pressing Pay: {status} {str(page)[:300]}")
    step("pay: press Pay", f"POST /cashier/pay: 303 to {headers.get('location', '')[:60]}…")

    def paid():
        _, current = api("GET", f"/v1/orders/{order['id']}", token=token)
        return current if current["status"] == "paid" else None

    started = time.monotonic()
    current = eventually("the order is paid (Alipay's notification through nginx)", paid)
    step(
        "order paid",
        f"GET /v1/orders/{order['id']}: paid after {time.monotonic() - started:.1f} s (the fake's notification)",
    )

    expert_id, expert_token = register_and_login(f"expert{RUN}", "Expert")
    _, roles = api("GET", "/v1/roles?per_page=100", token=admin_token)
    expert_role = next((r for r in roles["results"] if r["name"] == "expert"), None)
    if expert_role is None:
        raise StepFailed(f"no expert role in {roles}")
    api("POST", f"/v1/users/{expert_id}/roles", {"role_id": expert_role["id"]}, admin_token, expect=(200, 201))
    step("an expert", f"register + login: 201/200, admin grants role expert: ok (user {expert_id})")

    def listed():
        _, experts = api("GET", "/v1/chat/experts?per_page=100", token=token)
        return any(e["id"] == expert_id for e in experts["results"])

    eventually("the expert in GET /v1/chat/experts", listed, seconds=60)
    _, conversation = api("POST", "/v1/chat/conversations", {"expert_id": expert_id}, token, expect=(200, 201))
    step("open a conversation", f"POST /v1/chat/conversations: ok (conversation {conversation['id']})")

    ws_base = "ws" + BASE[len("http"):]
    sockets = {}
    for who, who_token in (("traveller", token), ("expert", expert_token)):
        _, ticket = api("POST", "/v1/chat/ws-ticket", token=who_token)
        ws = WebSocket(f"{ws_base}/v1/chat/ws?ticket={urllib.parse.quote(ticket['ticket'])}")
        sockets[who] = ws
    step("WebSockets", f"two sockets through nginx: {sockets['traveller'].status_line}")
    client_msg_id = f"walk-{RUN}"
    sockets["traveller"].send(
        {
            "type": "send",
            "conversation_id": conversation["id"],
            "body": "Hello from the compose walk",
            "client_msg_id": client_msg_id,
        }
    )
    ack = sockets["traveller"].receive(lambda f: f.get("type") == "ack" and f.get("client_msg_id") == client_msg_id)
    got = sockets["expert"].receive(lambda f: f.get("type") == "message" and f.get("client_msg_id") == client_msg_id)
    step("chat message", f"ack id {ack['id']}; the expert's socket got it: {got['body']!r}")
    for ws in sockets.values():
        ws.close()
    _, history = api("GET", f"/v1/chat/conversations/{conversation['id']}/messages", token=expert_token)
    step("chat history", f"GET …/messages: 200, count {history.get('count')}")

    prometheus = os.environ.get("WALK_PROMETHEUS")
    if prometheus:

        def all_up():
            status, _, targets = http("GET", prometheus.rstrip("/") + "/api/v1/targets")
            if status != 200:
                return None
            active = targets["data"]["activeTargets"]
            up = [t for t in active if t["health"] == "up"]
            return (len(up), len(active)) if active and len(up) == len(active) else None

        up, total = eventually("every Prometheus target up", all_up, seconds=60)
        step("prometheus", f"{up}/{total} scrape targets up")


def main():
    try:
        walk()
    except StepFailed as err:
        print(f"FAIL {err}", flush=True)
        return 1
    print("walk: every step passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
