"""Reads schemathesis NDJSON reports and prints the campaign's figures.

Exits non-zero if any function answered 5xx or any check failed. Requests the local emulator
(cargo lambda watch) refuses itself with a bare 500 before invoking a function, because a
header value is not ASCII or a JSON body is not UTF-8, are counted apart: they never reach
the code under test (the functions' answer to them is covered by the Rust tests). So are requests the emulator
never answered (it sometimes drops a function's response, logging "Lambda Runtime API returned
non-200"): there is no response to judge.

The emulator also, rarely, answers a request to the checkout page (a ~15 KB HTML answer) with its
own bare 500 although the function finished normally (a known emulator fault, issue 14 item 5).
Such answers are counted apart only when `WATCH_LOG` (the emulator's log, with the functions'
output) is given and holds no panic or runtime error at all: a function that crashed would be
there. Without the log, or with a crash in it, they fail the run like any 5xx.
"""

import os

import base64
import json
import sys
from collections import Counter

EMULATOR_500 = b"https://httpstatuses.com/500"


def decode(blob):
    if not blob:
        return b""
    if isinstance(blob, dict) and "$base64" in blob:
        return base64.b64decode(blob["$base64"])
    return str(blob).encode()


def emulator_refused(request, status, body):
    if status != 500 or EMULATOR_500 not in body:
        return False
    headers_ascii = all(v.isascii() for vs in request.get("headers", {}).values() for v in vs)
    try:
        decode(request.get("body")).decode("utf-8")
        body_utf8 = True
    except UnicodeDecodeError:
        body_utf8 = False
    return not headers_ascii or not body_utf8


CRASH_MARKERS = ("panicked at", "Runtime.ExitError", "Runtime.Unknown", "returned non-200", "Unhandled")


def functions_never_crashed():
    """Whether the emulator's log (WATCH_LOG) shows no function crash; False without a log."""
    log = os.environ.get("WATCH_LOG")
    if not log or not os.path.exists(log):
        return False
    text = open(log, encoding="utf-8", errors="replace").read()
    return not any(marker in text for marker in CRASH_MARKERS)


def emulator_500_on_page(request, status, body):
    return status == 500 and EMULATOR_500 in body and "/checkout-page/" in request.get("uri", "")


def main(paths):
    requests = 0
    statuses = Counter()
    refused = 0
    unanswered = 0
    page_500s = []
    no_crash = functions_never_crashed()
    function_5xx = []
    failures = Counter()
    for path in paths:
        for line in open(path, encoding="utf-8"):
            event = json.loads(line).get("ScenarioFinished")
            if not event:
                continue
            recorder = event["recorder"]
            for case_id, interaction in recorder.get("interactions", {}).items():
                request, response = interaction["request"], interaction.get("response")
                if response is None:
                    unanswered += 1
                    continue
                requests += 1
                status = response["status_code"]
                body = decode(response.get("content"))
                if emulator_refused(request, status, body):
                    refused += 1
                    continue
                if no_crash and emulator_500_on_page(request, status, body):
                    page_500s.append(f'{request["method"]} {request["uri"]}')
                    continue
                statuses[f"{status // 100}xx"] += 1
                if status >= 500:
                    function_5xx.append(f'{request["method"]} {request["uri"]} -> {status} {body[:200]!r}')
                for check in recorder.get("checks", {}).get(case_id, []):
                    if check.get("status") == "failure":
                        failures[check["name"]] += 1
    print(f"campaign: {requests} requests; by status {dict(sorted(statuses.items()))}; "
          f"function 5xx: {len(function_5xx)}; refused by the emulator before any function: {refused}; "
          f"unanswered by the emulator: {unanswered}; "
          f"emulator 500 on the checkout page with no function crash logged: {len(page_500s)}; "
          f"failed checks: {dict(failures) or 0}")
    for line in function_5xx[:20]:
        print("  5xx:", line)
    for line in page_500s[:20]:
        print("  emulator 500 (function log clean):", line)
    return 1 if function_5xx or failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
