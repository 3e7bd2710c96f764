"""Caps on /v1/stream: at most `per_process` open streams in one API process and `per_client` per
client address. Each stream polls the store every COPYVAULT_API_STREAM_POLL_INTERVAL; without a cap
1,600 idle clients were accepted and slowed every other request (issue 10).

The client address is the one the rate limits use (backend/api/platform.py `client_address`): the
TCP peer, unless it is one of COPYVAULT_TRUSTED_PROXIES (then what they forwarded); IPv6 by /64.
X-Forwarded-For from anyone else is ignored: a header any client can set would let one client take
every slot under many names.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import AsyncIterator

from backend.api.errors import StreamLimitError


class StreamSlots:
    def __init__(self, *, per_process: int, per_client: int):
        self.per_process = per_process
        self.per_client = per_client
        self._lock = threading.Lock()
        self._open: Counter[str] = Counter()

    @property
    def open_streams(self) -> int:
        with self._lock:
            return sum(self._open.values())

    def take(self, client: str) -> None:
        """Reserve a slot for `client` or raise StreamLimitError (503)."""
        with self._lock:
            if sum(self._open.values()) >= self.per_process:
                raise StreamLimitError(
                    f"this server holds its maximum of {self.per_process} event streams: "
                    "reconnect after Retry-After seconds"
                )
            if self._open[client] >= self.per_client:
                raise StreamLimitError(
                    f"your address already holds {self.per_client} event streams, the most one "
                    "client may open: close one, or filter one stream instead of opening several"
                )
            self._open[client] += 1

    def give_back(self, client: str) -> None:
        with self._lock:
            self._open[client] -= 1
            if self._open[client] <= 0:
                del self._open[client]

    def held_while(self, client: str, body: AsyncIterator[str]) -> AsyncIterator[str]:
        """`body`, with the slot of `client` given back when the stream ends for any reason (the
        client left, the server stops, an error), or when it is dropped without being started."""
        return _HeldStream(self, client, body)


class _HeldStream:
    """An async iterator over a stream's chunks that owns one slot. An async generator would not
    do: one that never started (the client left before the first chunk) runs no `finally`."""

    def __init__(self, slots: StreamSlots, client: str, body: AsyncIterator[str]):
        self._slots, self._client, self._body = slots, client, body
        self._held = True

    def _release(self) -> None:
        if self._held:
            self._held = False
            self._slots.give_back(self._client)

    def __aiter__(self) -> _HeldStream:
        return self

    async def __anext__(self) -> str:
        try:
            return await self._body.__anext__()
        except BaseException:  # the end, a cancellation (client gone) or an error
            self._release()
            raise

    async def aclose(self) -> None:
        self._release()
        close = getattr(self._body, "aclose", None)
        if close is not None:
            await close()

    def __del__(self) -> None:
        self._release()
