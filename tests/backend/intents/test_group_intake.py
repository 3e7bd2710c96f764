"""Intake under concurrency with group commit, on a real uvicorn server and both stores: a 202
means the row is committed (another connection reads it at once), a digest is stored once however
it is raced, and a store that fails a group's transaction fails its requests with a 503."""

from __future__ import annotations

import threading

import httpx
from sqlalchemy import select

from backend.chain.actions import HOUR
from backend.db.relay_models import Intent
from tests.backend.api.helpers import open_env, store_write_locked, uvicorn_server
from tests.backend.helpers import admit_leader
from tests.backend.intents.conftest import IntakeEnv, assert_error


def _race(url: str, bodies: list[dict], after=None) -> list:
    """Every body POSTed at once, one client each; [(status, json, Retry-After)] in body order.
    `after(i, response)` runs in the request's thread right after its answer."""
    answers: list = [None] * len(bodies)
    start = threading.Barrier(len(bodies))

    def submit(i: int) -> None:
        with httpx.Client(base_url=url, timeout=60) as client:
            start.wait()
            try:
                response = client.post("/v1/intents", json=bodies[i])
                answers[i] = (
                    response.status_code,
                    response.json(),
                    response.headers.get("retry-after"),
                )
                if after is not None:
                    after(i, response)
            except (httpx.HTTPError, AssertionError) as exc:
                answers[i] = ("error", repr(exc))

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return answers


def test_concurrent_intents__every_202_already_readable_by_another_connection(intake_server):
    intake, url = intake_server
    bodies = [intake.body(intake.message(nonce=500 + i)) for i in range(24)]
    seen: list = [None] * len(bodies)

    def read_back(i: int, response) -> None:
        # The test's own engine: a pool the app does not share, as another process would read.
        with intake.api.engine.connect() as conn:
            digest = response.json()["digest"]
            seen[i] = conn.scalar(select(Intent.status).where(Intent.digest == digest))

    answers = _race(url, bodies, after=read_back)
    assert [a[0] for a in answers] == [202] * 24, answers
    assert seen == ["accepted"] * 24
    assert intake.stored() == 24


def test_same_intent_raced_by_leader_and_delegate_signatures__stored_once(intake_server):
    """An attacker replays a leader's intent many times at once, half with the leader's
    signature and half with a live delegate's: one row, one 202, every answer that row."""
    intake, url = intake_server
    chain, a = intake.chain, intake.chain.actions
    a.set_delegate(chain.leader, chain.delegate.address, a.timestamp() + HOUR)
    intake.api.index()
    message = intake.message(nonce=77)
    bodies = [intake.body(message)] * 8 + [intake.body(message, chain.delegate)] * 8
    answers = _race(url, bodies)
    codes = sorted(a[0] for a in answers)
    assert codes == [200] * 15 + [202], answers
    digests = {a[1]["digest"] for a in answers}
    signers = {a[1]["signer"] for a in answers}
    assert digests == {intake.digest(message)} and len(signers) == 1
    assert intake.stored() == 1


def test_same_nonce_eight_intents_raced__no_5xx_every_202_stored(intake_server):
    """Two different intents with one nonce, raced: the nonce check reads the index before the
    write, so both may pass it; whatever happens, no answer is a 5xx and every 202 is stored."""
    intake, url = intake_server
    bodies = [intake.body(intake.message(nonce=88, fraction_bps=100 + i)) for i in range(8)]
    answers = _race(url, bodies)
    codes = [a[0] for a in answers]
    assert all(c in (202, 409) for c in codes), answers
    assert 202 in codes
    assert intake.stored() == codes.count(202)


def test_store_refuses_the_group_write__503_and_nothing_stored(intake, monkeypatch):
    """A store that fails the group's transaction (here: its connection is refused) answers 503
    store_unavailable, not 500, and stores nothing."""
    from sqlalchemy.exc import OperationalError

    from backend.db import group_commit

    def refuse(committer):
        raise OperationalError("INSERT INTO intents", None, Exception("connection refused"))

    monkeypatch.setattr(group_commit.GroupCommitter, "_transaction", refuse)
    response = intake.post(intake.body(intake.message(nonce=5)))
    assert_error(response, 503, "store_unavailable")
    assert intake.stored() == 0


def test_store_write_locked__a_group_of_intents_each_503_store_busy_none_stored(
    anvil_chain, stores, tmp_path
):
    """Another client holds the store's write lock while 6 intents arrive at once: each gets 503
    store_busy with Retry-After within the busy timeout (none waits for the others' turn beyond
    it), nothing is stored; once the lock is gone the same intents are accepted."""
    overrides = {"api_busy_timeout_ms": 200, "api_lock_timeout_ms": 200}
    admit_leader(anvil_chain)
    with (
        open_env(anvil_chain, stores, tmp_path, **overrides) as api,
        uvicorn_server(api.app) as url,
    ):
        intake = IntakeEnv(api)
        bodies = [intake.body(intake.message(nonce=900 + i)) for i in range(6)]
        with store_write_locked(api, table="intents"):
            answers = _race(url, bodies)
        assert [a[0] for a in answers] == [503] * 6, answers
        assert {a[1]["error"]["code"] for a in answers} == {"store_busy"}
        assert {a[2] for a in answers} == {"2"}
        assert intake.stored() == 0
        assert [a[0] for a in _race(url, bodies)] == [202] * 6
        assert intake.stored() == 6


def test_extreme_values_in_a_group__cannot_fail_the_others_all_stored(intake_server):
    """An attacker cannot poison a group: intents with the largest values the registry takes
    (uint256 nonce, minPrice and deadline; fraction 10000) raced with ordinary ones are all
    stored, each exactly as signed."""
    intake, url = intake_server
    top = 2**256 - 1
    extreme = [
        intake.message(nonce=top - i, min_price=top, deadline=top, fraction_bps=10_000)
        for i in range(6)
    ]
    ordinary = [intake.message(nonce=600 + i) for i in range(6)]
    answers = _race(url, [intake.body(m) for m in extreme + ordinary])
    assert [a[0] for a in answers] == [202] * 12, answers
    for message, (_, out, _) in zip(extreme + ordinary, answers, strict=True):
        assert out["digest"] == intake.digest(message)
        assert (out["nonce"], out["min_price"], out["deadline"]) == (
            str(message.nonce),
            str(message.min_price),
            message.deadline,
        )
    with intake.api.engine.connect() as conn:
        rows = dict(conn.execute(select(Intent.digest, Intent.nonce)).all())
    assert rows == {intake.digest(m): m.nonce for m in extreme + ordinary}
