"""moto (local DynamoDB + SNS) with every request serialized.

moto's stock threaded server lets two concurrent conditional writes both succeed, which would
hide (or fake) races. One lock around the WSGI app makes each request atomic, as in AWS, while
connections are still accepted concurrently.

It also answers `GET /_local/sms?phone=+86...`: the messages SNS "sent" to that number, oldest
first, as JSON. moto's own `/moto-api/data.json` serializes the whole emulator state, which a load
test reading a code per payment cannot afford once the table holds thousands of items.

Usage: python scripts/moto_server.py [PORT]   (binds 127.0.0.1; default port 4566)
"""

import copy
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


def lighter_transactions():
    """moto backs a table up before each TransactWriteItems with a deep copy of it, and every
    copy leaked: each model object moto makes (a table, an item, a stream record) is appended to
    a class-wide list for its `/moto-api/data.json` dashboard, so every backup's copies of every
    item stayed alive. And the copy took the table's stream along: every record ever written,
    each a deep dict of old and new images. Measured (scripts/moto_transactions.py: a table
    with a stream, 600 transactions of two writes, one in ten followed by a cancelled one): the
    fourth 150 took 21 s (4.1 s the first) and the emulator held 1.9 GB; about ten runs of the
    checkout's browser test over one table took it to 14 GB and the functions' SDK calls past
    their timeouts. With this: 4.2 s (1.7 s the first), 99 MB. Here DynamoDB's models are no
    longer tracked (nothing here reads them from the dashboard; SNS's SMS still are), and a
    backup shares the stream's records, which never change once made (the copied shard gets a
    new list of them, so a cancelled transaction's own records still vanish with it)."""
    from moto.dynamodb.models.dynamo_type import Item
    from moto.dynamodb.models.table import StreamRecord, StreamShard, Table

    def untracked(cls, *_args, **_kwargs):
        return object.__new__(cls)

    for model in (Item, StreamRecord, StreamShard, Table):
        model.__new__ = staticmethod(untracked)

    def deepcopy_shard(self, memo):
        shard = copy.copy(self)
        memo[id(self)] = shard
        shard.table = copy.deepcopy(self.table, memo)
        shard.items = list(self.items)
        return shard

    StreamShard.__deepcopy__ = deepcopy_shard


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
    lighter_transactions()
    app = serialized(with_local_routes(DomainDispatcherApplication(create_backend_app)))
    server = make_server("127.0.0.1", port, app, threaded=True, request_handler=MotoRequestHandler)
    print(f"moto (serialized) listening on http://127.0.0.1:{port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
