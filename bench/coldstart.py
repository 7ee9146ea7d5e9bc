"""Cold starts against a local Lambda Runtime API.

Serves the Runtime API (`/2018-06-01/runtime/invocation/next`, `.../response`, `.../error`,
`/init/error`) on loopback, starts a function's bootstrap with `AWS_LAMBDA_RUNTIME_API` pointed
at it, and measures, per run:
  init      spawn → the function's first `next` poll (everything it does before it can serve)
  first     the first invocation: event handed over → its response posted
  rss       the process's peak resident set (wait4's ru_maxrss)
  calls     the AWS calls it made (DynamoDB, SNS, SSM operations), during init and during the
            invocation, and the time spent in them: the functions reach moto through a
            counting proxy here
Each run is a fresh process. Prints one JSON line per function with every sample.

  coldstart.py MOTO_URL RUNS NAME=BOOTSTRAP:EVENT_FILE [NAME=BOOTSTRAP:EVENT_FILE ...]
"""

import http.client
import json
import os
import urllib.parse
from collections import Counter
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PREFIX = "/2018-06-01"


class Run:
    def __init__(self, event):
        self.event = event
        self.calls = {"init": Counter(), "invocation": Counter()}
        self.aws_ms = {"init": 0.0, "invocation": 0.0}
        # (start, end) of every AWS call: calls made concurrently overlap, so their wall time is
        # the union of these, not the sum.
        self.aws_spans = {"init": [], "invocation": []}
        self.next_at = None
        self.sent_at = None
        self.response_at = None
        self.status = None
        self.error = None
        self.done = threading.Event()
        self.over = threading.Event()
        self.served = False


class RuntimeApi(BaseHTTPRequestHandler):
    """One server per run (`self.server.run`), so a dying process's late poll never meets the
    next run."""

    def log_message(self, *args):
        pass

    def reply(self, code, body=b"", headers=()):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the run is over and its process gone

    def do_GET(self):
        run = self.server.run
        if self.path != f"{PREFIX}/runtime/invocation/next":
            return self.reply(404)
        if run.served:
            # The function polls for its next event: there is none; hold it until the run ends.
            run.over.wait(60)
            return self.reply(410)
        run.next_at = time.perf_counter()
        run.served = True
        deadline = int(time.time() * 1000) + 10_000
        body = run.event.encode()
        run.sent_at = time.perf_counter()
        self.reply(200, body, [
            ("Content-Type", "application/json"),
            ("Lambda-Runtime-Aws-Request-Id", str(uuid.uuid4())),
            ("Lambda-Runtime-Deadline-Ms", str(deadline)),
            ("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:bench"),
            ("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000"),
        ])

    def do_POST(self):
        run = self.server.run
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.endswith("/response"):
            run.response_at = time.perf_counter()
            try:
                run.status = json.loads(body).get("statusCode")
            except ValueError:
                run.status = None
        else:  # /init/error or /invocation/<id>/error
            run.error = body.decode(errors="replace")[:500]
        self.reply(202)
        run.done.set()


class CountingProxy(BaseHTTPRequestHandler):
    """Forwards every AWS call to moto, counting it by operation for the run in progress."""

    moto = None  # (host, port)
    run = None  # the run in progress

    def log_message(self, *args):
        pass

    def forward(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        target = self.headers.get("X-Amz-Target")  # DynamoDB_20120810.PutItem, AmazonSSM.GetParameter
        if target:
            service, op = target.split(".", 1)
            operation = f"{'dynamodb' if service.startswith('DynamoDB') else service.lower()}:{op}"
        else:  # SNS speaks the query protocol
            action = urllib.parse.parse_qs(body.decode(errors="replace")).get("Action", ["?"])[0]
            operation = f"sns:{action}"
        run = CountingProxy.run
        phase = "init" if run is None or run.next_at is None else "invocation"
        if run is not None:
            run.calls[phase][operation] += 1
        began = time.perf_counter()
        conn = http.client.HTTPConnection(*CountingProxy.moto, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        conn.request(self.command, self.path, body, headers)
        answer = conn.getresponse()
        data = answer.read()
        if run is not None:
            ended = time.perf_counter()
            run.aws_ms[phase] += (ended - began) * 1000
            run.aws_spans[phase].append((began, ended))
        self.send_response(answer.status)
        for k, v in answer.getheaders():
            if k.lower() not in ("transfer-encoding", "connection", "content-length", "server", "date"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        conn.close()

    do_POST = forward
    do_GET = forward


def union_ms(spans):
    """Wall time covered by the spans (overlapping calls counted once)."""
    total, end = 0.0, None
    for start, stop in sorted(spans):
        if end is None or start > end:
            total += stop - start
            end = stop
        elif stop > end:
            total += stop - end
            end = stop
    return total * 1000


def once(bootstrap, event, env):
    run = Run(event)
    server = ThreadingHTTPServer(("127.0.0.1", 0), RuntimeApi)
    server.daemon_threads = True
    server.run = run
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = dict(env, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{server.server_port}")
    CountingProxy.run = run
    started = time.perf_counter()
    proc = subprocess.Popen([bootstrap], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    finished = run.done.wait(30)
    proc.terminate()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = status
    run.over.set()
    CountingProxy.run = None
    server.shutdown()
    server.server_close()
    if not finished or run.error or run.next_at is None or run.response_at is None:
        raise SystemExit(f"{bootstrap}: no answer ({run.error or 'timeout'})")
    return {
        "init_ms": (run.next_at - started) * 1000,
        "first_ms": (run.response_at - run.sent_at) * 1000,
        "rss_mb": usage.ru_maxrss / 1024,
        "status": run.status,
        "calls": {phase: dict(counts) for phase, counts in run.calls.items()},
        # Time inside AWS calls (moto here), sequential calls summed: the rest is the function's own.
        "aws_ms": run.aws_ms,
        # Wall time with at least one AWS call in flight: init minus this is the function's own.
        "aws_wall_ms": {phase: union_ms(spans) for phase, spans in run.aws_spans.items()},
    }


def serve(handler):
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server.server_port


def main():
    moto = urllib.parse.urlparse(sys.argv[1])
    CountingProxy.moto = (moto.hostname, moto.port)
    runs = int(sys.argv[2])
    proxy_port = serve(CountingProxy)
    env = dict(os.environ)
    env.update({
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{proxy_port}",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/bench",
        "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
    })
    functions = []
    for spec in sys.argv[3:]:
        name, rest = spec.split("=", 1)
        bootstrap, event_file = rest.split(":", 1)
        with open(event_file, encoding="utf-8") as f:
            event = json.load(f)
        # Each run does the real work: no Idempotency-Key to replay.
        event.get("headers", {}).pop("idempotency-key", None)
        functions.append((name, bootstrap, json.dumps(event)))
    # Round-robin: run i of every function, then run i + 1, so whatever drifts on a shared
    # machine over a minute (another tenant, the emulator's state) falls on every function alike.
    # One round first, not kept: the page cache and the emulator warmed for everyone.
    samples = {name: [] for name, _, _ in functions}
    for round_no in range(runs + 1):
        for name, bootstrap, event in functions:
            sample = once(bootstrap, event, dict(env, AWS_LAMBDA_FUNCTION_NAME=name))
            if round_no:
                samples[name].append(sample)
    for name, bootstrap, _ in functions:
        print(json.dumps({"function": name, "size_bytes": os.path.getsize(bootstrap), "samples": samples[name]}), flush=True)

if __name__ == "__main__":
    main()
