"""uvicorn's httptools protocol with limits on the request head, against slow and bloated clients.

uvicorn bounds neither the time a client takes to send a request's line and headers nor their size
or number: a slowloris client sending one byte a second holds a connection (and its memory) for
ever. `GuardedHttpToolsProtocol` adds, per connection:

- a head deadline: the request line and headers must be complete `head_timeout` seconds after the
  connection opens or the previous answer ends; otherwise 408 and the connection is closed;
- a head size and header count limit: beyond either, 431 and the connection is closed;
- a cap on the connections one client address holds open in one process (the TCP peer; trusted
  proxies are not capped): beyond, 503 and closed at once, so one client cannot take every
  connection slot (`--limit-concurrency`, COPYVAULT_API_MAX_CONNECTIONS) from everyone else.

The body's own deadline and size are the ASGI middleware's (backend/api/middleware.py); idle
keep-alive connections are closed by uvicorn's `timeout_keep_alive`.

`copyvault serve` runs `EnvGuardedHttpToolsProtocol` (limits from the COPYVAULT_ settings, read in
each worker process); tests build one with `guarded_protocol(HeadLimits(...))`.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections import Counter
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


@dataclass(frozen=True)
class HeadLimits:
    head_timeout: float = 10.0
    max_head_bytes: int = 16_384
    max_headers: int = 64
    # Open connections one client address may hold in one process (trusted proxies: no cap).
    max_connections_per_client: int = 64
    trusted_proxies: tuple[str, ...] = ()

    @classmethod
    def from_settings(cls, settings: Any) -> HeadLimits:
        return cls(
            head_timeout=settings.api_head_timeout,
            max_head_bytes=settings.api_max_header_bytes,
            max_headers=settings.api_max_headers,
            max_connections_per_client=settings.api_max_connections_per_client,
            trusted_proxies=tuple(settings.trusted_proxies),
        )

    @cached_property
    def _networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        return [ipaddress.ip_network(n, strict=False) for n in self.trusted_proxies]

    def capped(self, host: str) -> bool:
        """Whether connections from `host` count against the per-client cap."""
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return True
        return not any(address in network for network in self._networks)


class _HeadRefused(Exception):
    """Raised from a parser callback to stop parsing a head that broke a limit."""


def _plain_response(status: bytes, message: str) -> bytes:
    body = message.encode()
    return (
        b"HTTP/1.1 " + status + b"\r\n"
        b"content-type: text/plain; charset=utf-8\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\n"
        b"connection: close\r\n\r\n" + body
    )


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    limits: ClassVar[HeadLimits] = HeadLimits()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_bytes = 0
        self._header_count = 0
        self._refused = False
        self._counted: str | None = None  # the client address this connection is counted for

    # ------------------------------------------------------------------ the head deadline

    def _arm_head_timer(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.limits.head_timeout, self._head_too_slow)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        answering = self.cycle is not None and not self.cycle.response_complete
        if self.transport.is_closing() or answering:
            return
        self._refuse(
            b"408 Request Timeout",
            f"request_timeout: the request line and headers did not arrive within "
            f"{self.limits.head_timeout:g} s",
        )

    def _refuse(self, status: bytes, message: str) -> None:
        self._refused = True
        self._disarm_head_timer()
        self.transport.write(_plain_response(status, message))
        self.transport.close()

    def _clients(self) -> Counter[str]:
        """Open connections per client address of this server (its shared state)."""
        clients = getattr(self.server_state, "copyvault_clients", None)
        if clients is None:
            clients = Counter()
            self.server_state.copyvault_clients = clients  # type: ignore[attr-defined]
        return clients

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        host = self.client[0] if self.client else "unknown"
        if self.limits.capped(host):
            clients = self._clients()
            if clients[host] >= self.limits.max_connections_per_client:
                self._refuse(
                    b"503 Service Unavailable",
                    f"too_many_connections: your address holds "
                    f"{self.limits.max_connections_per_client} connections already; reuse them",
                )
                return
            clients[host] += 1
            self._counted = host
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        if self._counted is not None:
            clients = self._clients()
            clients[self._counted] -= 1
            if clients[self._counted] <= 0:
                del clients[self._counted]
            self._counted = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if self.cycle is None or self.cycle.response_complete:
            self._arm_head_timer()  # a keep-alive connection's next request starts
        super().data_received(data)

    def send_400_response(self, msg: str) -> None:
        if not self._refused:  # a limit already answered (431) and closed the connection
            super().send_400_response(msg)

    # ------------------------------------------------------------------ parser callbacks

    def on_message_begin(self) -> None:
        self._head_bytes = 0
        self._header_count = 0
        super().on_message_begin()

    def _count(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > self.limits.max_head_bytes:
            self._refuse(
                b"431 Request Header Fields Too Large",
                f"headers_too_large: the request line and headers exceed "
                f"{self.limits.max_head_bytes} bytes",
            )
            raise _HeadRefused

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        if self._header_count > self.limits.max_headers:
            self._refuse(
                b"431 Request Header Fields Too Large",
                f"headers_too_large: more than {self.limits.max_headers} header lines",
            )
            raise _HeadRefused
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._disarm_head_timer()
        super().on_headers_complete()


def guarded_protocol(limits: HeadLimits) -> type[GuardedHttpToolsProtocol]:
    """The protocol class with `limits` (for a server in this process)."""
    return type("GuardedHttpToolsProtocol", (GuardedHttpToolsProtocol,), {"limits": limits})


class EnvGuardedHttpToolsProtocol(GuardedHttpToolsProtocol):
    """The protocol with the limits of the COPYVAULT_ settings of the process it runs in: it can be
    named by import path, so `serve --workers N` hands it to every worker process."""

    _loaded: ClassVar[HeadLimits | None] = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        cls = type(self)
        if cls._loaded is None:
            from backend.config import load_settings

            cls._loaded = HeadLimits.from_settings(load_settings())
            cls.limits = cls._loaded
        super().__init__(*args, **kwargs)
