"""Writing the audit trail: `append` adds one entry to the hash chain, in the caller's transaction.

Every area that makes a decision worth auditing calls `append` in the same transaction as the
decision's effect, so the effect and its record commit together or not at all:

    from backend.services import audit_log

    audit_log.append(
        session,
        category="risk_decision",          # one of CATEGORIES
        actor="system:risk-engine",        # who: "<kind>:<id>", e.g. operator:alice, leader:0xab..
        action="intent.hold",              # what: "<object>.<verb>"
        subject="0x5c1f...",               # on what (an intent digest, a vault, a username)
        before={"status": "accepted"},     # the state before and after, where it applies
        after={"status": "held", "score": 0.93},
        client="203.0.113.7",              # from where: the client's address, if a request
        reason="score above the hold threshold",  # why, in words (optional)
    )
    session.commit()                        # the caller commits (or rolls back: no entry)

Rules: no secrets and no personal data in any field (keys that name a secret are refused with
ValueError); before/after are small JSON objects. `append` serialises writers on the head of the
chain (PostgreSQL: a transaction-scoped advisory lock; SQLite: the database's write lock, taken at
BEGIN when `append` starts the transaction), so two writers never fork the chain; the unique
`prev_hash` would refuse a fork even without the lock. The lock is held until the caller's commit:
keep the transaction short.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select, text
from sqlalchemy.orm import Session

from backend.audit.entries import GENESIS_HASH, body_of, canonical_json, entry_hash, timestamp
from backend.db.audit_models import AuditEntry

CATEGORIES = frozenset(
    {
        "operator_action",  # an operator changed something (backend/services/operator_actions.py)
        "privileged_call",  # a request to a privileged API route, allowed or refused
        "sign_in",  # a sign-in, success or failure (operators and SIWE)
        "risk_decision",  # the risk engine held, released, rejected or paused
        "relayed_batch",  # the relayer sent a batch (and how it ended)
        "compliance",  # a screening hit, a KYC attestation
        "key_rotation",  # a master or signing key was rotated
        "backup",  # a backup was taken or restored
    }
)

# Keys whose values are secrets (or carry one): never written into an entry.
_SECRET_KEY = re.compile(
    r"password|secret|private|mnemonic|seed|totp|(^|_)token$|api_?key|evidence", re.IGNORECASE
)
# Any constant works; it names the one lock every writer of the chain takes (PostgreSQL).
_HEAD_LOCK_KEY = 0x636F_7079_6175_6469  # "copyaudi"


def append(
    session: Session | Connection,
    *,
    category: str,
    actor: str,
    action: str,
    subject: str | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    client: str | None = None,
    reason: str | None = None,
    at: datetime | None = None,
) -> AuditEntry:
    """Append one entry after the current head, in `session`'s transaction (not committed).
    `session` may also be a Connection in a transaction (`write_transaction`)."""
    _check(category, before, after)
    fields = {
        "category": category,
        "actor": actor,
        "action": action,
        "subject": subject,
        "client": client,
        "before": _plain(before),  # through JSON and back: the columns hold what the body says
        "after": _plain(after),
        "reason": reason,
    }
    if isinstance(session, Connection):
        with Session(bind=session) as joined:  # joins the connection's transaction
            return _append(joined, fields, at or datetime.now(UTC))
    return _append(session, fields, at or datetime.now(UTC))


def _append(session: Session, fields: dict[str, Any], moment: datetime) -> AuditEntry:
    _lock_head(session)
    head = session.execute(
        select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)
    ).first()
    seq, prev = (head.seq + 1, head.hash) if head is not None else (1, GENESIS_HASH)
    body = body_of(seq=seq, prev=prev, content={"at": timestamp(moment), **fields})
    entry = AuditEntry(
        seq=seq, at=moment, **fields, body=body, prev_hash=prev, hash=entry_hash(body)
    )
    session.add(entry)
    session.flush()
    return entry


def head(session: Session) -> tuple[int, str]:
    """(seq, hash) of the last entry; (0, 32 zero bytes) for an empty log."""
    row = session.execute(
        select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)
    ).first()
    return (row.seq, row.hash) if row is not None else (0, GENESIS_HASH)


def page(
    session: Session, *, after_seq: int, limit: int, category: str | None = None
) -> list[AuditEntry]:
    """Entries with seq > after_seq, oldest first (optionally of one category)."""
    query = select(AuditEntry).where(AuditEntry.seq > after_seq)
    if category is not None:
        query = query.where(AuditEntry.category == category)
    return list(session.scalars(query.order_by(AuditEntry.seq).limit(limit)))


def _check(category: str, before: Any, after: Any) -> None:
    if category not in CATEGORIES:
        raise ValueError(f"unknown audit category {category!r}: use one of {sorted(CATEGORIES)}")
    for state in (before, after):
        if state is not None and not isinstance(state, dict):
            raise ValueError("before and after are JSON objects (dicts) or None")
        _refuse_secrets(state)


def _refuse_secrets(value: Any) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            if _SECRET_KEY.search(str(key)):
                raise ValueError(f"audit entries never hold secrets: drop the field {key!r}")
            _refuse_secrets(inner)
    elif isinstance(value, list):
        for inner in value:
            _refuse_secrets(inner)


def _plain(state: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if state is None else json.loads(canonical_json(state))


def _lock_head(session: Session) -> None:
    """Serialise appenders until the transaction ends."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _HEAD_LOCK_KEY})
    elif not session.in_transaction():
        # SQLite: begin by taking the database's write lock, so the head read below is still the
        # head when the insert lands.
        session.connection(execution_options={"sqlite_immediate": True})
    else:
        # SQLite, in the caller's transaction: its pending writes go first, which takes the
        # write lock (if the transaction did not hold it from BEGIN) before the head is read.
        session.flush()
