"""Group commit of accepted intents (backend/db/group_commit.py), on both stores: concurrent rows
share one transaction, each caller learns whether its own row was stored, a digest is stored once
however many callers (or processes) race for it, and a failed transaction fails its whole group."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from backend.db.group_commit import GroupCommitter
from backend.db.relay_models import Intent
from tests.backend.helpers import intent_row

CHAIN_ID = 31337
UNIQUE = ("chain_id", "digest")


def _row(i: int, **changes) -> dict:
    return intent_row(CHAIN_ID, i, datetime.now(UTC), **changes)


def _stored(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return dict(conn.execute(select(Intent.digest, Intent.nonce)).all())


def _run_all(calls) -> list:
    """Each call in its own thread, all started together; their answers (or exceptions)."""
    answers: list = [None] * len(calls)

    def run(i: int) -> None:
        try:
            answers[i] = calls[i]()
        except Exception as exc:  # noqa: BLE001 - compared by the test
            answers[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    return threads, answers


def _queued(committer: GroupCommitter, count: int) -> None:
    end = time.monotonic() + 10
    while len(committer._queue) < count:
        assert time.monotonic() < end, f"only {len(committer._queue)} of {count} rows queued"
        time.sleep(0.005)


def test_group_commit__rows_queued_together__one_transaction_each_caller_stored(stores):
    engine = stores.engine()
    committer = GroupCommitter(engine, Intent.__table__, UNIQUE)
    with committer._commit_lock:  # a transaction in progress: the next 20 rows queue behind it
        threads, answers = _run_all([lambda i=i: committer.insert(_row(i)) for i in range(20)])
        _queued(committer, 20)
    for thread in threads:
        thread.join()
    assert answers == [True] * 20
    assert (committer.transactions, committer.rows) == (1, 20)
    assert _stored(engine) == {"0x" + f"{i:064x}": i for i in range(20)}


def test_group_commit__more_rows_than_a_group__several_transactions_all_stored(stores):
    engine = stores.engine()
    committer = GroupCommitter(engine, Intent.__table__, UNIQUE, max_rows=4)
    with committer._commit_lock:
        threads, answers = _run_all([lambda i=i: committer.insert(_row(i)) for i in range(10)])
        _queued(committer, 10)
    for thread in threads:
        thread.join()
    assert answers == [True] * 10
    assert (committer.transactions, committer.rows) == (3, 10)  # 4 + 4 + 2
    assert len(_stored(engine)) == 10


def test_group_commit__same_digest_in_one_group__stored_once_one_caller_true(stores):
    engine = stores.engine()
    committer = GroupCommitter(engine, Intent.__table__, UNIQUE)
    with committer._commit_lock:
        threads, answers = _run_all([lambda: committer.insert(_row(7)) for _ in range(8)])
        _queued(committer, 8)
    for thread in threads:
        thread.join()
    assert sorted(answers) == [False] * 7 + [True]
    assert _stored(engine) == {"0x" + f"{7:064x}": 7}


def test_group_commit__digest_stored_by_another_process__false_row_unchanged(stores):
    url = stores.url()
    engine, other_process = stores.engine(url), stores.engine(url, migrate=False)
    assert GroupCommitter(other_process, Intent.__table__, UNIQUE).insert(_row(3)) is True
    ours = GroupCommitter(engine, Intent.__table__, UNIQUE)
    # The same digest with other columns (an attacker replaying it with another nonce): skipped.
    assert ours.insert(_row(3, nonce=99)) is False
    assert ours.insert(_row(4)) is True
    assert _stored(engine) == {"0x" + f"{3:064x}": 3, "0x" + f"{4:064x}": 4}


def test_group_commit__racing_processes_same_digests__each_stored_once(stores):
    url = stores.url()
    engines = [stores.engine(url), stores.engine(url, migrate=False)]
    committers = [GroupCommitter(e, Intent.__table__, UNIQUE) for e in engines]
    calls = [lambda c=c, i=i: c.insert(_row(i % 5)) for i in range(20) for c in committers]
    threads, answers = _run_all(calls)
    for thread in threads:
        thread.join()
    assert answers.count(True) == 5 and answers.count(False) == 35, answers
    with engines[0].connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Intent)) == 5


def test_group_commit__transaction_fails__every_caller_of_the_group_raises_nothing_stored(stores):
    engine = stores.engine()
    committer = GroupCommitter(engine, Intent.__table__, UNIQUE)
    good = [lambda i=i: committer.insert(_row(i)) for i in range(3)]
    bad = [lambda: committer.insert(_row(9, leader=None))]  # NOT NULL
    with committer._commit_lock:
        threads, answers = _run_all(good + bad)
        _queued(committer, 4)
    for thread in threads:
        thread.join()
    assert all(isinstance(a, IntegrityError) for a in answers), answers
    assert _stored(engine) == {}
    # The committer is not stuck: the next row goes through.
    assert committer.insert(_row(1)) is True
    assert _stored(engine) == {"0x" + f"{1:064x}": 1}


def test_group_commit__unsupported_store_or_group_size__refused():
    from sqlalchemy import create_engine

    with pytest.raises(ValueError, match="max_rows"):
        GroupCommitter(create_engine("sqlite://"), Intent.__table__, UNIQUE, max_rows=0)
