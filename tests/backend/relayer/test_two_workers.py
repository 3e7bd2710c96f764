"""Two relayer workers on one store share the work and never send a batch twice: each batch is
signed once, with its own nonce, and every vault trades each intent exactly once. On PostgreSQL the
workers meet at row locks (FOR UPDATE SKIP LOCKED); on SQLite at the database's write lock."""

from __future__ import annotations

import threading
from collections import Counter

from backend.chain.artifacts import event_topic
from backend.db.relay_models import RelaySender
from backend.relayer.worker import run_in_thread


def _mirrored_events(relay) -> Counter:
    """(vault, digest) of every Mirrored event on chain: what actually traded."""
    abi = relay.actions.artifacts.get("CopyVault").abi
    (item,) = [i for i in abi if i.get("type") == "event" and i["name"] == "Mirrored"]
    topic = "0x" + event_topic(item).hex()
    logs = relay.rpc("eth_getLogs", {"fromBlock": "0x0", "toBlock": "latest", "topics": [topic]})
    return Counter((entry["address"].lower(), entry["topics"][3].lower()) for entry in logs)


def _wait_until_done(relay, digests, seconds: float = 60.0) -> None:
    pause = threading.Event()
    for _ in range(int(seconds / 0.1)):
        if all(relay.status(d)["status"] == "done" for d in digests):
            return
        pause.wait(0.1)
    raise AssertionError([relay.status(d)["status"] for d in digests])


def test_two_workers__many_intents_and_batches__each_batch_sent_once_each_vault_once(relay):
    vaults = relay.followers(6)
    digests = [relay.submit(nonce=n, fraction_bps=500) for n in range(10, 14)]
    wakeup = threading.Event()
    workers = [relay.worker(f"w{i}", max_batch=2, poll_interval=0.05) for i in (1, 2)]
    started = [run_in_thread(w, wakeup) for w in workers]
    try:
        _wait_until_done(relay, digests)
    finally:
        for _, stop in started:
            stop.set()
        for thread, _ in started:
            thread.join(30)

    batches = relay.batches()
    assert len(batches) == 4 * 3 and {b.status for b in batches} == {"mined"}
    transactions = relay.transactions()
    assert len(transactions) == len(batches)  # one transaction per batch
    assert len({t.nonce for t in transactions}) == len(transactions)
    assert Counter(t.batch_id for t in transactions) == Counter({b.id: 1 for b in batches})
    traded = _mirrored_events(relay)
    assert traded == Counter({(v.lower(), d): 1 for v in vaults for d in digests})
    assert sum(w.stats.batches_sent for w in workers) == len(batches)
    assert all(w.stats.batches_sent > 0 for w in workers)  # both took a share


def test_two_workers__start_together_on_an_empty_store__one_sender_row_both_run(relay):
    """Both workers find no sender row and insert one at once; the second must wait for the first's
    row, not fail on the primary key (CI once lost a worker thread to exactly that)."""
    workers = [relay.worker(f"w{i}") for i in (1, 2)]
    start = threading.Barrier(len(workers))
    nonces, errors = [], []

    def reconcile(worker) -> None:
        start.wait()
        try:
            nonces.append(worker.reconcile_nonce())
        except Exception as exc:  # the test reports whatever a worker raised
            errors.append(exc)

    threads = [threading.Thread(target=reconcile, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    pending = int(relay.rpc("eth_getTransactionCount", workers[0].signer.address, "pending"), 16)
    assert nonces == [pending, pending]
    assert [(s.address, s.next_nonce) for s in relay.rows(RelaySender)] == [
        (workers[0].sender, pending)
    ]
