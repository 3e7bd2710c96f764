"""The anchorer: a loop (like the relayer's and the indexer's) that publishes, every
`anchor_interval_seconds` (or sooner, after `anchor_after_entries` new audit entries), the head of
the audit log and the Merkle root of the intents accepted since the last anchor, to AuditAnchor.

Each anchor covers the intents accepted in [from, to): `from` is where the last anchor on chain
ended (0 for the first), `to` is `anchor_settle_seconds` before now (and never after the chain's
latest block time, which the contract requires), so an intent whose insert was still in flight
falls in the next interval rather than in none. The chain is read for the last anchor on every
round: two anchorers, or one restarted, never skip or repeat an interval (the contract refuses a
gap or an overlap).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from backend.audit.anchors import AnchorContract, intent_tree
from backend.chain.client import ChainClient
from backend.chain.tx import Sender
from backend.db.audit_models import AuditAnchor
from backend.db.engine import is_store_outage, outage_reason
from backend.exceptions import CopyvaultError
from backend.services import audit_log

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AnchorPolicy:
    interval_seconds: int = 3600
    after_entries: int = 0  # 0: by interval only
    settle_seconds: int = 10
    poll_seconds: float = 1.0

    @classmethod
    def from_settings(cls, settings: object) -> AnchorPolicy:
        return cls(
            interval_seconds=settings.anchor_interval_seconds,  # type: ignore[attr-defined]
            after_entries=settings.anchor_after_entries,  # type: ignore[attr-defined]
            settle_seconds=settings.anchor_settle_seconds,  # type: ignore[attr-defined]
        )


class Anchorer:
    def __init__(
        self,
        engine: Engine,
        client: ChainClient,
        contract: AnchorContract,
        sender: Sender,
        *,
        chain_id: int,
        policy: AnchorPolicy | None = None,
        wall_clock: Callable[[], float] = time.time,
    ):
        self.engine = engine
        self.client = client
        self.contract = contract
        self.sender = sender
        self.chain_id = chain_id
        self.policy = policy or AnchorPolicy()
        self.wall_clock = wall_clock

    def __repr__(self) -> str:
        return (
            f"Anchorer(chain {self.chain_id}, {self.contract.address}, from {self.sender.address})"
        )

    def _interval(self) -> tuple[int, int, int, int]:
        """(index of the next anchor, its from, its to, the head seq anchored last) as the chain
        and the clock say now."""
        count = self.contract.count()
        last = self.contract.at(count - 1) if count else None
        block = self.client.request("eth_getBlockByNumber", ["latest", False])
        chain_now = int(block["timestamp"], 16)
        to_time = min(int(self.wall_clock()) - self.policy.settle_seconds, chain_now)
        if last is None:
            return 0, 0, to_time, 0
        return count, last.to_time, to_time, last.head_seq

    def anchor_if_due(self) -> AuditAnchor | None:
        """Publish the next anchor when it is due; the stored copy of it, or None."""
        index, from_time, to_time, anchored_seq = self._interval()
        with Session(self.engine) as s:
            head_seq, head_hash = audit_log.head(s)
            if to_time <= from_time or not self._due(from_time, to_time, head_seq - anchored_seq):
                return None
            tree = intent_tree(s, self.chain_id, from_time, to_time)
        receipt = self.sender.send(
            self.contract.address,
            self.contract.anchor_call(head_seq, head_hash, tree.root, from_time, to_time),
        )
        row = AuditAnchor(
            chain_id=self.chain_id,
            anchor_index=index,
            contract=self.contract.address,
            head_seq=head_seq,
            head_hash=head_hash,
            intents_root="0x" + tree.root.hex(),
            intent_count=len(tree),
            from_time=from_time,
            to_time=to_time,
            tx_hash=receipt["transactionHash"],
            block_number=int(receipt["blockNumber"], 16),
            anchored_at=datetime.now(UTC),
        )
        with Session(self.engine, expire_on_commit=False) as s, s.begin():
            s.add(row)
        log.info(
            "anchor %d: audit head %d, %d intents accepted in [%d, %d), tx %s",
            index, head_seq, len(tree), from_time, to_time, row.tx_hash,
        )  # fmt: skip
        return row

    def _due(self, from_time: int, to_time: int, unanchored_entries: int) -> bool:
        if from_time == 0:
            return True  # the first anchor: everything before now
        if to_time - from_time >= self.policy.interval_seconds:
            return True
        after = self.policy.after_entries
        return after > 0 and unanchored_entries >= after

    def run(self, stop: threading.Event) -> None:
        """Anchor whenever due until `stop` is set; errors are logged and retried next round."""
        while not stop.is_set():
            try:
                self.anchor_if_due()
            except CopyvaultError as exc:  # the node refused or is down: the next round retries
                log.error("anchoring failed (will retry): %s", exc)
            except DBAPIError as exc:
                if not is_store_outage(exc):
                    raise
                log.error("anchoring waits for the store: %s", outage_reason(exc))
            stop.wait(self.policy.poll_seconds)


def run_in_thread(anchorer: Anchorer) -> tuple[threading.Thread, threading.Event]:
    """Start `anchorer.run` in a daemon thread; set the returned event to stop it."""
    stop = threading.Event()
    thread = threading.Thread(target=anchorer.run, args=(stop,), name="audit-anchorer", daemon=True)
    thread.start()
    return thread, stop
