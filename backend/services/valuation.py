"""Assets under management: indexed balances valued in US dollars at oracle prices.

Source of prices: the USD feeds registered in the deployment's PriceOracle, as the index knows
them (`oracle_feeds`, from the oracle's FeedSet events: feed address, token and feed decimals).
Each feed's `latestRoundData()` answer is read with one batched eth_call, so a value is

    sum over tokens of balance * answer / 10^(token decimals + feed decimals)   (USD)

which is exactly what the PriceOracle's `quote` computes against a 1-dollar reference, without
needing a reference token in every deployment. Answers are reused for
`COPYVAULT_API_PRICE_CACHE_SECONDS` (a node failure for a few seconds, so an unreachable node does
not slow every request). Tokens with no feed or a non-positive answer are listed as unpriced and
not counted; stale answers are still used (the value is informative: the vault's own trades apply
its `maxOracleAge`). When the node cannot be reached the value is null with the reason, never an
error response.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Final

from eth_abi import decode
from eth_utils import function_signature_to_4byte_selector
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.api.schemas import Valuation, checksum
from backend.chain.client import ChainClient
from backend.db.models import OracleFeed
from backend.exceptions import ChainError

USD_DECIMALS: Final = 8
FAILURE_CACHE_SECONDS: Final = 5.0
_LATEST_ROUND_DATA: Final = "0x" + function_signature_to_4byte_selector("latestRoundData()").hex()


@dataclass(frozen=True)
class FeedInfo:
    feed: str
    token_decimals: int
    feed_decimals: int


class PriceBook:
    """Feed answers read from the node, cached for `ttl` seconds (thread-safe)."""

    def __init__(self, ttl: float):
        self.ttl = ttl
        self._answers: dict[str, tuple[float, int]] = {}
        self._failure: tuple[float, str] | None = None
        self._lock = threading.Lock()

    def answers(self, client: ChainClient, feeds: Iterable[str]) -> dict[str, int]:
        """feed -> latest answer; raises ChainError when the node cannot tell."""
        now = time.monotonic()
        wanted = sorted(set(feeds))
        with self._lock:
            if self._failure is not None and now - self._failure[0] < min(
                self.ttl, FAILURE_CACHE_SECONDS
            ):
                raise ChainError(self._failure[1])
            fresh = {
                f: cached[1]
                for f in wanted
                if (cached := self._answers.get(f)) is not None and now - cached[0] < self.ttl
            }
        missing = [f for f in wanted if f not in fresh]
        if missing:
            try:
                results = client.batch(
                    [
                        ("eth_call", [{"to": f, "data": _LATEST_ROUND_DATA}, "latest"])
                        for f in missing
                    ]
                )
            except ChainError as exc:
                with self._lock:
                    self._failure = (time.monotonic(), str(exc))
                raise
            read = {}
            for feed, raw in zip(missing, results, strict=True):
                try:
                    values = decode(
                        ["uint80", "int256", "uint256", "uint256", "uint80"],
                        bytes.fromhex(str(raw).removeprefix("0x")),
                    )
                    read[feed] = int(values[1])
                except Exception:  # not a feed (no code, wrong ABI): unpriced
                    read[feed] = 0
            with self._lock:
                stamp = time.monotonic()
                self._failure = None
                for feed, answer in read.items():
                    self._answers[feed] = (stamp, answer)
            fresh |= read
        return fresh


def format_usd(value: Fraction) -> str:
    scaled = value.numerator * 10**USD_DECIMALS // value.denominator
    sign = "-" if scaled < 0 else ""
    scaled = abs(scaled)
    return f"{sign}{scaled // 10**USD_DECIMALS}.{scaled % 10**USD_DECIMALS:0{USD_DECIMALS}d}"


class Valuer:
    """Values token balances of one deployment (one oracle) at cached feed prices."""

    def __init__(self, *, client: ChainClient, book: PriceBook, chain_id: int, oracle: str):
        self.client = client
        self.book = book
        self.chain_id = chain_id
        self.oracle = oracle.lower()

    def feeds(self, session: Session, tokens: Iterable[str]) -> dict[str, FeedInfo]:
        wanted = sorted(set(tokens))
        if not wanted:
            return {}
        rows = session.execute(
            select(
                OracleFeed.token,
                OracleFeed.feed,
                OracleFeed.token_decimals,
                OracleFeed.feed_decimals,
            ).where(
                OracleFeed.chain_id == self.chain_id,
                OracleFeed.oracle == self.oracle,
                OracleFeed.token.in_(wanted),
            )
        ).all()
        return {token: FeedInfo(feed, td, fd) for token, feed, td, fd in rows}

    def value_many(
        self, session: Session, holdings: Mapping[str, Mapping[str, int]]
    ) -> dict[str, Valuation]:
        """Value several holdings (key -> token -> raw amount) with one round of price reads."""
        tokens = {
            t for balances in holdings.values() for t, amount in balances.items() if amount > 0
        }
        feeds = self.feeds(session, tokens)
        answers: dict[str, int] = {}
        error = None
        if feeds:
            try:
                answers = self.book.answers(self.client, (f.feed for f in feeds.values()))
            except ChainError as exc:
                error = f"prices unavailable: {exc}"
        out = {}
        for key, balances in holdings.items():
            total = Fraction(0)
            unpriced = []
            for token, amount in sorted(balances.items()):
                if amount <= 0:
                    continue
                info = feeds.get(token)
                answer = answers.get(info.feed, 0) if info is not None else 0
                if info is None or (error is None and answer <= 0):
                    unpriced.append(checksum(token))
                    continue
                if error is None:
                    total += Fraction(
                        amount * answer, 10 ** (info.token_decimals + info.feed_decimals)
                    )
            out[key] = Valuation(
                usd=None if error else format_usd(total), unpriced_tokens=unpriced, error=error
            )
        return out

    def value(self, session: Session, balances: Mapping[str, int]) -> Valuation:
        return self.value_many(session, {"": balances})[""]
