"""Relays followed to finality (issue 10): outcomes stay pending until their block is deep enough,
a batch a reorg undid is planned again for the vaults that did not execute, the sender's nonce gaps
are closed instead of replaced forever, the fee cap marks the relayer degraded once, and a store
outage is one log line (SQLite and PostgreSQL).
"""

from __future__ import annotations

import logging
import sqlite3
import time

import psycopg
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError, ProgrammingError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Session

from backend.config import load_settings
from backend.db.relay_models import RelaySender
from backend.relayer import worker as worker_module
from backend.relayer.fees import GWEI, Fees, current_fees
from backend.relayer.worker import RelayerConfig, run_in_thread
from backend.services.intents import intent_message
from tests.backend.store_outages import store_down
from tests.utils.server_process import poll_until

WORKER_LOG = "backend.relayer.worker"


def _sender(relay) -> RelaySender:
    (row,) = relay.rows(RelaySender)
    return row


def _statuses(relay) -> list[str]:
    return [b.status for b in sorted(relay.batches(), key=lambda b: b.id)]


def _mirrored_once(relay, digest: str, vaults: list[str], nonce: int) -> None:
    """Done, every vault mirrored by the final batch, and executed on chain (the vault's own
    isIntentExecuted guard makes a second execution impossible: a second send would be skipped)."""
    status = relay.status(digest)
    assert status["status"] == "done"
    outcomes = {v["vault"]: v for v in status["vaults"]}
    assert {outcomes[v]["status"] for v in vaults} == {"mirrored"}
    assert all(relay.executed(v, nonce) for v in vaults)
    assert sum(b["mirrored"] or 0 for b in status["batches"] if b["status"] == "mined") == len(
        vaults
    )


def _relayed_then_reverted(relay, count: int, *, nonce: int, confirmations: int):
    """`count` followers, an intent relayed in one round (its batch mined), then the chain
    reverted to before the batch: (vaults, digest, worker, the undone transaction)."""
    vaults = relay.followers(count)
    digest = relay.submit(nonce=nonce)
    worker = relay.worker(confirmations=confirmations)
    before = relay.rpc("evm_snapshot")
    worker.step()
    (tx,) = relay.transactions()
    relay.rpc("evm_revert", before)
    return vaults, digest, worker, tx


def test_finality__outcomes_pending_until_the_block_has_the_confirmations__then_done(relay):
    vaults = relay.followers(2)
    digest = relay.submit(nonce=1)
    worker = relay.worker(confirmations=3)

    worker.step()  # planned, sent, mined at once (automine): one confirmation

    status = relay.status(digest)
    assert (status["status"], status["vaults_pending"]) == ("relaying", 2)
    (batch,) = status["batches"]
    assert batch["status"] == "included" and batch["block_number"] is not None
    relay.chain.mine(1)
    worker.step()
    assert relay.status(digest)["status"] == "relaying"  # two of three
    relay.chain.mine(1)
    worker.step()
    assert _statuses(relay) == ["mined"]
    _mirrored_once(relay, digest, vaults, 1)


def test_confirmations__setting_reaches_the_worker__twelve_by_default(monkeypatch):
    monkeypatch.delenv("COPYVAULT_RELAYER_CONFIRMATIONS", raising=False)
    assert RelayerConfig.from_settings(load_settings()).confirmations == 12
    monkeypatch.setenv("COPYVAULT_RELAYER_CONFIRMATIONS", "0")
    assert RelayerConfig.from_settings(load_settings()).confirmations == 0


def test_reorg__mined_batch_undone__intent_back_to_relaying_and_vaults_mirrored_once(relay):
    vaults = relay.followers(3)
    digest = relay.submit(nonce=2)
    worker = relay.worker(confirmations=3)
    before = relay.rpc("evm_snapshot")
    worker.step()
    assert _statuses(relay) == ["included"]
    assert all(relay.executed(v, 2) for v in vaults)
    (undone,) = relay.transactions()

    relay.rpc("evm_revert", before)  # the chain goes back to before the batch, then on
    relay.chain.mine(1)
    assert not any(relay.executed(v, 2) for v in vaults)
    worker.step()

    status = relay.status(digest)
    assert status["status"] == "relaying" and status["vaults_pending"] == 3
    assert _statuses(relay) == ["reorged"]
    worker.run_until_idle(timeout=60, mine=lambda: relay.chain.mine(1))

    assert _statuses(relay) == ["reorged", "mined"]
    assert relay.rpc("eth_getTransactionReceipt", undone.tx_hash) is None
    _mirrored_once(relay, digest, vaults, 2)
    assert _sender(relay).nonce_gaps == 1  # the undone nonce was handed out again


def test_reorg__batch_replanned_identically_after_reorg__signed_again_without_a_hash_clash_and_mirrored_once(  # noqa: E501
    relay, monkeypatch
):
    """The chaos bench's wedge: a batch undone by a reorg (its transaction gone from the node) is
    planned again for the same vaults, gets its nonce back and the same fees, so it signs to the
    very transaction of the reorged batch, byte for byte. It is one transaction: it passes to the
    new batch (no unique-constraint clash on its hash every round), is mined once, counts once."""
    fees = Fees(max_fee_per_gas=3 * GWEI, max_priority_fee_per_gas=GWEI)
    monkeypatch.setattr(worker_module, "current_fees", lambda client, cap: fees)
    vaults, digest, worker, undone = _relayed_then_reverted(relay, 2, nonce=11, confirmations=3)
    first_batch = undone.batch_id
    relay.chain.mine(1)
    worker.step()
    assert _statuses(relay) == ["reorged"]

    worker.run_until_idle(timeout=60, mine=lambda: relay.chain.mine(1))

    reorged, mined = sorted(relay.batches(), key=lambda b: b.id)
    assert (reorged.status, mined.status, mined.tx_nonce) == ("reorged", "mined", undone.nonce)
    (tx,) = relay.transactions()  # signed again identically: the same row's hash, one row
    assert (tx.tx_hash, tx.raw) == (undone.tx_hash, undone.raw)
    assert tx.batch_id == mined.id != first_batch
    assert mined.tx_hash == undone.tx_hash
    assert {relay.outcomes(digest)[v]["tx_hash"] for v in vaults} == {undone.tx_hash}
    assert worker.stats.last_error is None
    _mirrored_once(relay, digest, vaults, 11)


def test_reorg__replaced_batch_replanned_identically__first_and_replacement_taken_over(
    relay, monkeypatch
):
    """The reorged batch had a replacement (the same nonce, higher fees) mined. Its re-plan, with
    the same fees again, signs to its first transaction, then, not mined in time, to the very
    replacement: each passes to the new batch in turn, and the replacement is mined once."""
    fees = Fees(max_fee_per_gas=3 * GWEI, max_priority_fee_per_gas=GWEI)
    monkeypatch.setattr(worker_module, "current_fees", lambda client, cap: fees)
    vaults = relay.followers(2)
    digest = relay.submit(nonce=12)
    worker = relay.worker(confirmations=3, replace_after=0.2)
    before = relay.rpc("evm_snapshot")

    def sign_and_replace() -> None:
        with relay.mining_paused():
            worker.reconcile_nonce()
            worker.plan_next()
            assert worker.send_next()  # signed, not yet followed: a slow round cannot replace it
            time.sleep(0.3)
            worker.step()  # replaced
            relay.rpc("evm_mine")
        worker.step()

    sign_and_replace()
    old = sorted(relay.transactions(), key=lambda t: t.id)
    assert len(old) == 2 and _statuses(relay) == ["included"]
    relay.rpc("evm_revert", before)
    relay.chain.mine(1)
    worker.step()  # reorged; the nonce handed back
    sign_and_replace()  # planned again, signed and replaced identically
    worker.run_until_idle(timeout=60, mine=lambda: relay.chain.mine(1))

    reorged, mined = sorted(relay.batches(), key=lambda b: b.id)
    assert (reorged.status, mined.status, mined.tx_hash) == ("reorged", "mined", old[1].tx_hash)
    new = sorted(relay.transactions(), key=lambda t: t.id)
    assert [(t.tx_hash, t.batch_id) for t in new] == [(t.tx_hash, mined.id) for t in old]
    assert worker.stats.last_error is None
    _mirrored_once(relay, digest, vaults, 12)


def _relay_undone_then_mirrored_on_the_new_fork(relay, worker, mirrored: list[str]) -> dict:
    """The worker relays the intent; the chain is reverted to before it; then someone with the
    relayer's key (taking the undone batch's nonce: no gap) mirrors `mirrored` on the new fork.
    The receipt of that mirror."""
    before = relay.rpc("evm_snapshot")
    worker.step()
    relay.rpc("evm_revert", before)
    (stored,) = relay.intents()
    return relay.actions.mirror_batch(
        intent_message(stored).values(),
        bytes.fromhex(stored.signature[2:]),
        mirrored,
        relayer=relay.chain.relayer,
        aggregated=True,
    )


def test_reorg__some_vaults_executed_on_the_new_fork__only_the_others_sent_again(relay):
    """After the reorg, someone with the relayer's key mirrors two of the four vaults: the re-plan
    asks each vault isIntentExecuted and sends only to the other two."""
    vaults = relay.followers(4)
    digest = relay.submit(nonce=3)
    worker = relay.worker(confirmations=3)
    _relay_undone_then_mirrored_on_the_new_fork(relay, worker, vaults[:2])
    relay.api.index()

    worker.run_until_idle(timeout=60, mine=lambda: relay.chain.mine(1))

    first, second = sorted(relay.batches(), key=lambda b: b.id)
    assert (first.status, second.status, second.attempt) == ("reorged", "mined", 2)
    assert sorted(v.lower() for v in second.vaults) == sorted(v.lower() for v in vaults[2:])
    assert relay.status(digest)["status"] == "done"
    assert all(relay.executed(v, 3) for v in vaults)


def test_reorg__vaults_executed_on_the_new_fork_not_indexed_yet__mirrored_from_their_logs(relay):
    """As above, but the index has not reached the new fork's mirror (the chaos bench's case):
    those vaults are mirrored, read from their Mirrored logs, not reported skipped."""
    vaults = relay.followers(3)
    digest = relay.submit(nonce=4)
    worker = relay.worker(confirmations=3)
    mirror = _relay_undone_then_mirrored_on_the_new_fork(relay, worker, vaults[:2])

    worker.run_until_idle(timeout=60, mine=lambda: relay.chain.mine(1))

    outcomes = relay.outcomes(digest)
    assert {outcomes[v]["status"] for v in vaults} == {"mirrored"}
    assert {outcomes[v]["tx_hash"].lower() for v in vaults[:2]} == {mirror["transactionHash"]}
    assert all(outcomes[v]["amount_out"] for v in vaults)
    assert relay.status(digest)["status"] == "done"


def test_reorg__batch_reincluded_in_another_block__recorded_with_the_new_block_sent_once(relay):
    vaults = relay.followers(2)
    digest = relay.submit(nonce=8)
    worker = relay.worker(confirmations=3)
    relay.chain.mine(1)
    worker.step()
    (tx,) = relay.transactions()
    (included,) = relay.batches()

    # A new fork of the last two blocks, with the batch's transaction in its second block.
    relay.rpc("anvil_reorg", 2, [[tx.raw, 1]])
    worker.run_until_idle(timeout=60, mine=lambda: relay.chain.mine(1))

    (batch,) = relay.batches()
    assert batch.status == "mined" and batch.block_hash != included.block_hash
    canonical = relay.rpc("eth_getBlockByNumber", hex(batch.block_number), False)
    assert canonical["hash"] == batch.block_hash
    assert [t.tx_hash for t in relay.transactions()] == [tx.tx_hash]  # nothing sent again
    outcomes = relay.outcomes(digest)
    assert {(outcomes[v]["tx_hash"], outcomes[v]["block_number"]) for v in vaults} == {
        (tx.tx_hash, batch.block_number)
    }
    _mirrored_once(relay, digest, vaults, 8)


def test_reorg__new_fork_holds_the_replaced_transaction__recorded_as_mined_not_planned_again(
    relay,
):
    """A batch replaced with a higher fee: the replacement is mined, then a reorg's new fork holds
    the first transaction instead (same nonce). The batch is mined by that one."""
    vaults = relay.followers(2)
    digest = relay.submit(nonce=10)
    worker = relay.worker(confirmations=3, replace_after=0.2)
    relay.chain.mine(1)
    with relay.mining_paused():
        worker.reconcile_nonce()
        worker.plan_next()
        assert worker.send_next()  # signed, not yet followed: a slow round cannot replace it
        time.sleep(0.3)
        worker.step()  # replaced
        first, second = sorted(relay.transactions(), key=lambda t: t.id)
        relay.rpc("evm_mine")
    worker.step()
    (included,) = relay.batches()
    assert (included.status, included.tx_hash) == ("included", second.tx_hash)

    relay.rpc("anvil_reorg", 2, [[first.raw, 1]])
    worker.run_until_idle(timeout=60, mine=lambda: relay.chain.mine(1))

    (batch,) = relay.batches()
    assert (batch.status, batch.tx_hash) == ("mined", first.tx_hash)
    assert {relay.outcomes(digest)[v]["tx_hash"] for v in vaults} == {first.tx_hash}
    _mirrored_once(relay, digest, vaults, 10)


def test_reorg__undone_transaction_back_in_the_pool__followed_again_not_planned_again(relay):
    """Nodes put a reorg's transactions back in their pool (geth does): the batch is in flight
    again, not planned again."""
    vaults, digest, worker, tx = _relayed_then_reverted(relay, 2, nonce=9, confirmations=2)
    with relay.mining_paused():
        relay.rpc("eth_sendRawTransaction", tx.raw)
        worker.step()
        assert _statuses(relay) == ["signed"]
        relay.rpc("evm_mine")

    worker.run_until_idle(timeout=60, mine=lambda: relay.chain.mine(1))

    assert _statuses(relay) == ["mined"]
    assert [t.tx_hash for t in relay.transactions()] == [tx.tx_hash]
    assert _sender(relay).nonce_gaps == 0
    _mirrored_once(relay, digest, vaults, 9)


def test_nonce__store_ahead_of_node__gap_filled_and_new_intent_relayed(relay):
    """The auditor's wedge: the stored next nonce is one past the node's (a transaction undone by a
    reorg), so a new batch is signed with a nonce the node cannot mine yet. The relayer must fill
    the gap, not replace that transaction up to the fee cap."""
    vaults = relay.followers(2)
    worker = relay.worker(replace_after=0.2)
    node_nonce = worker.reconcile_nonce()
    with Session(relay.api.engine) as s, s.begin():
        s.execute(update(RelaySender).values(next_nonce=node_nonce + 1))
    digest = relay.submit(nonce=4)
    worker.plan_next()
    fees = current_fees(relay.chain.client, cap=worker.config.max_fee_per_gas)
    worker._broadcast(*worker._sign_next(fees))  # signed with node_nonce + 1: it waits
    assert relay.rpc("eth_getTransactionReceipt", relay.transactions()[0].tx_hash) is None

    started = time.monotonic()
    worker.run_until_idle(timeout=20)

    assert time.monotonic() - started < 10
    (tx,) = relay.transactions()  # mined as signed: not one replacement
    assert tx.nonce == node_nonce + 1
    assert int(relay.rpc("eth_getTransactionCount", relay.signer.address, "latest"), 16) == (
        node_nonce + 2  # the gap filled by a self-transfer, then the batch
    )
    assert _sender(relay).nonce_gaps == 1
    assert _sender(relay).next_nonce == node_nonce + 2
    _mirrored_once(relay, digest, vaults, 4)


def test_nonce__store_ahead_nothing_in_flight__nonce_handed_out_again_no_filler(relay):
    vaults = relay.followers(1)
    worker = relay.worker()
    node_nonce = worker.reconcile_nonce()
    with Session(relay.api.engine) as s, s.begin():
        s.execute(update(RelaySender).values(next_nonce=node_nonce + 3))

    assert worker.reconcile_nonce() == node_nonce

    digest = relay.submit(nonce=5)
    worker.run_until_idle(timeout=20)
    (tx,) = relay.transactions()
    assert tx.nonce == node_nonce
    assert _sender(relay).nonce_gaps == 1
    _mirrored_once(relay, digest, vaults, 5)


def test_fee_cap__stuck_transaction__degraded_once_one_log_line_cleared_when_mined(relay, caplog):
    vaults = relay.followers(1)
    digest = relay.submit(nonce=6)
    offer = current_fees(relay.chain.client, cap=10**30)
    # The cap is the first offer itself: no replacement can raise it by the nodes' 10%.
    worker = relay.worker(replace_after=0.1, max_fee_per_gas=offer.max_fee_per_gas)
    worker.reconcile_nonce()
    with relay.mining_paused():
        worker.plan_next()
        assert worker.send_next()
        time.sleep(0.2)
        with caplog.at_level(logging.INFO, logger=WORKER_LOG):
            for _ in range(6):
                worker.step()
                time.sleep(0.05)
        sender = _sender(relay)
        assert sender.degraded_reason is not None and sender.degraded_reason.startswith("fee_cap")
        assert sender.degraded_since is not None
        assert len(relay.transactions()) == 1
        relay.rpc("evm_mine")
    with caplog.at_level(logging.INFO, logger=WORKER_LOG):
        worker.run_until_idle(timeout=20)

    lines = [r.getMessage() for r in caplog.records if r.name == WORKER_LOG]
    assert len([line for line in lines if ": degraded: fee_cap" in line]) == 1
    assert len([line for line in lines if "no longer degraded" in line]) == 1
    sender = _sender(relay)
    assert (sender.degraded_reason, sender.degraded_since) == (None, None)
    _mirrored_once(relay, digest, vaults, 6)


# ----------------------------------------------------------------------------- store outage


def test_store_outage__one_warning_line_no_traceback__one_line_when_it_answers_again(relay, caplog):
    vaults = relay.followers(1)
    digest = relay.submit(nonce=7)
    worker = relay.worker(poll_interval=0.05)
    with caplog.at_level(logging.INFO, logger=WORKER_LOG):
        with store_down(relay.api.engine):
            thread, stop = run_in_thread(worker)
            time.sleep(3.5)  # three retries at least
            assert worker.stats.last_error is not None
        try:
            poll_until(lambda: relay.status(digest)["status"] == "done", 30, every=0.1)
        finally:
            stop.set()
            thread.join(30)

    records = [r for r in caplog.records if r.name == WORKER_LOG]
    outage = [r for r in records if "the store is unavailable" in r.getMessage()]
    assert len(outage) == 1, [r.getMessage() for r in records]
    assert all(r.exc_info is None and "unexpected error" not in r.getMessage() for r in records)
    assert len([r for r in records if "the store answers again" in r.getMessage()]) == 1
    _mirrored_once(relay, digest, vaults, 7)


def test_run__integrity_error__logged_as_an_error_not_an_outage(relay, caplog):
    """A constraint the relayer breaks is a bug, not an outage: it is logged as an unexpected
    error with its traceback, once per distinct error however often the round is retried, and
    the loop goes on (here the error stops, and the intent is relayed)."""
    vaults = relay.followers(1)
    digest = relay.submit(nonce=13)
    worker = relay.worker(poll_interval=0.05)
    worker.reconcile_nonce()
    real_step, failures = worker.step, []

    def step() -> bool:
        if len(failures) < 4:
            failures.append(1)
            if len(failures) == 4:
                raise RuntimeError("another bug")
            with Session(relay.api.engine) as s, s.begin():  # the sender's row again: a real
                s.add(RelaySender(**_sender_columns(relay)))  # IntegrityError of the store
        return real_step()

    worker.step = step
    with caplog.at_level(logging.INFO, logger=WORKER_LOG):
        thread, stop = run_in_thread(worker)
        try:
            poll_until(lambda: relay.status(digest)["status"] == "done", 30, every=0.1)
        finally:
            stop.set()
            thread.join(30)

    assert len(failures) == 4
    records = [r for r in caplog.records if r.name == WORKER_LOG]
    assert not [r for r in records if "unavailable" in r.getMessage()]
    errors = [r for r in records if r.levelno == logging.ERROR]
    assert [r.exc_info[0].__name__ for r in errors] == ["IntegrityError", "RuntimeError"]
    assert all("unexpected error" in r.getMessage() for r in errors)
    _mirrored_once(relay, digest, vaults, 13)


def _sender_columns(relay) -> dict:
    row = _sender(relay)
    return {
        "chain_id": row.chain_id,
        "address": row.address,
        "next_nonce": row.next_nonce,
        "updated_at": row.updated_at,
    }


def test_store_outage__lost_connection_surfacing_as_another_driver_error__an_outage_not_a_bug():
    """Seen under `pg_terminate_backend` (chaos bench, pg_kill): the pool's ping finds the socket
    closed, then psycopg refuses to restore autocommit, and SQLAlchemy raises a ProgrammingError.
    The lost connection in its causes makes it an outage; an IntegrityError stays a bug."""
    lost = psycopg.ProgrammingError("can't change 'autocommit' now")
    lost.__context__ = psycopg.OperationalError("connection socket closed")  # raised while handled
    assert worker_module._unavailable(ProgrammingError("select 1", {}, lost)) == "the store"
    assert worker_module._unavailable(PoolTimeoutError("QueuePool limit")) == "the store"
    unique = sqlite3.IntegrityError("UNIQUE constraint failed: relay_transactions.tx_hash")
    assert worker_module._unavailable(IntegrityError("INSERT", {}, unique)) is None
    assert worker_module._unavailable(ProgrammingError("select", {}, unique)) is None
