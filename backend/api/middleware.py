"""ASGI middleware of the API: the request body size and time limit, and request metrics.

Both are plain ASGI (not Starlette's BaseHTTPMiddleware), so streaming responses (/v1/stream) pass
through untouched and client disconnects still reach the endpoint.
"""

from __future__ import annotations

import asyncio
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.api.errors import error_response
from backend.api.metrics import ApiMetrics


class BodySizeLimitMiddleware:
    """Refuse request bodies over `max_bytes` with 413 `body_too_large`, before any handler runs.

    A declared Content-Length over the limit is refused without reading; otherwise the body is read
    (at most `max_bytes` + 1 bytes) and replayed to the application, so chunked bodies are bounded
    too. After the replay, `receive` passes through (the endpoint still sees disconnects).
    """

    def __init__(self, app: ASGIApp, max_bytes: int, timeout: float | None = None):
        self.app = app
        self.max_bytes = max_bytes
        # Seconds the whole body may take to arrive (a client trickling it is answered 408).
        self.timeout = timeout

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, size: str) -> None:
        response = error_response(
            413,
            "body_too_large",
            f"the request body is {size} bytes; this API accepts at most {self.max_bytes}",
        )
        await response(scope, receive, send)

    async def _read(self, receive: Receive) -> bytes | None:
        """The body (at most `max_bytes` + 1 bytes of it), or None if the client left."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            chunks.append(chunk)
            if size > self.max_bytes or not message.get("more_body", False):
                return b"".join(chunks)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                length = -1
            if length < 0:
                response = error_response(
                    400, "bad_request", "the Content-Length header is not a byte count"
                )
                await response(scope, receive, send)
                return
            if length > self.max_bytes:
                await self._refuse(scope, receive, send, str(length))
                return
            if length == 0 and b"transfer-encoding" not in headers:
                await self.app(scope, receive, send)
                return
        elif b"transfer-encoding" not in headers:
            await self.app(scope, receive, send)
            return

        try:
            async with asyncio.timeout(self.timeout):
                body = await self._read(receive)
        except TimeoutError:
            response = error_response(
                408,
                "request_timeout",
                f"the request body did not arrive within {self.timeout:g} s: send it at once",
                headers={"Connection": "close"},
            )
            await response(scope, receive, send)
            return
        if body is None:
            return  # the client left before sending its body: nothing to answer
        if len(body) > self.max_bytes:
            await self._refuse(scope, receive, send, f"more than {self.max_bytes}")
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class RequestMetricsMiddleware:
    """Count requests and time them, labelled by method, route template and status."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        recorded = False

        def record() -> None:
            nonlocal recorded
            if not recorded:
                recorded = True
                route = scope.get("route")
                template = (
                    getattr(route, "metrics_template", None)
                    or getattr(route, "path", None)
                    or "<unmatched>"
                )
                seconds = time.perf_counter() - started
                self.metrics.observe_request(scope["method"], template, status, seconds)

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                # Before the last byte leaves: a client that saw the answer sees it counted.
                record()
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            record()  # failures and streams the client left
