"""The relayer: turns accepted intents into mirrorAggregated transactions and records what happened.

A worker repeats three kinds of work, each a short database transaction around local decisions, so
several workers (threads or processes, on one PostgreSQL store) can share one queue:

1. **Plan** an intent whose vaults wait for a plan (`plan_due`). The worker claims it for a lease
   (`FOR UPDATE SKIP LOCKED`, then `claimed_by` / `claim_expires_at`), fairly between leaders: the
   oldest waiting intent of the leader whose last turn (`relay_leader_turns`) is longest ago, a
   leader never served first (round-robin: one leader's backlog delays another leader's intent by
   at most one planning turn per worker, and a backlogged leader still gets every other turn). It
   checks the intent once more on chain (`registry.verifyIntent`), takes the vaults that follow the
   leader from the index, simulates and splits them into batches (`planner.plan_batches`), and
   saves batches and per-vault outcomes in one transaction, only if its claim still holds. A worker
   that dies mid-plan sent nothing; the lease runs out and another worker plans the intent.
2. **Send** a planned batch: in one transaction the batch row is locked (`SKIP LOCKED`), the sender
   row is locked to take the next nonce, the transaction is signed and stored, and the batch becomes
   `signed`. Only then is it broadcast. A batch is signed once; a crash after the commit leaves a
   stored transaction that the next round broadcasts (the same bytes, the same nonce).
3. **Track** signed batches: a receipt makes the batch `included`, and once its block has
   `confirmations` blocks it is `mined` (final: per-vault outcomes from its logs); until then
   every round checks the receipt against the canonical chain, and a batch a reorg undid goes
   back to planning. A transaction not mined after `replace_after` seconds is replaced by one with
   the same nonce and higher fees, so at most one of them is mined; a nonce used by a transaction
   that is none of the batch's means the batch was dropped. A reverted, dropped or reorged batch
   puts its vaults back to planning, where each is first checked with `isIntentExecuted` on chain:
   nothing is sent twice.

The sender's nonce lives in `relay_senders` and is reconciled with the node every round: a node
ahead (the key sent elsewhere) moves it up; a node behind (transactions forgotten or undone) is a
gap, filled or handed out again (`_close_gap`). A stuck transaction the fee cap keeps from being
replaced marks the sender degraded until it clears. The signer never leaves `RelayerSigner`.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from eth_utils import to_checksum_address
from sqlalchemy import Engine, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Session

from backend.chain.abi import ContractAbi
from backend.chain.artifacts import Artifacts
from backend.chain.artifacts import load as load_artifacts
from backend.chain.client import ChainClient
from backend.chain.clock import ChainClock
from backend.chain.deploy import Deployment
from backend.db.engine import is_store_outage
from backend.db.models import Trade, Vault
from backend.db.relay_models import (
    Intent,
    RelayBatch,
    RelayLeaderTurn,
    RelayOutcome,
    RelaySender,
    RelayTransaction,
)
from backend.exceptions import ChainError, CopyvaultError, RpcError
from backend.indexer.decoder import LogDecoder
from backend.relayer.controls import relayer_paused
from backend.relayer.fees import GWEI, Fees, bumped, current_fees
from backend.relayer.planner import LeftOut, PlannedBatch, plan_batches
from backend.relayer.receipts import BatchReceipt, read_receipt
from backend.relayer.simulate import MirrorSimulator
from backend.services import audit_log
from backend.services.intents import intent_message

log = logging.getLogger(__name__)

# A batch not settled yet: the intent is not done while one of its batches is in these.
IN_FLIGHT: Final = ("planned", "signed", "included")
# A batch whose vaults wait for a new plan (after asking the chain which of them executed).
UNDONE: Final = ("reverted", "dropped", "reorged")
SELF_TRANSFER_GAS: Final = 21_000
# How far back a re-plan looks on chain for the Mirrored log of a vault that executed the intent in
# a transaction the index has not reached (one eth_getLogs on one address and one digest topic).
EXECUTED_LOOKBACK_BLOCKS: Final = 5_000
# Seconds of deadline a batch must still have when it is signed (time to be mined).
SEND_MARGIN: Final = 5
ERROR_BACKOFF: Final = 1.0


@dataclass(frozen=True)
class RelayerConfig:
    batch_gas: int = 2**24
    max_batch: int = 200
    poll_interval: float = 0.2
    replace_after: float = 30.0
    fee_bump_percent: int = 25
    max_fee_per_gas: int = 500 * GWEI
    claim_seconds: float = 60.0
    max_attempts: int = 3
    # Blocks (the receipt's own included) before a batch is final. Servers take it from
    # COPYVAULT_RELAYER_CONFIRMATIONS (12 by default); 0 here for tests on a private anvil.
    confirmations: int = 0

    @classmethod
    def from_settings(cls, settings: Any) -> RelayerConfig:
        return cls(
            batch_gas=settings.relayer_batch_gas,
            max_batch=settings.relayer_max_batch,
            poll_interval=settings.relayer_poll_interval,
            replace_after=settings.relayer_replace_after,
            fee_bump_percent=settings.relayer_fee_bump_percent,
            max_fee_per_gas=int(settings.relayer_max_fee_gwei * GWEI),
            claim_seconds=settings.relayer_claim_seconds,
            max_attempts=settings.relayer_max_attempts,
            confirmations=settings.relayer_confirmations,
        )


@dataclass
class RelayerStats:
    intents_planned: int = 0
    batches_sent: int = 0
    replacements: int = 0
    batches_mined: int = 0
    batches_failed: int = 0
    batches_reorged: int = 0
    nonce_gaps: int = 0
    last_error: str | None = None


@dataclass
class _Plan:
    """What planning decided for an intent, before it is saved."""

    batches: list[PlannedBatch] = field(default_factory=list)
    attempt: int = 1
    # Vaults settled without a batch: lowercase address -> outcome columns.
    settled: dict[str, dict[str, Any]] = field(default_factory=dict)
    rejected: str | None = None


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _unavailable(error: Exception) -> str | None:
    """What is down when `error` means an outage ("the node", "the store"); None for a bug. A
    store outage is a lost or refused connection or an exhausted pool, never a statement the
    store refused (an IntegrityError says the relayer broke a constraint)."""
    if isinstance(error, ChainError):
        return "the node"
    if is_store_outage(error) or isinstance(error, PoolTimeoutError):
        return "the store"
    return None


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


class _Outage:
    """Logs an outage of the store or the node once when it begins and once when it ends: a
    retry every second must not fill the log (nor print a traceback for a known condition)."""

    def __init__(self, worker_id: str):
        self.worker_id = worker_id
        self.what: str | None = None
        self.since = 0.0

    def began(self, what: str, error: str) -> None:
        if self.what == what:
            return
        self.what, self.since = what, time.monotonic()
        log.warning(
            "relayer %s: %s is unavailable (%s); retrying every %.0fs",
            self.worker_id,
            what,
            error,
            ERROR_BACKOFF,
        )

    def over(self) -> None:
        if self.what is None:
            return
        log.info(
            "relayer %s: %s answers again after %.0fs",
            self.worker_id,
            self.what,
            time.monotonic() - self.since,
        )
        self.what = None


def _mirrored(tx_hash: str, block: int, amount_in: int, amount_out: int) -> dict[str, Any]:
    return {
        "status": "mirrored",
        "tx_hash": tx_hash,
        "block_number": block,
        "amount_in": int(amount_in),
        "amount_out": int(amount_out),
    }


def _skipped(reason: str, selector: str | None = None) -> dict[str, Any]:
    return {"status": "skipped", "reason": reason, "reason_selector": selector}


class RelayerWorker:
    def __init__(
        self,
        engine: Engine,
        client: ChainClient,
        deployment: Deployment,
        signer: Any,
        *,
        config: RelayerConfig | None = None,
        artifacts: Artifacts | None = None,
        clock: ChainClock | None = None,
        worker_id: str | None = None,
    ):
        self.engine = engine
        self.client = client
        self.deployment = deployment
        self.chain_id = deployment.chain_id
        self.signer = signer
        self.sender = signer.address.lower()
        self.config = config or RelayerConfig()
        self.clock = clock or ChainClock(client)
        self.worker_id = worker_id or f"worker-{secrets.token_hex(4)}"
        self.stats = RelayerStats()
        artifacts = artifacts or load_artifacts()
        self.decoder = LogDecoder(artifacts)
        self.registry_abi = ContractAbi(artifacts.get("LeaderRegistry"))
        self.vault_abi = ContractAbi(artifacts.get("CopyVault"))
        self._mirrored_topic = self.decoder.topic_of("vault", "Mirrored")
        self.simulator = MirrorSimulator(
            client,
            router=deployment.router,
            router_abi=ContractAbi(artifacts.get("CopyRouter")),
            sender=signer.address,
            error_names=artifacts.error_names(),
        )

    def __repr__(self) -> str:
        return f"RelayerWorker({self.worker_id}, sender={self.signer.address})"

    def _write(self) -> Session:
        """A session whose transactions take SQLite's write lock at BEGIN (as the indexer's do)."""
        return Session(self.engine.execution_options(sqlite_immediate=True), expire_on_commit=False)

    # ------------------------------------------------------------------ the loop

    def run(self, stop: threading.Event, wakeup: threading.Event | None = None) -> None:
        """Work until `stop` is set; sleep `poll_interval` (or until `wakeup`) when idle."""
        wakeup = wakeup or threading.Event()
        outage = _Outage(self.worker_id)
        last_bug: str | None = None
        while not stop.is_set():
            try:
                busy = self.step()
                outage.over()
            except Exception as exc:
                what = _unavailable(exc)
                if what is not None:
                    # The store or the node down (or the pool exhausted): one line per outage,
                    # not one per try, and no traceback for a condition the operator understands.
                    self.stats.last_error = _first_line(getattr(exc, "orig", None) or exc)
                    outage.began(what, self.stats.last_error)
                else:
                    # A bug (an IntegrityError too: a constraint the relayer broke) must not pass
                    # for an outage, nor leave a process that looks alive and relays nothing: log
                    # it whole once per distinct error, keep it in the stats, retry the round.
                    self.stats.last_error = f"{type(exc).__name__}: {_first_line(exc)}"
                    if self.stats.last_error != last_bug:
                        last_bug = self.stats.last_error
                        log.exception("relayer %s: unexpected error; retrying", self.worker_id)
                stop.wait(ERROR_BACKOFF)
                continue
            last_bug = None
            if not busy:
                wakeup.wait(self.config.poll_interval)
                wakeup.clear()

    def step(self) -> bool:
        """One round of each kind of work; whether anything was done."""
        self.reconcile_nonce()
        if self.paused():
            return self.track()  # operators' pause: no new batches; in-flight ones are followed
        busy = self.plan_next()
        while self.send_next():
            busy = True
        return self.track() or busy

    def run_until_idle(self, *, timeout: float = 60.0, mine: Any = None) -> None:
        """Rounds until nothing is planned or in flight (tests and the demo). `mine` is called
        between rounds when given (to mine a block on a node without automine)."""
        self.reconcile_nonce()
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.step()
            if not self.has_work():
                return
            if mine is not None:
                mine()
            time.sleep(0.02)
        raise TimeoutError(f"the relayer still had work after {timeout:.0f}s")

    def paused(self) -> bool:
        """Whether an operator paused the relayer (read every round; see relayer/controls.py)."""
        with Session(self.engine) as session:
            return relayer_paused(session, self.chain_id)

    def has_work(self) -> bool:
        with Session(self.engine) as session:
            due = session.scalar(
                select(Intent.id).where(Intent.chain_id == self.chain_id, Intent.plan_due).limit(1)
            )
            flying = session.scalar(
                select(RelayBatch.id)
                .where(RelayBatch.chain_id == self.chain_id, RelayBatch.status.in_(IN_FLIGHT))
                .limit(1)
            )
        return due is not None or flying is not None

    # ------------------------------------------------------------------ nonces

    def _node_nonce(self, tag: str) -> int:
        return int(self.client.request("eth_getTransactionCount", [self.signer.address, tag]), 16)

    def reconcile_nonce(self) -> int:
        """Bring the stored next nonce in line with the node's pending count (every round).

        The node ahead: the key sent transactions outside the relayer; continue from the node's.
        The node behind: a gap, nonces handed out whose transactions the node no longer has
        (undone by a reorg, dropped from its pool). Left alone, every later transaction waits
        behind the gap forever, however high its fee (`_close_gap`)."""
        with Session(self.engine) as s:
            stored = s.scalar(self._sender_query())
        if stored is not None and stored == self._node_nonce("pending"):
            return stored  # the usual round: no write lock taken
        with self._write() as s, s.begin():
            self._insert_sender_if_missing(s, self._node_nonce("pending"))
            row = s.scalar(self._sender_query(RelaySender).with_for_update())
            assert row is not None
            # Read again under the lock: no worker hands out a nonce meanwhile.
            pending = self._node_nonce("pending")
            if pending > row.next_nonce:
                log.warning(
                    "sender %s: the node's nonce %d is past the stored %d (the key sent other "
                    "transactions); continuing from the node's",
                    self.signer.address,
                    pending,
                    row.next_nonce,
                )
                row.next_nonce, row.updated_at = pending, _utcnow()
            elif pending < row.next_nonce:
                self._close_gap(s, row, pending)
            return row.next_nonce

    def _sender_query(self, what: Any = RelaySender.next_nonce) -> Any:
        return select(what).where(
            RelaySender.chain_id == self.chain_id, RelaySender.address == self.sender
        )

    def _close_gap(self, s: Session, row: RelaySender, pending: int) -> None:
        """Nonces from `pending` up to the stored next one that no batch in flight holds are a
        gap. (A batch in flight whose transaction the node forgot is broadcast again by `track`,
        the very bytes signed.) Missing nonces above every batch in flight are handed out again;
        those below one are filled with a 0-value transfer to the sender itself, so the
        transactions after them can be mined. A missing nonce's own stored transaction is not
        sent again: its batch is closed (reorged, say) and its vaults are being planned anew, so
        sending it could trade them in a transaction the relayer no longer follows. (The new plan
        may sign to those very bytes again: then the new batch takes the transaction over and
        follows it, `_store_transaction`.)"""
        in_flight = set(
            s.scalars(
                select(RelayBatch.tx_nonce).where(
                    RelayBatch.chain_id == self.chain_id,
                    RelayBatch.sender == self.sender,
                    RelayBatch.status == "signed",
                    RelayBatch.tx_nonce >= pending,
                )
            )
        )
        missing = [n for n in range(pending, row.next_nonce) if n not in in_flight]
        if not missing:
            return
        highest = max(in_flight, default=pending - 1)
        filled = [n for n in missing if n < highest]
        log.warning(
            "sender %s: the node has no transaction for nonces %s (undone by a reorg or dropped); "
            "%d filled with a 0-value self-transfer, the rest handed out again",
            self.signer.address,
            _ranges(missing),
            len(filled),
        )
        refused = [n for n in filled if not self._send_filler(n)]
        row.next_nonce, row.updated_at = highest + 1, _utcnow()
        if not refused:  # a gap the node refused to fill is found again next round: counted then
            row.nonce_gaps += 1
            self.stats.nonce_gaps += 1

    def _send_filler(self, nonce: int) -> bool:
        """Whether the node took a 0-value self-transfer with this nonce (or already has one)."""
        fees = current_fees(self.client, cap=self.config.max_fee_per_gas)
        signed = self.signer.sign_transaction(
            {
                "type": 2,
                "chainId": self.chain_id,
                "nonce": nonce,
                "to": self.signer.address,
                "value": 0,
                "data": "0x",
                "gas": SELF_TRANSFER_GAS,
                "maxFeePerGas": fees.max_fee_per_gas,
                "maxPriorityFeePerGas": fees.max_priority_fee_per_gas,
            }
        )
        try:
            self.client.request("eth_sendRawTransaction", [signed.raw])
        except RpcError as exc:
            text = str(exc).lower()
            if any(phrase in text for phrase in ("already known", "nonce too low")):
                return True  # the nonce is taken meanwhile: the gap is closed either way
            log.warning("sender %s: filler for nonce %d refused: %s", self.sender, nonce, exc)
            return False
        return True

    def _insert_sender_if_missing(self, s: Session, next_nonce: int) -> None:
        """Two workers starting together both find no row; ON CONFLICT DO NOTHING lets the second
        wait for the first's row instead of failing on the primary key."""
        s.execute(
            _insert(s)(RelaySender)
            .values(
                chain_id=self.chain_id,
                address=self.sender,
                next_nonce=next_nonce,
                updated_at=_utcnow(),
            )
            .on_conflict_do_nothing()
        )

    # ------------------------------------------------------------------ 1. plan

    def plan_next(self) -> bool:
        claimed = self._claim_intent()
        if claimed is None:
            return False
        intent_id, message, signature, digest, leader = claimed
        try:
            plan = self._plan(intent_id, message, signature, digest, leader)
        except BaseException:
            self._release_claim(intent_id)  # let the next round (or another worker) try again
            raise
        self._save_plan(intent_id, plan)
        self.stats.intents_planned += 1
        return True

    def _release_claim(self, intent_id: int) -> None:
        with self._write() as s, s.begin():
            intent = s.get(Intent, intent_id, with_for_update=True)
            if intent is not None and intent.claimed_by == self.worker_id:
                intent.claimed_by = intent.claim_expires_at = None

    def _claim_intent(self) -> tuple | None:
        """Claim the next intent to plan: round-robin over leaders (the leader whose last turn is
        oldest, or who never had one, goes first; its oldest waiting intent), not first-in-first-
        out, so a leader's backlog cannot hold back another leader's intent."""
        now = _utcnow()
        with self._write() as s, s.begin():
            turn = RelayLeaderTurn
            intent = s.scalar(
                select(Intent)
                .outerjoin(
                    turn, (turn.chain_id == Intent.chain_id) & (turn.leader == Intent.leader)
                )
                .where(
                    Intent.chain_id == self.chain_id,
                    Intent.plan_due,
                    or_(Intent.claim_expires_at.is_(None), Intent.claim_expires_at < now),
                )
                .order_by(turn.served_at.asc().nulls_first(), Intent.id)
                .limit(1)
                .with_for_update(skip_locked=True, of=Intent)
            )
            if intent is None:
                return None
            self._take_turn(s, intent.leader, now)
            intent.claimed_by = self.worker_id
            intent.claim_expires_at = now + timedelta(seconds=self.config.claim_seconds)
            if intent.status == "accepted":
                intent.status = "planning"
            intent.updated_at = now
            signature = bytes.fromhex(intent.signature[2:])
            return intent.id, intent_message(intent), signature, intent.digest, intent.leader

    def _take_turn(self, s: Session, leader: str, now: datetime) -> None:
        """Record the leader's turn (an upsert: two workers may serve one leader at once)."""
        statement = _insert(s)(RelayLeaderTurn).values(
            chain_id=self.chain_id, leader=leader, served_at=now
        )
        s.execute(
            statement.on_conflict_do_update(
                index_elements=["chain_id", "leader"], set_={"served_at": now}
            )
        )

    def _plan(self, intent_id: int, message, signature: bytes, digest: str, leader: str) -> _Plan:
        plan = _Plan()
        waiting, plan.attempt, last_error = self._waiting_vaults(intent_id, leader)
        refusal = self._chain_refusal(message, signature)
        if refusal is not None:
            plan.rejected = refusal
            plan.settled = {
                v: _skipped(f"the registry refuses the intent: {refusal}") for v in waiting
            }
            return plan
        waiting = self._settle_executed(plan, message, digest, waiting)
        if plan.attempt > self.config.max_attempts:
            reason = f"not relayed after {self.config.max_attempts} attempts: {last_error}"
            plan.settled |= {v: _skipped(reason) for v in waiting}
            return plan
        batches, left_out = self._simulate_and_split(message, signature, waiting)
        plan.batches = batches
        plan.settled |= {x.vault.lower(): _left_out(x) for x in left_out}
        return plan

    def _waiting_vaults(self, intent_id: int, leader: str) -> tuple[list[str], int, str | None]:
        """(vaults to plan, their attempt number, the last batch error). First time: every vault
        the index shows following the leader; later: those of reverted or dropped batches."""
        with Session(self.engine) as s:
            outcomes = s.scalars(select(RelayOutcome).where(RelayOutcome.intent_id == intent_id))
            known = {o.vault: o for o in outcomes}
            if not known:
                followers = s.scalars(
                    select(Vault.address)
                    .where(Vault.chain_id == self.chain_id, Vault.leader == leader)
                    .order_by(Vault.address)
                ).all()
                return list(followers), 1, None
            failed = {
                b.id: b
                for b in s.scalars(
                    select(RelayBatch).where(
                        RelayBatch.intent_id == intent_id,
                        RelayBatch.status.in_(UNDONE),
                    )
                )
            }
        waiting = sorted(
            v for v, o in known.items() if o.status == "pending" and o.batch_id in failed
        )
        previous = [failed[known[v].batch_id] for v in waiting]
        attempt = 1 + max((b.attempt for b in previous), default=0)
        last_error = previous[-1].error if previous else None
        return waiting, attempt, last_error

    def _chain_refusal(self, message, signature: bytes) -> str | None:
        """Why the registry refuses the intent now (its error's signature), or None."""
        data = self.registry_abi.fn("verifyIntent").encode(message.values(), signature)
        try:
            self.client.call(self.deployment.registry, data)
        except RpcError as exc:
            revert = exc.revert_data
            if revert is None:
                raise
            return self.simulator.reason_of(revert)
        return None

    def _settle_executed(self, plan: _Plan, message, digest: str, vaults: list[str]) -> list[str]:
        """Vaults that already executed the intent on chain are settled, from the index's trade
        when there is one; the rest are returned. Asked of the chain, never assumed."""
        if not vaults or plan.attempt == 1:
            return vaults
        fn = self.vault_abi.fn("isIntentExecuted")
        data = "0x" + fn.encode(message.leader, message.nonce).hex()
        answers = self.client.batch(
            [("eth_call", [{"to": to_checksum_address(v), "data": data}, "latest"]) for v in vaults]
        )
        executed = [v for v, a in zip(vaults, answers, strict=True) if int(a, 16) == 1]
        for vault in executed:
            plan.settled[vault] = self._executed_outcome(vault, digest)
        return [v for v in vaults if v not in plan.settled]

    def _executed_outcome(self, vault: str, digest: str) -> dict[str, Any]:
        """How a vault that already executed the intent did it: from the index's trade, else from
        its `Mirrored` log on chain (after a reorg the index may not have reached that block yet;
        settling from the index alone recorded a mirrored vault as skipped)."""
        with Session(self.engine) as s:
            trade = s.scalar(
                select(Trade).where(
                    Trade.chain_id == self.chain_id, Trade.digest == digest, Trade.vault == vault
                )
            )
        if trade is not None:
            return _mirrored(trade.tx_hash, trade.block_number, trade.amount_in, trade.amount_out)
        mirrored = self._mirrored_log(vault, digest)
        if mirrored is not None:
            args = mirrored.args
            return _mirrored(
                mirrored.tx_hash, mirrored.block_number, args["amountIn"], args["amountOut"]
            )
        return _skipped(
            "IntentAlreadyExecuted: the vault took this intent in a transaction the relayer did "
            f"not send, more than {EXECUTED_LOOKBACK_BLOCKS} blocks ago"
        )

    def _mirrored_log(self, vault: str, digest: str):
        """The vault's newest `Mirrored` log of this intent within the look-back window."""
        head = self.client.block_number()
        logs = self.client.get_logs(
            max(0, head - EXECUTED_LOOKBACK_BLOCKS),
            head,
            [to_checksum_address(vault)],
            [self._mirrored_topic, None, None, digest],
        )
        return self.decoder.decode(logs[-1], "vault") if logs else None

    def _simulate_and_split(
        self, message, signature: bytes, vaults: Sequence[str]
    ) -> tuple[list[PlannedBatch], list[LeftOut]]:
        intent = message.values()
        checksummed = [to_checksum_address(v) for v in vaults]

        def simulate(chunk: Sequence[str], gas: int):
            return self.simulator.simulate(intent, signature, chunk, gas=gas)

        return plan_batches(
            checksummed, simulate, max_batch=self.config.max_batch, budget=self.config.batch_gas
        )

    def _save_plan(self, intent_id: int, plan: _Plan) -> None:
        now = _utcnow()
        with self._write() as s, s.begin():
            intent = s.get(Intent, intent_id, with_for_update=True)
            if intent is None or intent.claimed_by != self.worker_id or not intent.plan_due:
                log.warning("intent %s: the claim was lost while planning; plan dropped", intent_id)
                return
            for planned in plan.batches:
                batch = self._new_batch(intent, planned, plan.attempt, now)
                s.add(batch)
                s.flush()
                for vault in planned.vaults:
                    self._set_outcome(s, intent_id, vault, now, status="pending", batch_id=batch.id)
            for vault, columns in plan.settled.items():
                self._set_outcome(s, intent_id, vault, now, **columns)
            intent.plan_due = False
            intent.claimed_by = intent.claim_expires_at = None
            if plan.rejected is not None:
                intent.status, intent.error = "rejected", plan.rejected
            else:
                intent.status = "relaying"
                self._close_if_done(s, intent)
            intent.updated_at = now

    def _new_batch(
        self, intent: Intent, planned: PlannedBatch, attempt: int, now: datetime
    ) -> RelayBatch:
        return RelayBatch(
            chain_id=self.chain_id,
            intent_id=intent.id,
            status="planned",
            vaults=planned.vaults,
            attempt=attempt,
            gas_limit=planned.gas_limit,
            simulated_gas=planned.simulation.gas_used,
            simulated_mirrored=planned.simulation.mirrored,
            created_at=now,
            updated_at=now,
        )

    @staticmethod
    def _set_outcome(s: Session, intent_id: int, vault: str, now: datetime, **columns) -> None:
        row = s.get(RelayOutcome, (intent_id, vault.lower()))
        if row is None:
            row = RelayOutcome(intent_id=intent_id, vault=vault.lower())
            s.add(row)
        for name in ("status", "batch_id", "reason", "reason_selector", "tx_hash", "block_number"):
            if name in columns:
                setattr(row, name, columns[name])
        row.amount_in = columns.get("amount_in")
        row.amount_out = columns.get("amount_out")
        row.updated_at = now

    def _close_if_done(self, s: Session, intent: Intent) -> None:
        if intent.plan_due:
            return
        flying = s.scalar(
            select(RelayBatch.id)
            .where(RelayBatch.intent_id == intent.id, RelayBatch.status.in_(IN_FLIGHT))
            .limit(1)
        )
        if flying is None and intent.status == "relaying":
            intent.status = "done"

    # ------------------------------------------------------------------ 2. send

    def send_next(self) -> bool:
        """Sign, store and broadcast one planned batch; whether there was one."""
        if not self._any_batch("planned"):
            return False
        fees = current_fees(self.client, cap=self.config.max_fee_per_gas)
        signed = self._sign_next(fees)
        if signed is None:
            return False
        if signed is not True:
            self._broadcast(*signed)
        return True

    def _any_batch(self, status: str) -> bool:
        with Session(self.engine) as s:
            found = s.scalar(
                select(RelayBatch.id)
                .where(RelayBatch.chain_id == self.chain_id, RelayBatch.status == status)
                .limit(1)
            )
        return found is not None

    def _sign_next(self, fees: Fees) -> tuple[int, str] | bool | None:
        """(transaction row id, raw) of the batch signed now; True when a batch expired instead."""
        now = _utcnow()
        with self._write() as s, s.begin():
            batch = s.scalar(
                select(RelayBatch)
                .where(RelayBatch.chain_id == self.chain_id, RelayBatch.status == "planned")
                .order_by(RelayBatch.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
            if batch is None:
                return None
            intent = s.get(Intent, batch.intent_id)
            assert intent is not None
            if intent.deadline < self.clock.now() + SEND_MARGIN:
                self._expire(s, batch, intent, now)
                return True
            sender = s.scalar(
                select(RelaySender)
                .where(RelaySender.chain_id == self.chain_id, RelaySender.address == self.sender)
                .with_for_update()
            )
            if sender is None:
                raise CopyvaultError("the relayer's sender row is missing: reconcile_nonce first")
            nonce = sender.next_nonce
            sender.next_nonce, sender.updated_at = nonce + 1, now
            row = self._signed_row(batch, intent, nonce, fees, now)
            self._store_transaction(s, batch, row)
            batch.status, batch.sender, batch.tx_nonce, batch.updated_at = (
                "signed",
                self.sender,
                nonce,
                now,
            )
            s.flush()
            self._audit(s, "relayer.batch_signed", intent, batch, now, tx_hash=row.tx_hash)
            self.stats.batches_sent += 1
            return row.id, row.raw

    def _audit(
        self, s: Session, action: str, intent: Intent, batch: RelayBatch, now: datetime, **more
    ) -> None:
        """A relayed batch in the audit trail, in the transaction that changed it (last, so the
        chain's head lock is held only until that commit)."""
        audit_log.append(
            s,
            category="relayed_batch",
            actor=f"relayer:{self.sender}",
            action=action,
            subject=intent.digest,
            after={
                "chain_id": self.chain_id,
                "batch": batch.id,
                "attempt": batch.attempt,
                "vaults": len(batch.vaults),
                "nonce": batch.tx_nonce,
                **more,
            },
            at=now,
        )

    def _signed_row(
        self, batch: RelayBatch, intent: Intent, nonce: int, fees: Fees, now: datetime
    ) -> RelayTransaction:
        data = self.simulator.call_data(
            intent_message(intent).values(), bytes.fromhex(intent.signature[2:]), batch.vaults
        )
        signed = self.signer.sign_transaction(
            {
                "type": 2,
                "chainId": self.chain_id,
                "nonce": nonce,
                "to": self.deployment.router,
                "value": 0,
                "data": "0x" + data.hex(),
                "gas": batch.gas_limit,
                "maxFeePerGas": fees.max_fee_per_gas,
                "maxPriorityFeePerGas": fees.max_priority_fee_per_gas,
            }
        )
        return RelayTransaction(
            batch_id=batch.id,
            tx_hash=signed.hash,
            sender=self.sender,
            nonce=nonce,
            max_fee_per_gas=fees.max_fee_per_gas,
            max_priority_fee_per_gas=fees.max_priority_fee_per_gas,
            raw=signed.raw,
            signed_at=now,
        )

    def _store_transaction(self, s: Session, batch: RelayBatch, row: RelayTransaction) -> None:
        """Store a transaction just signed for `batch`. It may be one signed before: a batch a
        reorg (or a drop or revert a reorg later undid) closed is planned again for the same
        vaults, gets the same nonce back (`_close_gap`) and the same fees, and signs to the very
        same bytes, the same hash. That is one transaction, so it passes to the new batch: the
        closed batch's row goes (the batch keeps the hash in its own columns and is never
        followed again) and the new batch follows it. A tx hash maps to one batch the relayer
        follows, and a receipt of it counts once, for that batch. Anything else owning the hash
        (a batch in flight or mined) would be a bug: refused, nothing is sent."""
        old = s.scalar(
            select(RelayTransaction)
            .where(RelayTransaction.tx_hash == row.tx_hash)
            .with_for_update()
        )
        if old is not None:
            owner = s.get(RelayBatch, old.batch_id, with_for_update=True)
            if owner is None or owner.status not in UNDONE or owner.id == batch.id:
                raise RuntimeError(
                    f"batch {batch.id} signed transaction {row.tx_hash} (nonce {row.nonce}), "
                    f"which batch {old.batch_id} "
                    f"({owner.status if owner is not None else 'gone'}) holds already"
                )
            s.delete(old)
            s.flush()  # the row goes before its hash is stored again
            owner.error = (
                f"{owner.error}; its transaction {row.tx_hash} was signed again, identically, "
                f"by batch {batch.id}, which follows it"
            )
            log.warning(
                "batch %d: transaction %s (nonce %d) is the one batch %d (%s) signed; "
                "batch %d follows it now",
                batch.id,
                row.tx_hash,
                row.nonce,
                owner.id,
                owner.status,
                batch.id,
            )
        s.add(row)

    def _expire(self, s: Session, batch: RelayBatch, intent: Intent, now: datetime) -> None:
        batch.status, batch.updated_at = "expired", now
        batch.error = "the intent's deadline came before the batch could be sent"
        for vault in batch.vaults:
            self._set_outcome(s, intent.id, vault, now, **_skipped(f"IntentExpired: {batch.error}"))
        self._close_if_done(s, intent)

    def _broadcast(self, row_id: int, raw: str) -> None:
        try:
            self.client.request("eth_sendRawTransaction", [raw])
        except RpcError as exc:
            text = str(exc).lower()
            # Known already, or a replacement the node holds a better-paying twin of: either way
            # the node has a transaction with this nonce; tracking takes it from here.
            if not any(
                phrase in text for phrase in ("already known", "already imported", "underpriced")
            ):
                log.warning("broadcast of relay transaction %d failed: %s", row_id, exc)
                if "nonce too low" in text:
                    self.reconcile_nonce()
                return
        with self._write() as s, s.begin():
            row = s.get(RelayTransaction, row_id)
            if row is not None and row.broadcast_at is None:
                row.broadcast_at = _utcnow()

    # ------------------------------------------------------------------ 3. track

    def track(self) -> bool:
        """Follow every signed or included batch of this sender; whether any changed."""
        with Session(self.engine) as s:
            batches = s.scalars(
                select(RelayBatch)
                .where(
                    RelayBatch.chain_id == self.chain_id,
                    RelayBatch.status.in_(("signed", "included")),
                    RelayBatch.sender == self.sender,
                )
                .order_by(RelayBatch.tx_nonce)
            ).all()
            attempts = {
                b.id: s.scalars(
                    select(RelayTransaction)
                    .where(RelayTransaction.batch_id == b.id)
                    .order_by(RelayTransaction.id)
                ).all()
                for b in batches
            }
        changed, capped = False, []
        if batches:
            node_nonce = self._node_nonce("latest")  # before the receipts: see _track_batch
            head = self.client.block_number()
            for batch in batches:
                if batch.status == "included":
                    changed |= self._follow_included(batch, attempts[batch.id], head)
                    continue
                result = self._track_batch(batch, attempts[batch.id], node_nonce, head)
                changed |= result == "changed"
                if result == "capped":
                    capped.append(batch)
        self._update_degraded(capped)
        return changed

    def _track_batch(
        self,
        batch: RelayBatch,
        attempts: Sequence[RelayTransaction],
        node_nonce: int,
        head: int,
    ) -> str:
        """What happened: "changed", "waiting", or "capped" (not mined, and the fee cap leaves no
        room for a replacement)."""
        receipts = self.client.batch([("eth_getTransactionReceipt", [t.tx_hash]) for t in attempts])
        mined = next((r for r in receipts if r), None)
        if mined is not None:
            self._on_receipt(batch.id, mined, head)
            return "changed"
        # The nonce count was read before the receipts, so a used nonce without a receipt is
        # someone else's: unless the node still knows one of ours. A node can count a mined
        # transaction's nonce before it serves the receipt (anvil under load did: the batch was
        # failed as dropped while its own transaction had been mined).
        if batch.tx_nonce is not None and node_nonce > batch.tx_nonce:
            if self._one_of_ours_known(attempts):
                return "waiting"
            self._fail_batch(batch.id, "dropped", f"nonce {batch.tx_nonce} was used by another tx")
            return "changed"
        last = attempts[-1]
        if last.broadcast_at is None or not self._node_knows(last.tx_hash):
            self._broadcast(last.id, last.raw)
            return "waiting"
        age = (_utcnow() - _aware(last.signed_at)).total_seconds()
        if age >= self.config.replace_after:
            return self._replace(batch, last)
        return "waiting"

    def _node_knows(self, tx_hash: str) -> bool:
        return self.client.request("eth_getTransactionByHash", [tx_hash]) is not None

    def _one_of_ours_known(self, attempts: Sequence[RelayTransaction]) -> bool:
        """Whether the node knows one of our attempts (pending or mined) or now serves its
        receipt: only then can the used nonce be ours. Every attempt is asked about, also one
        not recorded as broadcast (a crash can fall between sending it and recording that)."""
        hashes = [t.tx_hash for t in attempts]
        calls = [("eth_getTransactionByHash", [h]) for h in hashes]
        calls += [("eth_getTransactionReceipt", [h]) for h in hashes]
        return bool(calls) and any(answer is not None for answer in self.client.batch(calls))

    def _is_final(self, block_number: int, head: int) -> bool:
        """Whether a block has the configured confirmations (itself counted, as wallets do)."""
        return head - block_number + 1 >= self.config.confirmations

    def _follow_included(
        self, batch: RelayBatch, attempts: Sequence[RelayTransaction], head: int
    ) -> bool:
        """Check an included batch against the canonical chain; whether it changed (final now,
        moved to another block, or undone by a reorg). Every attempt is asked: a new fork may
        hold another of the batch's transactions (same nonce) than the one first mined."""
        hashes = [t.tx_hash for t in attempts]
        receipts = self.client.batch([("eth_getTransactionReceipt", [h]) for h in hashes])
        receipt = next((r for r in receipts if r), None)
        if receipt is None:
            return self._undo(batch.id, pooled=any(self._node_knows(h) for h in hashes))
        canonical = self.client.request("eth_getBlockByNumber", [receipt["blockNumber"], False])
        block_hash = receipt["blockHash"].lower()
        if canonical is None or canonical["hash"].lower() != block_hash:
            return False  # the node answered from two forks (a reorg under way): ask next round
        if block_hash == batch.block_hash and not self._is_final(batch.block_number or 0, head):
            return False
        # Final now, or re-included in another block of a new fork (its outcomes read anew).
        self._on_receipt(batch.id, receipt, head)
        return True

    def _undo(self, batch_id: int, *, pooled: bool) -> bool:
        """A reorg took the batch's transaction out of the chain. Still in the node's pool: the
        batch is in flight again (mined anew later). Gone: its vaults go back to planning, where
        `isIntentExecuted` decides which of them to send again."""
        now = _utcnow()
        with self._write() as s, s.begin():
            batch = s.get(RelayBatch, batch_id, with_for_update=True)
            if batch is None or batch.status != "included":
                return False
            was = f"block {batch.block_number} ({batch.block_hash})"
            intent = s.get(Intent, batch.intent_id, with_for_update=True)
            assert intent is not None
            if pooled:
                batch.status, batch.block_number, batch.block_hash = "signed", None, None
                log.warning(
                    "batch %d: %s was undone by a reorg; its tx is pooled again", batch_id, was
                )
            else:
                batch.status = "reorged"
                batch.error = f"undone by a reorg: {was} is no longer on the chain"
                intent.plan_due = True
                self.stats.batches_reorged += 1
                log.warning("batch %d: %s; its vaults are planned again", batch_id, batch.error)
            batch.updated_at = intent.updated_at = now
        return True

    def _on_receipt(self, batch_id: int, receipt: dict[str, Any], head: int) -> None:
        """Record a receipt of a signed or included batch: reverted (its vaults re-planned),
        included (outcomes stay pending until the block is final), or mined (final outcomes)."""
        now = _utcnow()
        with self._write() as s, s.begin():
            batch = s.get(RelayBatch, batch_id, with_for_update=True)
            if batch is None or batch.status not in ("signed", "included"):
                return
            intent = s.get(Intent, batch.intent_id, with_for_update=True)
            assert intent is not None
            result = read_receipt(
                receipt,
                router=self.deployment.router,
                digest=intent.digest,
                vaults=batch.vaults,
                decoder=self.decoder,
            )
            self._record_receipt(batch, result, receipt["blockHash"], now)
            if not result.succeeded:
                batch.status = "reverted"
                batch.error = f"the transaction reverted on chain (block {result.block_number})"
                intent.plan_due = True
                self.stats.batches_failed += 1
            elif self._is_final(result.block_number, head):
                batch.status = "mined"
                self._record_outcomes(s, intent.id, batch, result, now)
                self.stats.batches_mined += 1
            self._close_if_done(s, intent)
            intent.updated_at = now
            if batch.status in ("reverted", "mined"):
                self._audit(
                    s,
                    f"relayer.batch_{batch.status}",
                    intent,
                    batch,
                    now,
                    tx_hash=result.tx_hash,
                    block=result.block_number,
                    mirrored=result.mirrored,
                    skipped=result.skipped,
                )

    @staticmethod
    def _record_receipt(
        batch: RelayBatch, result: BatchReceipt, block_hash: str, now: datetime
    ) -> None:
        batch.status = "included"
        batch.tx_hash, batch.block_number, batch.block_hash, batch.gas_used = (
            result.tx_hash,
            result.block_number,
            block_hash.lower(),
            result.gas_used,
        )
        batch.mirrored, batch.skipped = result.mirrored, result.skipped
        batch.total_in, batch.total_out = result.total_in, result.total_out
        batch.updated_at = now

    def _record_outcomes(
        self, s: Session, intent_id: int, batch: RelayBatch, result: BatchReceipt, now: datetime
    ) -> None:
        for vault in batch.vaults:
            got = result.vaults.get(vault.lower())
            common = {"batch_id": batch.id, "tx_hash": result.tx_hash}
            if got is None:  # every vault gets an event; a missing one is reported, not guessed
                columns = _skipped(
                    "no Mirrored or MirrorSkipped event for this vault in the receipt"
                )
            elif got.status == "mirrored":
                columns = {
                    "status": "mirrored",
                    "reason": None,
                    "reason_selector": None,
                    "amount_in": got.amount_in,
                    "amount_out": got.amount_out,
                }
            else:
                columns = _skipped(got.reason or "skipped", got.selector)
            block = {"block_number": result.block_number}
            self._set_outcome(s, intent_id, vault, now, **(columns | common | block))

    def _fail_batch(self, batch_id: int, status: str, error: str) -> None:
        now = _utcnow()
        with self._write() as s, s.begin():
            batch = s.get(RelayBatch, batch_id, with_for_update=True)
            if batch is None or batch.status != "signed":
                return
            batch.status, batch.error, batch.updated_at = status, error, now
            intent = s.get(Intent, batch.intent_id, with_for_update=True)
            assert intent is not None
            intent.plan_due, intent.updated_at = True, now
            self.stats.batches_failed += 1

    def _replace(self, batch: RelayBatch, last: RelayTransaction) -> str:
        now_fees = current_fees(self.client, cap=self.config.max_fee_per_gas)
        previous = Fees(last.max_fee_per_gas, last.max_priority_fee_per_gas)
        fees = bumped(
            previous,
            now_fees,
            percent=self.config.fee_bump_percent,
            cap=self.config.max_fee_per_gas,
        )
        if fees is None:
            return "capped"  # logged once per incident by _update_degraded
        signed = self._sign_replacement(batch.id, last.id, fees)
        if signed is None:
            return "waiting"
        self._broadcast(*signed)
        self.stats.replacements += 1
        return "changed"

    # ------------------------------------------------------------------ degraded

    def _update_degraded(self, capped: Sequence[RelayBatch]) -> None:
        """Degraded while a transaction is stuck below the fee cap's reach: the relayer cannot
        get it (and every later nonce) mined on its own. One line when it starts, one when it
        clears; the state lives in `relay_senders` for readiness and /metrics."""
        with Session(self.engine) as s:
            degraded = s.scalar(self._sender_query(RelaySender.degraded_reason)) is not None
        if capped and not degraded:
            stuck = capped[0]
            gwei = self.config.max_fee_per_gas / GWEI
            self._set_degraded(
                f"fee_cap: the max fee cap ({gwei:g} gwei) leaves no room to replace the "
                f"transaction of batch {stuck.id} (nonce {stuck.tx_nonce}), not mined after "
                f"{self.config.replace_after:g}s"
            )
        elif degraded and not capped:
            self._set_degraded(None)

    def _set_degraded(self, reason: str | None) -> None:
        with self._write() as s, s.begin():
            row = s.scalar(self._sender_query(RelaySender).with_for_update())
            if row is None or (row.degraded_reason is None) == (reason is None):
                return  # another worker got there first
            if reason is None:
                log.warning("sender %s: no longer degraded (%s)", self.sender, row.degraded_reason)
            else:
                log.warning("sender %s: degraded: %s", self.sender, reason)
            row.degraded_reason = reason
            row.degraded_since = None if reason is None else _utcnow()

    def _sign_replacement(self, batch_id: int, last_id: int, fees: Fees) -> tuple[int, str] | None:
        now = _utcnow()
        with self._write() as s, s.begin():
            batch = s.scalar(
                select(RelayBatch)
                .where(RelayBatch.id == batch_id, RelayBatch.status == "signed")
                .with_for_update(skip_locked=True)
            )
            newest = s.scalar(
                select(RelayTransaction.id)
                .where(RelayTransaction.batch_id == batch_id)
                .order_by(RelayTransaction.id.desc())
                .limit(1)
            )
            if batch is None or newest != last_id or batch.tx_nonce is None:
                return None  # closed meanwhile, or another worker replaced it first
            intent = s.get(Intent, batch.intent_id)
            assert intent is not None
            row = self._signed_row(batch, intent, batch.tx_nonce, fees, now)
            self._store_transaction(s, batch, row)
            s.flush()
            return row.id, row.raw


def _insert(s: Session) -> Any:
    """The dialect's INSERT (for ON CONFLICT)."""
    return pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert


def _ranges(numbers: Sequence[int]) -> str:
    """[2, 3, 4, 7] -> "2-4, 7" (a gap after a long outage can span many nonces)."""
    parts, first = [], numbers[0]
    for previous, current in zip(numbers, [*numbers[1:], None], strict=True):
        if current != previous + 1:
            parts.append(str(first) if first == previous else f"{first}-{previous}")
            first = current
    return ", ".join(parts)


def _left_out(x: LeftOut) -> dict[str, Any]:
    return _skipped(f"left out: the batch would revert with {x.reason}", x.selector)


def run_in_thread(
    worker: RelayerWorker, wakeup: threading.Event | None = None
) -> tuple[threading.Thread, threading.Event]:
    """Start `worker.run` in a daemon thread; set the returned event to stop it."""
    stop = threading.Event()
    thread = threading.Thread(
        target=worker.run, args=(stop, wakeup), name=f"relayer-{worker.worker_id}", daemon=True
    )
    thread.start()
    return thread, stop
