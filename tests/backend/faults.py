"""A fault-injecting JSON-RPC proxy: sits between a client and anvil and, as its `plan` decides
per request, forwards it, answers HTTP 500/503/429, drops the connection, answers too late (past
the client's timeout), or refuses an eth_getLogs as too large the way public nodes do."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

# What the plan can answer for a request: None forwards it unchanged.
FAULTS = ("http500", "http503", "http429", "drop", "slow", "too_large", "garbage", "unsupported")


@dataclass
class Request:
    method: str
    params: list[Any]
    batch: bool


@dataclass
class FaultProxy:
    upstream: str
    plan: Callable[[Request], str | None] = lambda request: None
    slow_seconds: float = 2.0
    log: list[tuple[Request, str | None]] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FaultProxy:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                payload = json.loads(body)
                first = payload[0] if isinstance(payload, list) else payload
                request = Request(
                    first["method"], first.get("params", []), isinstance(payload, list)
                )
                fault = proxy.plan(request)
                proxy.log.append((request, fault))
                if fault == "drop":
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                if fault == "slow":
                    time.sleep(proxy.slow_seconds)
                if fault in ("http500", "http503", "http429"):
                    self._send(int(fault[4:]), b'{"error": "injected"}')
                    return
                if fault == "garbage":
                    self._send(200, b'{"jsonrpc": "2.0", "id": 1, "resu')
                    return
                if fault in ("too_large", "unsupported"):
                    error = (
                        {"code": -32005, "message": "query returned more than 10000 results"}
                        if fault == "too_large"
                        else {"code": -32601, "message": f"the method {first['method']} "
                              "does not exist/is not available"}
                    )  # fmt: skip
                    answer = {"jsonrpc": "2.0", "id": first.get("id"), "error": error}
                    self._send(200, json.dumps(answer).encode())
                    return
                upstream = requests.post(
                    proxy.upstream,
                    data=body,
                    headers={"Content-Type": "application/json"},
                    timeout=30,
                )
                self._send(upstream.status_code, upstream.content)

            def _send(self, status: int, body: bytes) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up first (a "slow" answer past its timeout)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def faults(self) -> list[str]:
        return [fault for _, fault in self.log if fault is not None]


def get_logs_span(request: Request) -> int | None:
    """Blocks an eth_getLogs request spans (None for other methods)."""
    if request.method != "eth_getLogs" or request.batch:
        return None
    query = request.params[0]
    return int(query["toBlock"], 16) - int(query["fromBlock"], 16) + 1
