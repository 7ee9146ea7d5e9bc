"""`make load`: the local stack at a ladder of fixed request rates (locust, pinned in
requirements-load.txt).

Each simulated shopper sends one platform request per second (`constant_throughput(1)`), so N
users offer N requests per second; the ladder (LOAD_RATES, each held LOAD_STEP_SECS) sets N. A
user follows the payment journeys through the API: a first payment, its code read from the
emulator (not a platform request, not timed), its verify; repeat payments with the saved card and
their verify; status reads of its payments; loads of the checkout page. Every platform request
is written to target/load/requests.jsonl (time, kind, status, latency) and every payment to
target/load/payments.jsonl; bench/load/report.py turns them into the table and the checks.
"""

import json
import os
import random
import time

import requests
from locust import HttpUser, LoadTestShape, constant_throughput, events, task

MOTO = os.environ["MOTO_ENDPOINT"]
OUT = os.environ.get("LOAD_OUT", "target/load")
RATES = [int(r) for r in os.environ.get("LOAD_RATES", "5 10 20").split()]
STEP = int(os.environ.get("LOAD_STEP_SECS", "30"))
MERCHANT = "shop-1"
HEADERS = {"content-type": "application/json", "x-local-merchant-id": MERCHANT}
# Each user pays at most this many times per phone, under the per-phone SMS cap (10 an hour).
PAYMENTS_PER_PHONE = 8

os.makedirs(OUT, exist_ok=True)
_requests_log = open(os.path.join(OUT, "requests.jsonl"), "w", buffering=1)
_payments_log = open(os.path.join(OUT, "payments.jsonl"), "w", buffering=1)
_started = time.time()


@events.request.add_listener
def _record(request_type, name, response_time, response_length, response, exception, **_):
    status = getattr(response, "status_code", 0) if response is not None else 0
    # The emulator's own bare 500 (cargo lambda watch's error body), as opposed to a function's.
    emulator = status == 500 and "httpstatuses.com" in (getattr(response, "text", "") or "")
    _requests_log.write(json.dumps({"t": time.time() - _started, "kind": name, "status": status, "ms": response_time,
                                    "emulator": emulator}) + "\n")


def _code_for(phone, count):
    """The code of the `count`-th SMS to `phone` (moto's local route: no full-state dump)."""
    for _ in range(100):
        sent = requests.get(f"{MOTO}/_local/sms", params={"phone": phone}, timeout=5).json()
        if len(sent) >= count:
            return next(w for w in sent[count - 1].split() if w.isdigit() and len(w) == 6)
        time.sleep(0.05)
    raise RuntimeError(f"SMS {count} to {phone} never arrived")


class Shopper(HttpUser):
    wait_time = constant_throughput(1)

    def on_start(self):
        self._new_identity()
        self.pending = None  # (payment id, phone, sms count) awaiting its verify
        self.payments = []

    def _new_identity(self):
        self.user = f"u-load-{random.getrandbits(48):012x}"
        self.phone = f"+86138{random.randrange(10**8):08d}"
        self.sms = 0
        self.saved = False
        self.paid = 0

    def _post(self, function, path, body, kind):
        with self.client.post(f"/lambda-url/{function}{path}", json=body, headers=HEADERS, name=kind, catch_response=True) as r:
            r.success() if r.status_code < 500 else r.failure(f"{r.status_code}")
            return r

    def _order(self):
        return f"o-load-{random.getrandbits(64):016x}"

    @task
    def step(self):
        if self.pending:
            return self._verify()
        if self.paid >= PAYMENTS_PER_PHONE:
            self._new_identity()
        choice = random.random()
        if choice < 0.30 or not self.saved:
            if self.saved:
                self._new_identity()
            return self._first_payment()
        if choice < 0.55:
            return self._repeat_payment()
        if choice < 0.85 and self.payments:
            return self._status()
        return self._page()

    def _opened(self, r, kind):
        if r.status_code != 201:
            return
        payment = r.json()
        self.sms += 1
        self.paid += 1
        self.pending = (payment["payment_id"], self.phone, self.sms)
        self.payments.append(payment["payment_id"])
        _payments_log.write(json.dumps({"payment_id": payment["payment_id"], "kind": kind, "phone": self.phone,
                                        "order_id": payment["order_id"]}) + "\n")

    def _first_payment(self):
        body = {"user_id": self.user, "phone": self.phone, "merchant_id": MERCHANT, "order_id": self._order(),
                "amount": 1999, "currency": "CNY", "save_card": True,
                "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2040, "cvc": "123"}}
        self._opened(self._post("first-payment", "/payments", body, "first payment"), "first")

    def _repeat_payment(self):
        body = {"user_id": self.user, "merchant_id": MERCHANT, "order_id": self._order(), "amount": 500, "currency": "CNY"}
        self._opened(self._post("repeat-payment", "/payments/repeat", body, "repeat payment"), "repeat")

    def _verify(self):
        payment_id, phone, count = self.pending
        self.pending = None
        code = _code_for(phone, count)
        r = self._post("verify-code", f"/payments/{payment_id}/verify", {"code": code}, "verify")
        if r.status_code == 200:
            self.saved = True

    def _status(self):
        payment_id = random.choice(self.payments[-10:])
        with self.client.get(f"/lambda-url/payment-status/payments/{payment_id}", headers=HEADERS, name="status",
                             catch_response=True) as r:
            r.success() if r.status_code < 500 else r.failure(f"{r.status_code}")

    def _page(self):
        session = f"cs_{random.getrandbits(100):026x}"[:29]
        with self.client.get(f"/lambda-url/checkout-page/checkout/{session}", name="checkout page", catch_response=True) as r:
            r.success() if r.status_code < 500 else r.failure(f"{r.status_code}")


class Ladder(LoadTestShape):
    """LOAD_RATES users (= offered requests per second), each rate held LOAD_STEP_SECS."""

    def tick(self):
        step = int(self.get_run_time() // STEP)
        if step >= len(RATES):
            return None
        return RATES[step], 100
