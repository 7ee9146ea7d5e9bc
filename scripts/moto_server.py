"""moto (local DynamoDB + SNS) with every request serialized.

moto's stock threaded server lets two concurrent conditional writes both succeed, which would
hide (or fake) races. One lock around the WSGI app makes each request atomic, as in AWS, while
connections are still accepted concurrently.

Usage: python scripts/moto_server.py [PORT]   (binds 127.0.0.1; default port 4566)
"""

import sys
import threading

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


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 4566
    app = serialized(DomainDispatcherApplication(create_backend_app))
    server = make_server("127.0.0.1", port, app, threaded=True, request_handler=MotoRequestHandler)
    print(f"moto (serialized) listening on http://127.0.0.1:{port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
