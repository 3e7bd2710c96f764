"""The audit log's writer (backend/services/audit_log.py) on both stores: entries chain by hash,
concurrent writers never fork the chain, and the table refuses UPDATE, DELETE (and TRUNCATE)."""

from __future__ import annotations

import json
import threading

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from backend.audit.entries import GENESIS_HASH, entry_hash
from backend.db.audit_models import AuditEntry
from backend.services import audit_log


def _append(engine, n: int = 1, **fields) -> list[AuditEntry]:
    entries = []
    with Session(engine, expire_on_commit=False) as session:
        for i in range(n):
            entries.append(
                audit_log.append(
                    session,
                    category=fields.get("category", "operator_action"),
                    actor=fields.get("actor", "operator:alice"),
                    action=fields.get("action", "relayer.pause"),
                    subject=f"relayer:{i}",
                    before={"paused": False},
                    after={"paused": True, "score": 0.25},
                    client="203.0.113.7",
                )
            )
        session.commit()
    return entries


def test_append__entries__are_numbered_and_each_hashes_its_body_and_links_the_last(stores):
    engine = stores.engine()
    first, second, third = _append(engine, 3)
    assert [e.seq for e in (first, second, third)] == [1, 2, 3]
    assert first.prev_hash == GENESIS_HASH
    assert second.prev_hash == first.hash and third.prev_hash == second.hash
    for entry in (first, second, third):
        assert entry.hash == entry_hash(entry.body)
        body = json.loads(entry.body)
        assert body["seq"] == entry.seq and body["prev"] == entry.prev_hash
        assert body["after"] == {"paused": True, "score": 0.25}
    with Session(engine) as session:
        assert audit_log.head(session) == (3, third.hash)


def test_append__a_field_named_like_a_secret__is_refused(stores):
    engine = stores.engine()
    with Session(engine) as session, pytest.raises(ValueError, match="totp_secret"):
        audit_log.append(
            session, category="key_rotation", actor="system:keys", action="key.rotate",
            after={"nested": {"totp_secret": "JBSWY3DP"}},
        )  # fmt: skip


def test_append__an_unknown_category__is_refused(stores):
    engine = stores.engine()
    with Session(engine) as session, pytest.raises(ValueError, match="unknown audit category"):
        audit_log.append(session, category="misc", actor="x", action="y")


def test_append__writers_on_separate_engines_at_once__one_unbroken_chain(stores):
    """Separate engines: on SQLite that is what separate processes are (no shared queue)."""
    url = stores.url()
    stores.engine(url)  # migrates
    engines = [stores.engine(url, migrate=False) for _ in range(4)]
    start, errors = threading.Barrier(len(engines)), []

    def write(engine) -> None:
        start.wait()
        try:
            _append(engine, 10)
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(e,)) for e in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    with Session(engines[0]) as session:
        rows = list(session.scalars(select(AuditEntry).order_by(AuditEntry.seq)))
    assert [r.seq for r in rows] == list(range(1, 41))
    assert [r.prev_hash for r in rows] == [GENESIS_HASH] + [r.hash for r in rows[:-1]]


@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit_log SET actor = 'mallory'", "DELETE FROM audit_log WHERE seq = 1"],
)
def test_audit_log__update_or_delete__the_store_refuses(stores, statement):
    engine = stores.engine()
    _append(engine, 2)
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text(statement))


def test_audit_log__truncate_on_postgresql__refused(pg_stores):
    engine = pg_stores.engine()
    _append(engine, 1)
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text("TRUNCATE audit_log"))
