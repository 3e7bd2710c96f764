"""Readiness: whether this server can judge and queue intents now (GET /v1/ready, intake's gate).

Liveness (/v1/health) only says the process answers. Ready means all of:

- the store answers (`store_unavailable` otherwise);
- the node answers (`node_unavailable`);
- the index trails the chain head by at most `confirmations + ready_max_lag_blocks` blocks
  (`index_behind`): intake checks venues, feeds, delegates and nonces against the index, so a
  lagging index would refuse valid intents (`unknown_venue`) or accept cancelled ones;
- no relayer sender is degraded (`relayer_degraded`): `relay_senders.degraded_reason` is set by
  the relayer, in whichever process it runs, while it cannot make progress on its own.

Intake reuses a "ready" verdict for `ready_cache_seconds`, so a busy API asks the node and the
store about twice a second rather than once per intent; a "not ready" verdict is never reused by
intake: each refused intent waits for a check begun after it arrived (shared by concurrent ones).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from sqlalchemy import Engine, select

from backend.chain.client import ChainClient
from backend.chain.deploy import Deployment
from backend.chain.redact import scrub
from backend.config import Settings
from backend.db.models import IndexerCursor
from backend.db.relay_models import RelaySender
from backend.exceptions import CopyvaultError

STORE_UNAVAILABLE: Final = "store_unavailable"
NODE_UNAVAILABLE: Final = "node_unavailable"
INDEX_BEHIND: Final = "index_behind"
RELAYER_DEGRADED: Final = "relayer_degraded"


@dataclass(frozen=True)
class Reason:
    code: str
    message: str


@dataclass(frozen=True)
class Verdict:
    reasons: list[Reason] = field(default_factory=list)
    head: int | None = None
    cursor: int | None = None  # last indexed block (None before the first range)
    lag: int | None = None  # head - cursor, confirmations included
    relayer_degraded: bool = False

    @property
    def ready(self) -> bool:
        return not self.reasons


@dataclass(frozen=True)
class _StoreFacts:
    cursor: int | None
    degraded: list[tuple[str, str]]  # (sender, reason)


class Readiness:
    def __init__(
        self,
        *,
        engine: Engine,
        client: ChainClient,
        chain_id: int,
        start_block: int,
        confirmations: int,
        max_lag_blocks: int,
        cache_seconds: float,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self._engine = engine
        self._client = client
        self._chain_id = chain_id
        self._start_block = start_block
        self._allowed_lag = confirmations + max_lag_blocks
        self._cache_seconds = cache_seconds
        self._monotonic = monotonic
        self._lock = threading.Lock()  # guards _last
        self._check_lock = threading.Lock()  # one check at a time for verdict_since
        # (when the check that produced it started, the verdict)
        self._last: tuple[float, Verdict] | None = None

    @classmethod
    def from_settings(
        cls, settings: Settings, engine: Engine, client: ChainClient, deployment: Deployment
    ) -> Readiness:
        return cls(
            engine=engine,
            client=client,
            chain_id=deployment.chain_id,
            start_block=deployment.start_block,
            confirmations=settings.confirmations,
            max_lag_blocks=settings.ready_max_lag_blocks,
            cache_seconds=settings.ready_cache_seconds,
        )

    def now(self) -> float:
        return self._monotonic()

    def cached_ready(self) -> Verdict | None:
        """The last verdict if it said ready and is fresh enough for intake, else None (no I/O).
        Only "ready" is reused: a "not ready" that a moment later is wrong would refuse intents
        the server can take (a server that just caught up)."""
        last = self._last
        if last is not None and last[1].ready and self._monotonic() - last[0] < self._cache_seconds:
            return last[1]
        return None

    def verdict_since(self, asked_at: float) -> Verdict:
        """A verdict from a check that started at or after `asked_at`. Concurrent callers share
        one check (so a flood of intents while not ready costs one node call at a time)."""
        with self._check_lock:
            last = self._last
            if last is not None and last[0] >= asked_at:
                return last[1]
            return self.check()

    def check(self) -> Verdict:
        """A fresh verdict (one store round trip and one eth_blockNumber)."""
        started = self._monotonic()
        reasons: list[Reason] = []
        facts = self._store_facts(reasons)
        head = self._head(reasons)
        lag = self._lag(head, facts, reasons)
        if facts is not None:
            for sender, why in facts.degraded:
                reasons.append(
                    Reason(RELAYER_DEGRADED, f"relayer sender {sender} is degraded: {scrub(why)}")
                )
        verdict = Verdict(
            reasons=reasons,
            head=head,
            cursor=facts.cursor if facts else None,
            lag=lag,
            relayer_degraded=bool(facts and facts.degraded),
        )
        with self._lock:
            if self._last is None or self._last[0] <= started:
                self._last = (started, verdict)
        return verdict

    def _store_facts(self, reasons: list[Reason]) -> _StoreFacts | None:
        ct, st = IndexerCursor.__table__, RelaySender.__table__
        try:
            with self._engine.connect() as conn:
                row = conn.execute(
                    select(ct.c.block_number, ct.c.start_block).where(
                        ct.c.chain_id == self._chain_id
                    )
                ).first()
                degraded = conn.execute(
                    select(st.c.address, st.c.degraded_reason).where(
                        st.c.chain_id == self._chain_id, st.c.degraded_reason.is_not(None)
                    )
                ).all()
        except Exception as exc:  # any store failure makes the server not ready, never raises
            first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            reasons.append(Reason(STORE_UNAVAILABLE, f"the store does not answer: {first_line}"))
            return None
        cursor = row[0] if row is not None and row[0] >= row[1] else None
        return _StoreFacts(cursor, [(address, reason) for address, reason in degraded])

    def _head(self, reasons: list[Reason]) -> int | None:
        try:
            return self._client.block_number()
        except CopyvaultError as exc:
            reasons.append(Reason(NODE_UNAVAILABLE, scrub(str(exc))))
            return None

    def _lag(
        self, head: int | None, facts: _StoreFacts | None, reasons: list[Reason]
    ) -> int | None:
        if head is None or facts is None:
            return None
        indexed_up_to = facts.cursor if facts.cursor is not None else self._start_block - 1
        lag = max(0, head - indexed_up_to)
        if lag > self._allowed_lag:
            reasons.append(
                Reason(
                    INDEX_BEHIND,
                    f"the index is {lag} blocks behind the chain head {head} (at most "
                    f"{self._allowed_lag} allowed): intents are judged against the index, so "
                    "intake waits until it catches up",
                )
            )
        return lag
