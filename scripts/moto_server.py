"""moto (local DynamoDB + SNS) with every request serialized.

moto's stock threaded server lets two concurrent conditional writes both succeed, which would
hide (or fake) races. One lock around the WSGI app makes each request atomic, as in AWS, while
connections are still accepted concurrently.

It also answers `GET /_local/sms?phone=+86...`: the messages SNS "sent" to that number, oldest
first, as JSON. moto's own `/moto-api/data.json` serializes the whole emulator state, which a load
test reading a code per payment cannot afford once the table holds thousands of items.

Usage: python scripts/moto_server.py [PORT]   (binds 127.0.0.1; default port 4566)
"""

import json
import sys
import threading
from urllib.parse import parse_qs

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server


def serialized(app):
    lock = threading.Lock()

    def locked_app(environ, start_response):
        with lock:
            # Materialize the body inside the lock: WSGI apps may do work lazily while iterating.
            return list(app(environ, start_response))

    return locked_app


def sms_to(environ, start_response):
    from moto.sns.models import sns_backends

    phone = parse_qs(environ.get("QUERY_STRING", "")).get("phone", [""])[0]
    messages = [
        message
        for account in list(sns_backends.values())
        for backend in list(account.values())
        for (number, message) in list(backend.sms_messages.values())
        if number == phone
    ]
    body = json.dumps(messages).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def with_local_routes(app):
    def routed(environ, start_response):
        if environ.get("PATH_INFO") == "/_local/sms":
            return sms_to(environ, start_response)
        return app(environ, start_response)

    return routed


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 4566
    app = serialized(with_local_routes(DomainDispatcherApplication(create_backend_app)))
    server = make_server("127.0.0.1", port, app, threaded=True, request_handler=MotoRequestHandler)
    print(f"moto (serialized) listening on http://127.0.0.1:{port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
