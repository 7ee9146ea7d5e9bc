"""The load run's table and its checks (bench/load/locustfile.py wrote the raw records).

Per offered rate: achieved rate, p50/p99, answers by status; a rate is *sustained* when at least
95 % of it was achieved with p99 under 1 s. Checked afterwards: no 5xx at a sustained rate, every
201 payment readable, every code-sending request one SMS (no more, no fewer), no order paid
twice. Exit status 1 when a check fails. With --record FILE, the table replaces the section
between `<!-- figures:load:begin -->` and `<!-- figures:load:end -->` in FILE (make bench keeps it).
"""

import collections
import json
import os
import sys
import urllib.request

import boto3

OUT = os.environ.get("LOAD_OUT", "target/load")
RATES = [int(r) for r in os.environ.get("LOAD_RATES", "5 10 20").split()]
STEP = int(os.environ.get("LOAD_STEP_SECS", "30"))
WATCH = os.environ["WATCH_ENDPOINT"]
MOTO = os.environ["MOTO_ENDPOINT"]


def percentile(values, p):
    if not values:
        return 0
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def read(name):
    with open(os.path.join(OUT, name)) as f:
        return [json.loads(line) for line in f if line.strip()]


def main():
    record = sys.argv[sys.argv.index("--record") + 1] if "--record" in sys.argv else None
    requests = read("requests.jsonl")
    payments = read("payments.jsonl")
    failures = []
    rows = []
    sustained_rates = []
    for step, rate in enumerate(RATES):
        # The first second of a step is its users arriving: measured from the next one on.
        window = [r for r in requests if step * STEP + 1 <= r["t"] < (step + 1) * STEP]
        seconds = STEP - 1
        achieved = len(window) / seconds
        ms = [r["ms"] for r in window]
        statuses = collections.Counter(r["status"] for r in window)
        p50, p99 = percentile(ms, 50), percentile(ms, 99)
        sustained = achieved >= 0.95 * rate and p99 < 1000
        server_errors = sum(n for s, n in statuses.items() if s >= 500 or s == 0)
        emulator_500 = sum(1 for r in window if r.get("emulator"))
        errors_by_kind = collections.Counter(r["kind"] for r in window if r["status"] >= 500 or r["status"] == 0)
        if sustained:
            sustained_rates.append(rate)
            if server_errors:
                failures.append(f"{server_errors} 5xx (or no answer) at the sustained rate {rate}/s")
        by_kind = collections.defaultdict(list)
        for r in window:
            by_kind[r["kind"]].append(r["ms"])
        kinds = ", ".join(f"{k} {percentile(v, 50):.0f}/{percentile(v, 99):.0f}" for k, v in sorted(by_kind.items()))
        errors = ", ".join(f"{k} {n}" for k, n in sorted(errors_by_kind.items())) or "none"
        rows.append(
            f"| {rate} | {achieved:.1f} | {'yes' if sustained else 'no'} | {p50:.0f} | {p99:.0f} | "
            f"{', '.join(f'{s}: {n}' for s, n in sorted(statuses.items()))} | {errors} ({emulator_500} the emulator's own) | {kinds} |"
        )

    # Every 201 payment is readable.
    unreadable = 0
    for p in payments:
        req = urllib.request.Request(f"{WATCH}/lambda-url/payment-status/payments/{p['payment_id']}",
                                     headers={"x-local-merchant-id": "shop-1"})
        try:
            with urllib.request.urlopen(req, timeout=10) as answer:
                if answer.status != 200:
                    unreadable += 1
        except Exception:
            unreadable += 1
    if unreadable:
        failures.append(f"{unreadable} of {len(payments)} created payments cannot be read")

    # Every code-sending request produced exactly one SMS.
    sent_by_phone = collections.Counter(p["phone"] for p in payments)
    sms_mismatch = 0
    for phone, expected in sent_by_phone.items():
        with urllib.request.urlopen(f"{MOTO}/_local/sms?phone={urllib.request.quote(phone)}", timeout=10) as answer:
            got = len(json.load(answer))
            if got != expected:
                sms_mismatch += 1
                kinds = [p["kind"] for p in payments if p["phone"] == phone]
                print(f"phone …{phone[-4:]}: {expected} payments opened ({', '.join(kinds)}), {got} SMS", file=sys.stderr)
    if sms_mismatch:
        failures.append(f"{sms_mismatch} phones received another number of SMS than payments opened for them")

    # No payment or order succeeded twice.
    table = boto3.resource("dynamodb", endpoint_url=MOTO).Table(os.environ["TABLE_NAME"])
    succeeded = collections.Counter()
    scan = {"FilterExpression": "entity = :p AND #s = :ok", "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": {":p": "payment", ":ok": "succeeded"}}
    while True:
        page = table.scan(**scan)
        for item in page["Items"]:
            succeeded[(item["merchant_id"], item["order_id"])] += 1
        if "LastEvaluatedKey" not in page:
            break
        scan["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    twice = [order for order, n in succeeded.items() if n > 1]
    if twice:
        failures.append(f"{len(twice)} orders paid more than once")
    verified = sum(1 for r in requests if r["kind"] == "verify" and r["status"] == 200)
    if verified != sum(succeeded.values()):
        failures.append(f"{verified} verifies answered 200 but {sum(succeeded.values())} payments succeeded")

    # The GET-only ladders (oha -q): the same verdict per rate, and no 5xx at a sustained rate.
    get_rows = []
    get_rates = [int(r) for r in os.environ.get("LOAD_GET_RATES", "").split()]
    for kind in ("checkout-page", "payment-status"):
        for rate in get_rates:
            path = os.path.join(OUT, f"oha-{kind}-{rate}.json")
            if not os.path.exists(path):
                failures.append(f"{path} missing: its ladder did not run")
                continue
            with open(path) as f:
                got = json.load(f)
            achieved = got["summary"]["requestsPerSec"]
            p50 = 1000 * (got["latencyPercentiles"].get("p50") or 0)
            p99 = 1000 * (got["latencyPercentiles"].get("p99") or 0)
            statuses = {int(k): v for k, v in got.get("statusCodeDistribution", {}).items()}
            unanswered = sum(got.get("errorDistribution", {}).values())
            sustained = achieved >= 0.95 * rate and p99 < 1000
            server_errors = sum(n for s, n in statuses.items() if s >= 500) + unanswered
            if sustained and server_errors:
                failures.append(f"{kind}: {server_errors} 5xx (or no answer) at the sustained rate {rate}/s")
            answers = ", ".join(f"{s}: {n}" for s, n in sorted(statuses.items()))
            if unanswered:
                answers += f", no answer: {unanswered}"
            get_rows.append(
                f"| {kind} | {rate} | {achieved:.1f} | {'yes' if sustained else 'no'} | {p50:.1f} | {p99:.1f} | {answers} |"
            )

    total = len(requests)
    import subprocess
    import time as _time
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain"], capture_output=True, text=True).stdout.strip()
    lines = [
        f"`make load`, {_time.strftime('%Y-%m-%d %H:%M', _time.gmtime())} UTC, commit {commit}"
        f"{' (with uncommitted changes)' if dirty else ''}. The local stack: debug builds under cargo lambda watch,"
        " moto serialized, on the same 2 cores as the load generator: these figures measure that stack, not AWS."
        " Per kind: p50/p99 ms; a code read from the emulator between a payment and"
        " its verify is not timed.",
        "",
        f"make load: offered rates {RATES} requests/s, {STEP} s each; {total} requests, {len(payments)} payments opened,"
        f" {sum(succeeded.values())} succeeded; sustained: {sustained_rates or 'none'}",
        "",
        "| offered req/s | achieved req/s | sustained | p50 ms | p99 ms | answers | 5xx by kind | per kind p50/p99 ms |",
        "|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        f"Afterwards: {len(payments) - unreadable}/{len(payments)} created payments readable; "
        f"{len(sent_by_phone) - sms_mismatch}/{len(sent_by_phone)} phones got exactly one SMS per payment opened; "
        f"orders paid twice: {len(twice)}; verifies answered 200: {verified}, payments succeeded: {sum(succeeded.values())}.",
        *(
            [
                "",
                f"GET-only ladders (`oha -q RATE -n RATE×{os.environ.get('LOAD_GET_SECS', '10')} -c 64`, after the mix, on the same stack):",
                "",
                "| GET | offered req/s | achieved req/s | sustained | p50 ms | p99 ms | answers |",
                "|---|---|---|---|---|---|---|",
                *get_rows,
            ]
            if get_rows
            else []
        ),
        *(f"FAILED: {f}" for f in failures),
    ]
    text = "\n".join(lines)
    print(text)
    os.makedirs("target/figures", exist_ok=True)
    with open("target/figures/load.txt", "w") as f:
        f.write(text + "\n")
    if record and not failures:
        with open(record) as f:
            doc = f.read()
        begin, end = "<!-- figures:load:begin -->", "<!-- figures:load:end -->"
        if begin in doc and end in doc:
            head, rest = doc.split(begin, 1)
            _, tail = rest.split(end, 1)
            doc = f"{head}{begin}\n{text}\n{end}{tail}"
            with open(record, "w") as f:
                f.write(doc)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
