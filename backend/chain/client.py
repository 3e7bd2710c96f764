"""JSON-RPC access to a node: web3's HTTP provider behind one retry policy.

`ChainClient.request` is the single path every call takes. Transient failures (refused or dropped
connections, timeouts, HTTP 5xx and 429, rate-limit errors, a node briefly behind its load balancer)
are retried with exponential backoff and jitter; when the retries run out it raises
`ChainUnavailableError`: a caller never mistakes "the node did not answer" for "nothing there".
An `eth_getLogs` the node refuses as too large raises `RangeTooLargeError` at once (no retry): the
indexer answers it with a smaller block range.

Answers are returned as the node's JSON (hex strings), without web3's formatters: the indexer
decodes tens of thousands of logs per second and converts only what it stores.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import requests
from web3 import HTTPProvider, Web3

from backend.chain.redact import redact_url, remember_secret_url, scrub
from backend.exceptions import ChainUnavailableError, RangeTooLargeError, RpcError

log = logging.getLogger(__name__)

# Phrases nodes and providers use when an eth_getLogs query is too big (geth, erigon, nethermind,
# reth, anvil, Alchemy, Infura, QuickNode, Ankr, BlastAPI...). Matched case-insensitively.
_RANGE_TOO_LARGE_PHRASES: Final = (
    "too many results",
    "more than",
    "query returned more",
    "response size",
    "response is too big",
    "too large",
    "block range",
    "range too",
    "range is too",
    "exceed maximum block range",
    "limit exceeded",
    "log response size exceeded",
    "query timeout exceeded",
    "max results",
)
# Phrases of JSON-RPC errors that are worth retrying: rate limits and nodes lagging their peers.
_TRANSIENT_PHRASES: Final = (
    "rate limit",
    "too many requests",
    "request limit",
    "header not found",
    "unknown block",
    "try again",
    "temporarily unavailable",
    "internal error",
    "timeout",
)
_TRANSIENT_HTTP: Final = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class BlockHeader:
    number: int
    hash: str  # 0x-prefixed lowercase hex
    parent_hash: str
    timestamp: int


class _Transient(Exception):
    """Internal: a failure worth another attempt."""


def _classify_rpc_error(method: str, error: Any) -> Exception:
    if isinstance(error, dict):
        code = error.get("code")
        message = str(error.get("message", error))
        data = error.get("data")
        if data:
            message = f"{message} ({data})"
    else:
        code, message = None, str(error)
    lowered = message.lower()
    if method == "eth_getLogs" and any(p in lowered for p in _RANGE_TOO_LARGE_PHRASES):
        return RangeTooLargeError(
            f"the node refused eth_getLogs as too large: {message}", method=method, code=code
        )
    if code == 429 or any(p in lowered for p in _TRANSIENT_PHRASES):
        return _Transient(f"{method}: JSON-RPC error {code}: {message}")
    raw_data = error.get("data") if isinstance(error, dict) else None
    return RpcError(
        f"{method} failed with JSON-RPC error {code}: {message}",
        method=method,
        code=code,
        data=raw_data if isinstance(raw_data, str) else None,
    )


class ChainClient:
    """One node, one retry policy. Thread-safe (web3 keeps one HTTP session per thread)."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 30.0,
        retries: int = 6,
        backoff_initial: float = 0.25,
        backoff_max: float = 15.0,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] | None = None,
    ):
        self.url = url
        # What messages and logs show of the node: scheme, host and port (keys stay hidden).
        self.display_url = redact_url(url)
        remember_secret_url(url)
        self.retries = retries
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self._sleep = sleep
        self._jitter = jitter or (lambda: random.uniform(0.5, 1.0))
        # web3's own retries are off: this class is the one place that decides what to retry.
        self.provider = HTTPProvider(
            url, request_kwargs={"timeout": timeout}, exception_retry_configuration=None
        )
        self.w3 = Web3(self.provider)
        self._chain_id: int | None = None

    @classmethod
    def from_settings(cls, settings: Any, **kwargs: Any) -> ChainClient:
        return cls(
            settings.rpc_url,
            timeout=settings.rpc_timeout,
            retries=settings.rpc_retries,
            backoff_initial=settings.rpc_backoff_initial,
            backoff_max=settings.rpc_backoff_max,
            **kwargs,
        )

    # ------------------------------------------------------------------ transport

    def backoff_delay(self, attempt: int) -> float:
        """Delay before retry number `attempt` (0-based): exponential, capped, with jitter."""
        return min(self.backoff_max, self.backoff_initial * 2**attempt) * self._jitter()

    def _with_retries(self, what: str, attempt_once: Callable[[], Any]) -> Any:
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                delay = self.backoff_delay(attempt - 1)
                log.warning(
                    "%s failed (%s); retry %d/%d in %.2fs",
                    what,
                    scrub(str(last)),
                    attempt,
                    self.retries,
                    delay,
                )
                self._sleep(delay)
            try:
                return attempt_once()
            except _Transient as exc:
                last = exc
            except requests.HTTPError as exc:
                status = exc.response.status_code if exc.response is not None else None
                if status not in _TRANSIENT_HTTP:
                    raise RpcError(
                        f"{what}: the node answered HTTP {status}; check COPYVAULT_RPC_URL",
                        method=what,
                        code=status,
                    ) from None
                last = exc
            except (
                requests.ConnectionError,
                requests.Timeout,
                ConnectionError,
                TimeoutError,
            ) as exc:
                last = exc
            except (ValueError, json.JSONDecodeError) as exc:  # a truncated or garbled answer
                last = exc
        raise ChainUnavailableError(
            f"the node at {self.display_url} did not answer {what} after {self.retries + 1} "
            f"attempts (last error: {scrub(str(last))}); check that it is running and that "
            "COPYVAULT_RPC_URL is right"
        )

    def request(self, method: str, params: Sequence[Any] = ()) -> Any:
        """One JSON-RPC call, retried on transient failures; the `result` as the node sent it."""

        def once() -> Any:
            response = self.provider.make_request(method, list(params))  # type: ignore[arg-type]
            if "error" in response:
                raise _classify_rpc_error(method, response["error"])
            if "result" not in response:
                raise _Transient(f"{method}: answer without result: {str(response)[:200]}")
            return response["result"]

        return self._with_retries(method, once)

    def batch(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        """Several calls in one HTTP request (JSON-RPC batch); results in the order of `calls`."""
        if not calls:
            return []

        def once() -> list[Any]:
            responses = self.provider.make_batch_request(
                [(method, list(params)) for method, params in calls]  # type: ignore[misc]
            )
            if not isinstance(responses, list):  # the whole batch was refused
                raise _classify_rpc_error(calls[0][0], responses.get("error", responses))
            if len(responses) != len(calls):
                raise _Transient(f"batch of {len(calls)} got {len(responses)} answers")
            results = []
            for (method, _), response in zip(calls, responses, strict=True):
                if "error" in response:
                    raise _classify_rpc_error(method, response["error"])
                results.append(response.get("result"))
            return results

        return self._with_retries(f"batch of {len(calls)} {calls[0][0]}", once)

    # ------------------------------------------------------------------ typed helpers

    def chain_id(self) -> int:
        if self._chain_id is None:
            self._chain_id = int(self.request("eth_chainId"), 16)
        return self._chain_id

    def block_number(self) -> int:
        return int(self.request("eth_blockNumber"), 16)

    @staticmethod
    def _header(raw: dict[str, Any] | None) -> BlockHeader | None:
        if raw is None:
            return None
        return BlockHeader(
            number=int(raw["number"], 16),
            hash=raw["hash"].lower(),
            parent_hash=raw["parentHash"].lower(),
            timestamp=int(raw["timestamp"], 16),
        )

    def header(self, number: int | str) -> BlockHeader | None:
        """The header of block `number` (or a tag such as "latest"); None past the head."""
        tag = hex(number) if isinstance(number, int) else number
        return self._header(self.request("eth_getBlockByNumber", [tag, False]))

    def headers(self, numbers: Iterable[int], chunk: int = 500) -> dict[int, BlockHeader | None]:
        """Headers of many blocks, in batches of `chunk` requests."""
        wanted = sorted(set(numbers))
        found: dict[int, BlockHeader | None] = {}
        for i in range(0, len(wanted), chunk):
            part = wanted[i : i + chunk]
            answers = self.batch([("eth_getBlockByNumber", [hex(n), False]) for n in part])
            for n, raw in zip(part, answers, strict=True):
                found[n] = self._header(raw)
        return found

    def get_logs(
        self,
        from_block: int,
        to_block: int,
        addresses: Sequence[str] | None = None,
        topics: Sequence[Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Raw logs of [from_block, to_block] (inclusive), as the node returns them."""
        query: dict[str, Any] = {"fromBlock": hex(from_block), "toBlock": hex(to_block)}
        if addresses is not None:
            query["address"] = list(addresses)
        if topics is not None:
            query["topics"] = list(topics)
        return self.request("eth_getLogs", [query])

    def call(self, to: str, data: bytes | str, block: int | str = "latest") -> bytes:
        """eth_call; the returned bytes (reverts raise RpcError)."""
        payload = data if isinstance(data, str) else "0x" + data.hex()
        tag = hex(block) if isinstance(block, int) else block
        result = self.request("eth_call", [{"to": to, "data": payload}, tag])
        return bytes.fromhex(result.removeprefix("0x"))
