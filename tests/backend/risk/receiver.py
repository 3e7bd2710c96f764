"""A real local HTTP receiver of risk alerts that checks their signature itself (hashlib and hmac,
not the code under test), and can be told to fail its first answers."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    body: bytes
    timestamp: str | None
    signature: str | None
    valid: bool


@dataclass
class Receiver:
    secret: bytes
    fail_first: int = 0
    received: list[Received] = field(default_factory=list)
    url: str = ""

    def check(self, timestamp: str | None, signature: str | None, body: bytes) -> bool:
        if timestamp is None or signature is None or abs(time.time() - int(timestamp)) > 300:
            return False
        mac = hmac.new(self.secret, timestamp.encode() + b"." + body, hashlib.sha256)
        return hmac.compare_digest(signature, "sha256=" + mac.hexdigest())


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server name
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            timestamp = self.headers.get("X-Copyvault-Timestamp")
            signature = self.headers.get("X-Copyvault-Signature")
            valid = receiver.check(timestamp, signature, body)
            receiver.received.append(Received(body, timestamp, signature, valid))
            failing = len(receiver.received) <= receiver.fail_first
            self.send_response(500 if failing else (204 if valid else 401))
            self.end_headers()

        def log_message(self, *args) -> None:  # quiet
            pass

    return Handler


@contextmanager
def running_receiver(secret: bytes, *, fail_first: int = 0) -> Iterator[Receiver]:
    receiver = Receiver(secret, fail_first)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/alerts"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
