"""The relayer after a crash at each step, after a dropped transaction and with a transaction not
mined in time: nothing is sent twice, nothing is forgotten (SQLite and PostgreSQL).

A "crash" is a worker stopped between two of its steps (its object dropped, the store and chain as
it left them); the "restart" is a new worker with a new identity on the same store.
"""

from __future__ import annotations

import time

from backend.relayer.fees import current_fees
from backend.relayer.worker import run_in_thread
from backend.services.intents import intent_message
from tests.utils.server_process import poll_until


def _mirrored_once(relay, digest: str, vaults: list[str], nonce: int) -> None:
    outcomes = relay.outcomes(digest)
    assert {outcomes[v]["status"] for v in vaults} == {"mirrored"}
    assert all(relay.executed(v, nonce) for v in vaults)
    assert relay.status(digest)["status"] == "done"


def test_crash__after_signing_before_broadcast__restart_broadcasts_that_transaction_once(relay):
    vaults = relay.followers(3)
    digest = relay.submit(nonce=1)
    first = relay.worker("crashing")
    first.reconcile_nonce()
    assert first.plan_next()
    fees = current_fees(relay.chain.client, cap=first.config.max_fee_per_gas)
    row_id, raw = first._sign_next(fees)  # stored and committed; the process dies here
    assert relay.rpc("eth_getTransactionByHash", relay.transactions()[0].tx_hash) is None

    relay.worker("restarted").run_until_idle()

    (tx,) = relay.transactions()
    assert (tx.id, tx.raw) == (row_id, raw)  # the very bytes signed before the crash
    receipt = relay.rpc("eth_getTransactionReceipt", tx.tx_hash)
    assert int(receipt["status"], 16) == 1
    _mirrored_once(relay, digest, vaults, 1)


def test_crash__after_broadcast_before_the_receipt__restart_records_it_sends_nothing(relay):
    vaults = relay.followers(2)
    digest = relay.submit(nonce=2)
    first = relay.worker("crashing")
    first.reconcile_nonce()
    first.plan_next()
    assert first.send_next()  # broadcast and mined (automine); never tracked
    assert {b.status for b in relay.batches()} == {"signed"}

    relay.worker("restarted").run_until_idle()

    assert len(relay.transactions()) == 1
    assert {b.status for b in relay.batches()} == {"mined"}
    _mirrored_once(relay, digest, vaults, 2)


def test_crash__while_planning__claim_runs_out_and_another_worker_plans(relay):
    vaults = relay.followers(2)
    digest = relay.submit(nonce=3)
    crashed = relay.worker("crashing", claim_seconds=0.5)
    assert crashed._claim_intent() is not None  # claimed, then the process dies mid-plan
    waiting = relay.worker("other", claim_seconds=0.5)
    assert not waiting.plan_next()  # the claim still holds
    time.sleep(0.6)

    waiting.run_until_idle()

    (intent,) = relay.intents()
    assert intent.claimed_by is None and not intent.plan_due
    _mirrored_once(relay, digest, vaults, 3)
    assert len(relay.transactions()) == 1


def test_crash__plan_saved_after_the_claim_was_lost__discarded_not_doubled(relay):
    relay.followers(2)
    relay.submit(nonce=4)
    slow = relay.worker("slow", claim_seconds=0.2)
    claimed = slow._claim_intent()
    plan = slow._plan(*claimed)
    time.sleep(0.3)
    fast = relay.worker("fast", claim_seconds=30)
    assert fast.plan_next()  # takes the expired claim and plans

    slow._save_plan(claimed[0], plan)  # too late: its claim is gone

    assert len(relay.batches()) == 1


def test_dropped__nonce_used_by_another_transaction__only_unexecuted_vaults_sent_again(relay):
    """Someone with the relayer's key mirrors the intent into some of the batch's vaults using the
    very nonce the batch was signed with. The batch can never be mined: the relayer sees the nonce
    used, re-plans, asks each vault isIntentExecuted, and sends only to those that did not trade."""
    vaults = relay.followers(4)
    digest = relay.submit(nonce=5)
    worker = relay.worker()
    worker.reconcile_nonce()
    worker.plan_next()
    fees = current_fees(relay.chain.client, cap=worker.config.max_fee_per_gas)
    worker._sign_next(fees)  # signed with the next nonce, not broadcast yet
    (stored,) = relay.intents()
    relay.actions.mirror_batch(
        intent_message(stored).values(),
        bytes.fromhex(stored.signature[2:]),
        vaults[:2],
        relayer=relay.chain.relayer,  # the relayer's own account: it takes the batch's nonce
        aggregated=True,
    )
    relay.api.index()

    worker.run_until_idle()

    first, second = sorted(relay.batches(), key=lambda b: b.id)
    assert (first.status, second.status, second.attempt) == ("dropped", "mined", 2)
    assert sorted(v.lower() for v in second.vaults) == sorted(v.lower() for v in vaults[2:])
    outcomes = relay.outcomes(digest)
    for vault in vaults[:2]:  # mirrored by the other transaction, found in the index
        assert outcomes[vault]["status"] == "mirrored"
        assert outcomes[vault]["tx_hash"] != second.tx_hash
    _mirrored_once(relay, digest, vaults, 5)


def test_mined_but_its_receipt_not_served_yet__waited_for_not_taken_for_dropped(relay, monkeypatch):
    """A node can count a mined transaction's nonce before it serves the receipt (anvil did, under
    load: the batch was failed as dropped and the intent re-planned into a second batch). The
    worker asks the node about its own attempts first and waits for the receipt."""
    vaults = relay.followers(2)
    digest = relay.submit(nonce=7)
    worker = relay.worker()
    real_batch, hidden = worker.client.batch, []

    def receipt_served_late(calls):
        answers = real_batch(calls)
        receipts_only = all(method == "eth_getTransactionReceipt" for method, _ in calls)
        if receipts_only and any(answers) and not hidden:  # the first time one exists: not yet
            hidden.append(calls)
            return [None] * len(answers)
        return answers

    monkeypatch.setattr(worker.client, "batch", receipt_served_late)
    worker.run_until_idle()

    assert hidden, "the receipt was never hidden: the test did not test the race"
    (batch,) = relay.batches()
    assert (batch.status, batch.attempt) == ("mined", 1)
    _mirrored_once(relay, digest, vaults, 7)


def test_replacement__not_mined_in_time__same_nonce_higher_fees_mined_once(relay):
    vaults = relay.followers(2)
    digest = relay.submit(nonce=6)
    worker = relay.worker(replace_after=0.3, fee_bump_percent=25)
    worker.reconcile_nonce()
    with relay.mining_paused():
        worker.plan_next()
        assert worker.send_next()
        time.sleep(0.4)
        assert worker.track()  # not mined after replace_after: replaced
        first, second = sorted(relay.transactions(), key=lambda t: t.id)
        assert first.nonce == second.nonce
        assert second.max_fee_per_gas >= first.max_fee_per_gas * 125 // 100
        assert second.max_priority_fee_per_gas >= first.max_priority_fee_per_gas * 125 // 100
        pool = {k.lower(): v for k, v in relay.rpc("txpool_content")["pending"].items()}
        (queued,) = pool[relay.chain.relayer.address.lower()].values()
        assert queued["hash"].lower() == second.tx_hash  # the node keeps the replacement only
        relay.rpc("evm_mine")

    worker.run_until_idle()

    (batch,) = relay.batches()
    assert batch.tx_hash == second.tx_hash
    assert relay.rpc("eth_getTransactionReceipt", first.tx_hash) is None
    _mirrored_once(relay, digest, vaults, 6)


def test_reconcile__key_used_outside_the_relayer__next_nonce_follows_the_node(relay):
    worker = relay.worker()
    start = worker.reconcile_nonce()
    relay.actions.transfer(
        relay.actions.token("WETH"), relay.chain.deployer.address, 0, relay.chain.relayer
    )
    assert worker.reconcile_nonce() == start + 1


def test_run__an_unexpected_error_in_a_round__recorded_and_the_worker_goes_on(relay, monkeypatch):
    """A bug in one round must not end the worker's thread: the process would look alive and relay
    nothing (CI once lost a thread to an unhandled database error)."""
    vaults = relay.followers(2)
    digest = relay.submit(nonce=9)
    worker = relay.worker("w1", poll_interval=0.05)
    real_step, rounds = worker.step, []

    def step_failing_once() -> bool:
        rounds.append(1)
        if len(rounds) == 1:
            raise RuntimeError("a bug in the first round")
        return real_step()

    monkeypatch.setattr(worker, "step", step_failing_once)
    thread, stop = run_in_thread(worker)
    try:
        poll_until(lambda: relay.status(digest)["status"] == "done", 30, every=0.1)
        assert thread.is_alive()
    finally:
        stop.set()
        thread.join(30)
    assert worker.stats.last_error == "RuntimeError: a bug in the first round"
    _mirrored_once(relay, digest, vaults, 9)
