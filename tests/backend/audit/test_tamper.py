"""`copyvault audit verify`'s checks (backend/audit/verify.py) on both stores: a database
administrator edits, deletes, reorders, truncates or rewrites the log (triggers dropped first), or
a wrong anchor is published; each is detected and the first affected entry or anchor is named."""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.audit.entries import body_of, entry_hash
from backend.db.audit_models import AuditEntry
from tests.backend.audit.conftest import INTERVAL, START


def _anchored(audit_world, entries: int = 6) -> None:
    """`entries` entries and two intents, all anchored by the first anchor."""
    audit_world.entries(entries)
    audit_world.intent(START - 100)
    audit_world.intent(START - 30)
    audit_world.anchorer.anchor_if_due()
    assert audit_world.verify().ok


def _first(report):
    assert not report.ok
    return report.findings[0]


def test_verify__untouched_log_and_anchors__ok(audit_world):
    _anchored(audit_world)
    audit_world.entries(2)
    audit_world.clock.now += INTERVAL
    audit_world.anchorer.anchor_if_due()
    report = audit_world.verify(max_unanchored_seconds=0)
    assert report.ok and report.entries == 8 and report.anchors == 2


def test_verify__a_column_edited__names_the_entry_tampered(audit_world):
    _anchored(audit_world)
    audit_world.sql("UPDATE audit_log SET actor = 'operator:mallory/admin' WHERE seq = 3")
    finding = _first(audit_world.verify())
    assert (finding.kind, finding.seq) == ("tampered", 3)


def test_verify__a_body_edited__names_the_entry_tampered(audit_world):
    _anchored(audit_world)
    audit_world.sql(
        "UPDATE audit_log SET body = replace(body, 'relayer:2', 'relayer:9') WHERE seq = 3"
    )
    finding = _first(audit_world.verify())
    assert (finding.kind, finding.seq) == ("tampered", 3)
    assert "does not hash" in finding.message


def test_verify__an_entry_rewritten_and_rehashed__names_it_tampered(audit_world):
    _anchored(audit_world)
    _rewrite(audit_world, 3, actor="operator:mallory/admin", rechain=False)
    finding = _first(audit_world.verify())
    assert (finding.kind, finding.seq) == ("tampered", 3)


def test_verify__an_entry_deleted__names_it(audit_world):
    _anchored(audit_world)
    audit_world.sql("DELETE FROM audit_log WHERE seq = 4")
    finding = _first(audit_world.verify())
    assert (finding.kind, finding.seq) == ("deleted", 4)


def test_verify__two_entries_swapped__names_the_first_reordered(audit_world):
    _anchored(audit_world)
    audit_world.sql(
        "UPDATE audit_log SET seq = -3 WHERE seq = 3",
        "UPDATE audit_log SET seq = 3 WHERE seq = 4",
        "UPDATE audit_log SET seq = 4 WHERE seq = -3",
    )
    finding = _first(audit_world.verify())
    assert (finding.kind, finding.seq) == ("reordered", 3)


def test_verify__the_tail_truncated__names_the_first_entry_gone(audit_world):
    _anchored(audit_world)
    audit_world.sql("DELETE FROM audit_log WHERE seq >= 5")
    finding = _first(audit_world.verify())
    assert (finding.kind, finding.seq, finding.anchor) == ("deleted", 5, 0)


def test_verify__whole_log_rewritten_consistently__only_the_anchor_catches_it(audit_world):
    _anchored(audit_world)
    audit_world.entries(2)
    audit_world.clock.now += INTERVAL
    audit_world.anchorer.anchor_if_due()  # anchor 1 covers 7..8
    _rewrite(audit_world, 7, actor="operator:mallory/admin", rechain=True)
    report = audit_world.verify()
    assert [(f.kind, f.seq, f.anchor) for f in report.findings] == [("anchor_mismatch", 7, 1)]


def test_verify__reanchored_with_a_wrong_root__names_the_anchor(audit_world):
    _anchored(audit_world)
    audit_world.entries(1)
    with Session(audit_world.engine) as s:
        head = s.scalar(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1))
    audit_world.publish(head.seq, head.hash, b"\x66" * 32, START, START + 1)
    finding = _first(audit_world.verify())
    assert (finding.kind, finding.anchor) == ("intents_mismatch", 1)


def test_verify__an_anchored_intent_deleted__names_the_anchor(audit_world):
    _anchored(audit_world)
    audit_world.sql(
        f"DELETE FROM intents WHERE received_at < '{_sql_time(audit_world, START - 50)}'"
    )
    finding = _first(audit_world.verify())
    assert (finding.kind, finding.anchor) == ("intents_mismatch", 0)


def test_verify__entries_left_unanchored_too_long__names_the_first(audit_world):
    _anchored(audit_world)
    audit_world.entries(2)
    audit_world.clock.now += 3 * INTERVAL
    finding = _first(audit_world.verify(max_unanchored_seconds=2 * INTERVAL))
    assert (finding.kind, finding.seq) == ("unanchored", 7)


def _sql_time(audit_world, second: int) -> str:
    from datetime import UTC, datetime

    moment = datetime.fromtimestamp(second, UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S") + ("" if audit_world.backend == "sqlite" else "+00")


def _rewrite(audit_world, seq: int, *, actor: str, rechain: bool) -> None:
    """Change entry `seq`'s actor and re-hash it (and, with `rechain`, every entry after it, so
    that the stored chain is consistent again), as an administrator with the code would."""
    with Session(audit_world.engine) as s:
        rows = list(
            s.scalars(select(AuditEntry).where(AuditEntry.seq >= seq).order_by(AuditEntry.seq))
        )
    statements, prev = [], rows[0].prev_hash
    for row in rows if rechain else rows[:1]:
        content = json.loads(row.body)
        content["prev"] = prev
        if row.seq == seq:
            content["actor"] = actor
        body = body_of(
            seq=row.seq,
            prev=prev,
            content={k: v for k, v in content.items() if k not in ("v", "seq", "prev")},
        )
        new_hash = entry_hash(body)
        statements.append(
            (
                "UPDATE audit_log SET body = :body, hash = :hash, prev_hash = :prev, "
                "actor = :actor WHERE seq = :seq",
                {
                    "body": body,
                    "hash": new_hash,
                    "prev": prev,
                    "actor": content["actor"],
                    "seq": row.seq,
                },
            )
        )
        prev = new_hash
    audit_world.sql(*statements)
