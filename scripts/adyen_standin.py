#!/usr/bin/env python3
"""A local stand-in for Adyen's Checkout API v71 (issue 25), built from its contract.

`make run ACQUIRER=adyen` starts it on 127.0.0.1:$ADYEN_PORT. Every request is checked as
Adyen would: the `x-api-key` header, an `Idempotency-Key`, and the body against the request
schema of its path in tests/contracts/adyen/CheckoutService-v71.json (a body the contract does
not allow gets Adyen's 422 validation error). Answers are the contract's examples with this
payment's values put in, and are themselves checked against the contract's response schema
before they go out. A repeated Idempotency-Key gets the first answer again.

Cards, as Adyen's test cards behave: 4000 0000 0000 0002 refused (`2`), 4000 0000 0000 9995
refused (`12`, not enough balance); 4212 3456 7890 1237 asks for 3-D Secure (`RedirectShopper`
to this stand-in's own "issuer" page, whose buttons return to the `returnUrl` with a
`redirectResult` that `/payments/details` authorises or refuses); any other valid card
authorised.

Like Adyen, it then notifies: a second after a capture, a cancel or a refund it posts a signed
notification (CAPTURE, CANCELLATION, REFUND; HMAC-SHA256 with $ADYEN_HMAC_KEY) to
$ADYEN_NOTIFY_URL, the local stack's acquirer-notifications function.

`adyen_standin.py notify EVENT REFERENCE PSP ORIGINAL VALUE [false]` posts one signed
notification by hand (e.g. a CAPTURE_FAILED), as `make adyen-notify` does.
"""

import base64
import hashlib
import hmac
import html
import json
import os
import sys
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from jsonschema import Draft202012Validator

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
SPEC = json.load(open(os.path.join(ROOT, "tests/contracts/adyen/CheckoutService-v71.json")))
ACCOUNT = os.environ.get("ADYEN_MERCHANT_ACCOUNT", "LocalAccount")
HMAC_KEY = os.environ.get("ADYEN_HMAC_KEY", "")
NOTIFY_URL = os.environ.get("ADYEN_NOTIFY_URL", "")

THREE_DS_CARD = "4212345678901237"
ISSUER_PAGE = """<!doctype html><meta charset="utf-8"><title>Issuer (stand-in)</title>
<h1>Your bank (stand-in)</h1><p>Confirm the payment?</p>
<p><a id="confirm" href="{ok}">Confirm</a> <a id="refuse" href="{no}">Refuse</a></p>"""

REQUESTS = {
    "/payments/details": "PaymentDetailsRequest",
    "/payments": "PaymentRequest",
    "/cancels": "StandalonePaymentCancelRequest",
    "captures": "PaymentCaptureRequest",
    "cancels": "PaymentCancelRequest",
    "refunds": "PaymentRefundRequest",
}


def validator(name):
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "components": SPEC["components"],
        "$ref": f"#/components/schemas/{name}",
    }
    return Draft202012Validator(schema)


VALIDATORS = {}


def errors(name, body):
    if name not in VALIDATORS:
        VALIDATORS[name] = validator(name)
    return [f"{e.message} at {'/'.join(map(str, e.path))}" for e in VALIDATORS[name].iter_errors(body)]


def example(name):
    return json.loads(json.dumps(SPEC["components"]["examples"][name]["value"]))


def psp(seed):
    """A pspReference: 16 characters, the same for the same seed."""
    return hashlib.sha256(seed.encode()).hexdigest()[:16].upper()


def signed_item(event, reference, psp_ref, original, value, currency="CNY", success=True):
    item = {
        "amount": {"currency": currency, "value": value},
        "eventCode": event,
        "eventDate": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
        "merchantAccountCode": ACCOUNT,
        "merchantReference": reference,
        "originalReference": original,
        "pspReference": psp_ref,
        "reason": "",
        "success": "true" if success else "false",
    }
    text = ":".join(
        [psp_ref, original, ACCOUNT, reference, str(value), currency, event, item["success"]]
    )
    mac = hmac.new(bytes.fromhex(HMAC_KEY), text.encode(), hashlib.sha256).digest()
    item["additionalData"] = {"hmacSignature": base64.b64encode(mac).decode()}
    return {"live": "false", "notificationItems": [{"NotificationRequestItem": item}]}


def post_notification(batch):
    request = urllib.request.Request(
        NOTIFY_URL, data=json.dumps(batch).encode(), headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return answer.status, answer.read().decode()


def notify_later(batch):
    def send():
        time.sleep(1)
        for attempt in range(5):
            try:
                status, body = post_notification(batch)
                print(f"notified {batch['notificationItems'][0]['NotificationRequestItem']['eventCode']}: {status} {body}", flush=True)
                if status == 200:
                    return
            except Exception as e:  # the stack may be starting: Adyen retries too
                print(f"notification not taken ({e}); again", flush=True)
            time.sleep(2 ** attempt)

    if NOTIFY_URL and HMAC_KEY:
        threading.Thread(target=send, daemon=True).start()


class StandIn(BaseHTTPRequestHandler):
    answered = {}
    lock = threading.Lock()

    def log_message(self, fmt, *args):
        # Paths and statuses only: never a body (a card number is in it).
        print(f"adyen stand-in: {fmt % args}", flush=True)

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def refuse(self, status, code, message, kind):
        self.reply(status, {"status": status, "errorCode": code, "message": message, "errorType": kind})

    def do_GET(self):
        # The stand-in issuer's 3-D Secure page: back to the shop with a result.
        if not self.path.startswith("/issuer?"):
            return self.refuse(404, "000", "not found", "validation")
        query = dict(urllib.parse.parse_qsl(self.path.split("?", 1)[1]))
        back, reference = query.get("returnUrl", ""), query.get("reference", "")
        sep = "&" if "?" in back else "?"
        page = ISSUER_PAGE.format(
            ok=html.escape(f"{back}{sep}redirectResult=ok.{reference}"),
            no=html.escape(f"{back}{sep}redirectResult=no.{reference}"),
        ).encode()
        self.send_response(200)
        self.send_header("content-type", "text/html; charset=utf-8")
        self.send_header("content-length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)

    def do_POST(self):
        path = self.path.split("?")[0]
        if not path.startswith("/v71/"):
            return self.refuse(404, "000", "not found", "validation")
        path = path[len("/v71"):]
        if not self.headers.get("x-api-key"):
            return self.refuse(401, "000", "HTTP Status Response - Unauthorized", "security")
        key = self.headers.get("idempotency-key", "")
        try:
            body = json.loads(self.rfile.read(int(self.headers.get("content-length", "0"))) or b"{}")
        except ValueError:
            return self.refuse(400, "702", "Structure is invalid", "validation")
        parts = path.strip("/").split("/")
        kind = path if path in ("/payments", "/cancels", "/payments/details") else (parts[2] if len(parts) == 3 else "")
        if kind not in REQUESTS:
            return self.refuse(404, "000", "not found", "validation")
        problems = errors(REQUESTS[kind], body)
        if problems:
            return self.refuse(422, "14_030", "; ".join(problems)[:300], "validation")
        with self.lock:
            if key and (path, key) in self.answered:
                return self.reply(*self.answered[(path, key)])
            status, answer, later = self.answer(kind, path, parts, body)
            response = {"/payments": "PaymentResponse", "/payments/details": "PaymentDetailsResponse"}.get(kind)
            if response and errors(response, answer):
                return self.refuse(500, "905", "the stand-in's own answer breaks the contract", "internal")
            if key:
                self.answered[(path, key)] = (status, answer)
        self.reply(status, answer)
        if later:
            notify_later(later)

    def answer(self, kind, path, parts, body):
        value = body.get("amount", {}).get("value", 0)
        currency = body.get("amount", {}).get("currency", "CNY")
        if kind == "/payments/details":
            result = body["details"].get("redirectResult", "")
            verdict, _, reference = result.partition(".")
            answer = {"resultCode": "Authorised", "pspReference": psp(reference), "merchantReference": reference,
                      "additionalData": {"tokenization.storedPaymentMethodId": psp("stored" + reference),
                                         "networkTxReference": psp("network" + reference)[:15]}}
            if verdict != "ok":
                answer = {"resultCode": "Refused", "refusalReasonCode": "2", "refusalReason": "Refused", "merchantReference": reference}
            return 200, answer, None
        if kind == "/payments":
            method = body.get("paymentMethod", {})
            number = method.get("number", "")
            if number == THREE_DS_CARD:
                issuer = f"http://127.0.0.1:{self.server.server_port}/issuer?" + urllib.parse.urlencode(
                    {"returnUrl": body["returnUrl"], "reference": body["reference"]})
                action = {"paymentMethodType": "scheme", "type": "redirect", "method": "GET", "url": issuer}
                return 200, {"resultCode": "RedirectShopper", "action": action}, None
            answer = example("post-payments-card-direct-200")
            answer.update(merchantReference=body["reference"], amount=body["amount"], pspReference=psp(body["reference"]))
            refusal = {"4000000000000002": ("2", "Refused"), "4000000000009995": ("12", "Not enough balance")}.get(number)
            if refusal:
                answer.update(resultCode="Refused", refusalReasonCode=refusal[0], refusalReason=refusal[1])
            elif body.get("storePaymentMethod"):
                answer["additionalData"]["tokenization.storedPaymentMethodId"] = psp("stored" + number)
                answer["additionalData"]["networkTxReference"] = psp("network" + number)[:15]
            return 200, answer, None
        if kind == "/cancels":
            answer = example("post-cancels-cancel-with-own-reference-201")
            answer.update(merchantAccount=ACCOUNT, paymentReference=body["paymentReference"], reference=body.get("reference", ""), pspReference=psp(path + body["paymentReference"]))
            return 201, answer, None
        example_name, event = {
            "captures": ("post-payments-paymentPspReference-captures-capture-201", "CAPTURE"),
            "cancels": ("post-payments-paymentPspReference-cancels-cancel-with-psp-reference-201", "CANCELLATION"),
            "refunds": ("post-payments-paymentPspReference-refunds-refund-201", "REFUND"),
        }[kind]
        answer = example(example_name)
        modification = psp(path + body.get("reference", ""))
        answer.update(merchantAccount=ACCOUNT, paymentPspReference=parts[1], reference=body.get("reference", ""), pspReference=modification)
        if "amount" in body:
            answer["amount"] = body["amount"]
        later = signed_item(event, body.get("reference", ""), modification, parts[1], value, currency)
        return 201, answer, later


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "notify":
        event, reference, psp_ref, original, value = sys.argv[2:7]
        success = not (len(sys.argv) > 7 and sys.argv[7] == "false")
        print(*post_notification(signed_item(event, reference, psp_ref, original, int(value), success=success)))
        return
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 4011
    server = ThreadingHTTPServer(("127.0.0.1", port), StandIn)
    print(f"Adyen stand-in (contract: CheckoutService-v71.json) on http://127.0.0.1:{port}/v71", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
