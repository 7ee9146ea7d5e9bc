"""`make webhooks-listen`: a webhook receiver for the local stack, as `stripe listen` is. It
starts on 127.0.0.1, registers itself as one of the merchant's endpoints (every event type),
verifies every delivery's Standard Webhooks signature (and its timestamp, within 5 minutes), and
prints each event. Ctrl-C deletes the endpoint.

Usage: python scripts/webhooks_listen.py [PORT]   (env: WATCH_PORT=9000, MERCHANT=shop-1)
       python scripts/webhooks_listen.py --check     (the verifier against the specification's
                                                      test vector, and 301 s off refused)
"""

import base64
import hashlib
import hmac
import json
import os
import sys
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer

TOLERANCE_SECS = 300


def verify(secret, headers, body, now=None):
    """Standard Webhooks v1: one `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` of the
    `webhook-signature` header (space-separated: during a rotation there are two) made with the
    secret (`whsec_` + base64 of the key), and a timestamp within 5 minutes. Raises ValueError."""
    msg_id, timestamp, signatures = (headers.get(h) for h in ("webhook-id", "webhook-timestamp", "webhook-signature"))
    if not (msg_id and timestamp and signatures):
        raise ValueError("missing webhook headers")
    if abs((now or time.time()) - int(timestamp)) > TOLERANCE_SECS:
        raise ValueError("timestamp too far from now (a replay?)")
    key = base64.b64decode(secret.removeprefix("whsec_"))
    expected = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    for part in signatures.split():
        version, _, signature = part.partition(",")
        if version == "v1" and hmac.compare_digest(base64.b64decode(signature), expected):
            return json.loads(body)
    raise ValueError("no signature matches")


def api(method, path, body=None):
    port = os.environ.get("WATCH_PORT", "9000")
    function = "payment-operations"
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/lambda-url/{function}{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"content-type": "application/json", "X-Local-Merchant-Id": os.environ.get("MERCHANT", "shop-1")},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


def check():
    """The specification's test vector verifies; the same delivery 301 s later does not."""
    headers = {
        "webhook-id": "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
        "webhook-timestamp": "1649367553",
        "webhook-signature": "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=",
    }
    body = b'{"email":"test@example.com","username":"test_user"}'
    secret = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
    assert verify(secret, headers, body, now=1649367553) == {"email": "test@example.com", "username": "test_user"}
    for now, tampered in ((1649367553 + 301, body), (1649367553 - 301, body), (1649367553, body + b" ")):
        try:
            verify(secret, headers, tampered, now=now)
        except ValueError:
            continue
        raise AssertionError(f"accepted at {now}")
    print("verifier: test vector verified; 301 s off and a changed body refused")


def main():
    if sys.argv[1:] == ["--check"]:
        return check()
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 4599
    secret = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            try:
                event = verify(secret["value"], {k.lower(): v for k, v in self.headers.items()}, body)
            except ValueError as refused:
                print(f"✘ refused: {refused}", flush=True)
                self.send_response(400)
                self.end_headers()
                return
            print(f"✔ {event['type']}  {event['id']}  (signature verified)", flush=True)
            print(json.dumps(event, indent=2, ensure_ascii=False), flush=True)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *_):
            pass

    server = HTTPServer(("127.0.0.1", port), Handler)
    endpoint = api("POST", "/webhook-endpoints", {
        "url": f"http://127.0.0.1:{port}/", "enabled_events": ["*"], "description": "make webhooks-listen",
    })
    secret["value"] = endpoint["secret"]
    print(f"Listening on http://127.0.0.1:{port}/ as endpoint {endpoint['id']} (every event of "
          f"{os.environ.get('MERCHANT', 'shop-1')}); Ctrl-C stops and deletes it.", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        api("DELETE", f"/webhook-endpoints/{endpoint['id']}")


if __name__ == "__main__":
    main()
