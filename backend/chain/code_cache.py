"""Whether an account has code, remembered for a moment.

Intake asks it of every intent whose ECDSA signer is not the leader (is the leader a contract that
may approve through EIP-1271?). Reusing an answer for `ttl` seconds is safe in both directions:
"contract" only sends the decision to the registry's verifyIntent, which reads the chain itself;
"no code" could refuse an intent of a leader contract deployed within the last `ttl` seconds,
which its leader sees at once and can send again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from backend.chain.client import ChainClient


class CodePresence:
    def __init__(
        self,
        client: ChainClient,
        *,
        ttl: float = 2.0,
        max_entries: int = 10_000,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self._client = client
        self._ttl = ttl
        self._max = max_entries
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._seen: dict[str, tuple[bool, float]] = {}

    def has_code(self, account: str) -> bool:
        key = account.lower()
        now = self._monotonic()
        with self._lock:
            cached = self._seen.get(key)
        if cached is not None and now - cached[1] < self._ttl:
            return cached[0]
        code = self._client.request("eth_getCode", [account, "latest"])
        answer = code not in ("0x", "0x0", None)
        with self._lock:
            if len(self._seen) >= self._max:
                self._seen.clear()  # rare; cheaper than tracking ages
            self._seen[key] = (answer, now)
        return answer
