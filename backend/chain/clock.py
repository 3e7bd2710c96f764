"""The chain's idea of now, for deadlines checked before a transaction is mined.

Contracts compare deadlines with `block.timestamp`, not with the backend's wall clock; a local node
may run ahead of it (time travel in tests, `anvil --timestamp`) and a real chain lags it by up to a
block. `ChainClock.now()` is the latest block's timestamp plus the seconds elapsed since that block
was read, refreshed at most every `refresh_seconds`, so a busy API asks the node about once a second
rather than once per request.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from backend.chain.client import ChainClient
from backend.exceptions import ChainError


class ChainClock:
    def __init__(
        self,
        client: ChainClient,
        *,
        refresh_seconds: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self._client = client
        self._refresh = refresh_seconds
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._read_at: float | None = None
        self._timestamp = 0

    def now(self) -> int:
        """Unix seconds as the next block would see them (about)."""
        with self._lock:
            elapsed = None if self._read_at is None else self._monotonic() - self._read_at
            if elapsed is None or elapsed >= self._refresh:
                self._read_latest()
                elapsed = 0.0
            return self._timestamp + int(elapsed)

    def _read_latest(self) -> None:
        header = self._client.header("latest")
        if header is None:
            raise ChainError("the node returned no latest block; is it synced?")
        self._timestamp = header.timestamp
        self._read_at = self._monotonic()
