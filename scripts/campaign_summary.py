"""Reads schemathesis NDJSON reports and prints the campaign's figures.

Exits non-zero if any function answered 5xx or any check failed. Requests the local emulator
(cargo lambda watch) refuses itself with a bare 500 before invoking a function, because a
header value is not ASCII or a JSON body is not UTF-8, are counted apart: they never reach
the code under test (the functions' answer to them is covered by the Rust tests). So are requests the emulator
never answered (it sometimes drops a function's response, logging "Lambda Runtime API returned
non-200"): there is no response to judge.
"""

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


def main(paths):
    requests = 0
    statuses = Counter()
    refused = 0
    unanswered = 0
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
                statuses[f"{status // 100}xx"] += 1
                if status >= 500:
                    function_5xx.append(f'{request["method"]} {request["uri"]} -> {status} {body[:200]!r}')
                for check in recorder.get("checks", {}).get(case_id, []):
                    if check.get("status") == "failure":
                        failures[check["name"]] += 1
    print(f"campaign: {requests} requests; by status {dict(sorted(statuses.items()))}; "
          f"function 5xx: {len(function_5xx)}; refused by the emulator before any function: {refused}; "
          f"unanswered by the emulator: {unanswered}; "
          f"failed checks: {dict(failures) or 0}")
    for line in function_5xx[:20]:
        print("  5xx:", line)
    return 1 if function_5xx or failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
