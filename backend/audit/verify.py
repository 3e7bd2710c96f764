"""`copyvault audit verify`: recompute the audit log from the store, check it against the anchors
on chain, and name the first entry that was tampered with, deleted, reordered or left unanchored.

What each check catches:

- **tampered**: an entry's body does not hash to its stored hash, or its columns say something its
  body does not (an edit of either), or the next entry links to a different hash than this one's
  (this entry was rewritten and re-hashed);
- **deleted**: a gap in the seq numbers, or entries an anchor covers that are no longer there
  (truncation at the end);
- **reordered**: an intact entry sits at another position than the one it was written at (its
  body names another seq, or links to an entry other than the one before it);
- **anchor_mismatch**: an anchor's head hash is not the hash of the store's entry at that seq:
  the log up to it was rewritten, consistently re-hashed (only the chain remembers), or the anchor
  itself is wrong;
- **intents_mismatch**: the Merkle root of the intents the store says were accepted in an
  anchor's interval is not the root on chain: an accepted intent was removed (or added) since;
- **unanchored**: an entry older than the allowed delay that no anchor covers (the anchorer is
  not running, or its anchors are being withheld).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.audit.anchors import OnChainAnchor, intent_tree
from backend.audit.entries import CONTENT_FIELDS, GENESIS_HASH, body_of, entry_hash, timestamp
from backend.db.audit_models import AuditEntry
from backend.db.types import utc_aware

# More findings than this add nothing to the first one, which is what to investigate.
MAX_FINDINGS = 20


@dataclass(frozen=True)
class Finding:
    kind: str  # tampered | deleted | reordered | anchor_mismatch | intents_mismatch | unanchored
    message: str
    seq: int | None = None
    anchor: int | None = None

    def to_json(self) -> dict[str, object]:
        return {"kind": self.kind, "seq": self.seq, "anchor": self.anchor, "message": self.message}


@dataclass
class Report:
    entries: int = 0
    anchors: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def add(self, finding: Finding) -> None:
        if len(self.findings) < MAX_FINDINGS:
            self.findings.append(finding)


@dataclass(frozen=True)
class _Stored:
    seq: int
    hash: str
    prev_hash: str
    at: datetime


def verify_log(
    session: Session,
    anchors: list[OnChainAnchor],
    *,
    chain_id: int,
    now: datetime,
    max_unanchored_seconds: int,
) -> Report:
    """Every check above; findings ordered as found (the chain's own checks first, by seq)."""
    report = Report(anchors=len(anchors))
    stored = _check_chain(session, report)
    report.entries = len(stored)
    _check_anchors(session, report, stored, anchors, chain_id)
    _check_unanchored(report, stored, anchors, now, max_unanchored_seconds)
    return report


def _rows(session: Session) -> Iterator[AuditEntry]:
    return session.scalars(
        select(AuditEntry).order_by(AuditEntry.seq).execution_options(yield_per=1000)
    )


def _check_chain(session: Session, report: Report) -> dict[int, _Stored]:
    stored: dict[int, _Stored] = {}
    seq_of_hash: dict[str, int] = {}
    expected_seq, previous = 1, None
    for row in _rows(session):
        entry = _Stored(row.seq, row.hash, row.prev_hash, utc_aware(row.at))
        if row.seq > expected_seq:
            gone = (
                f"{expected_seq}"
                if row.seq == expected_seq + 1
                else f"{expected_seq}..{row.seq - 1}"
            )
            report.add(
                Finding(
                    "deleted", f"entries {gone} are missing (seq jumps to {row.seq})", expected_seq
                )
            )
        _check_entry(report, row, previous, seq_of_hash)
        stored[row.seq] = entry
        seq_of_hash[row.hash] = row.seq
        expected_seq, previous = row.seq + 1, entry
    return stored


def _check_entry(
    report: Report, row: AuditEntry, previous: _Stored | None, seq_of_hash: dict[str, int]
) -> None:
    if entry_hash(row.body) != row.hash:
        report.add(
            Finding(
                "tampered", f"entry {row.seq}: its body does not hash to its stored hash", row.seq
            )
        )
        return
    try:
        body = json.loads(row.body)
    except ValueError:
        report.add(Finding("tampered", f"entry {row.seq}: its body is not JSON", row.seq))
        return
    if body.get("seq") != row.seq:
        report.add(
            Finding("reordered", f"entry {row.seq} was written as entry {body.get('seq')}", row.seq)
        )
        return
    if _body_of_columns(row) != row.body:
        report.add(
            Finding(
                "tampered", f"entry {row.seq}: its columns differ from its hashed body", row.seq
            )
        )
        return
    expected_prev = previous.hash if previous is not None and previous.seq == row.seq - 1 else None
    if row.seq == 1:
        expected_prev = GENESIS_HASH
    if expected_prev is not None and row.prev_hash != expected_prev:
        if row.prev_hash in seq_of_hash:
            report.add(
                Finding(
                    "reordered",
                    f"entry {row.seq} follows entry {seq_of_hash[row.prev_hash]}, "
                    f"not {row.seq - 1}",
                    row.seq,
                )
            )
        else:
            report.add(
                Finding(
                    "tampered",
                    f"entry {row.seq - 1} was rewritten: entry {row.seq} links to a hash no "
                    "stored entry has",
                    row.seq - 1,
                )
            )


def _body_of_columns(row: AuditEntry) -> str:
    content = {name: getattr(row, name) for name in CONTENT_FIELDS}
    content["at"] = timestamp(utc_aware(row.at))
    return body_of(seq=row.seq, prev=row.prev_hash, content=content)


def _check_anchors(
    session: Session,
    report: Report,
    stored: dict[int, _Stored],
    anchors: list[OnChainAnchor],
    chain_id: int,
) -> None:
    last_seq = max(stored, default=0)
    for anchor in anchors:
        if anchor.head_seq > last_seq:
            report.add(
                Finding(
                    "deleted",
                    f"anchor {anchor.index} covers entries up to {anchor.head_seq}, but the log "
                    f"ends at {last_seq}: entries {last_seq + 1}..{anchor.head_seq} were removed",
                    last_seq + 1,
                    anchor.index,
                )
            )
        elif anchor.head_seq > 0 and stored.get(anchor.head_seq) is not None:
            if stored[anchor.head_seq].hash != anchor.head_hash:
                report.add(
                    Finding(
                        "anchor_mismatch",
                        f"anchor {anchor.index} says entry {anchor.head_seq} hashes to "
                        f"{anchor.head_hash}; the store's hashes to "
                        f"{stored[anchor.head_seq].hash}: the log up to {anchor.head_seq} was "
                        "rewritten, or the anchor is wrong",
                        _first_after_previous_anchor(anchors, anchor),
                        anchor.index,
                    )
                )
        root = "0x" + intent_tree(session, chain_id, anchor.from_time, anchor.to_time).root.hex()
        if root != anchor.intents_root:
            report.add(
                Finding(
                    "intents_mismatch",
                    f"anchor {anchor.index}: the intents accepted in [{anchor.from_time}, "
                    f"{anchor.to_time}) per the store have the root {root}, the chain says "
                    f"{anchor.intents_root}: an accepted intent was removed or added, or the "
                    "anchor is wrong",
                    anchor=anchor.index,
                )
            )


def _first_after_previous_anchor(anchors: list[OnChainAnchor], anchor: OnChainAnchor) -> int:
    earlier = [
        a.head_seq for a in anchors if a.index < anchor.index and a.head_seq < anchor.head_seq
    ]
    return max(earlier, default=0) + 1


def _check_unanchored(
    report: Report,
    stored: dict[int, _Stored],
    anchors: list[OnChainAnchor],
    now: datetime,
    max_unanchored_seconds: int,
) -> None:
    anchored = max((a.head_seq for a in anchors), default=0)
    for seq in range(anchored + 1, max(stored, default=0) + 1):
        entry = stored.get(seq)
        if entry is not None and (now - entry.at).total_seconds() > max_unanchored_seconds:
            report.add(
                Finding(
                    "unanchored",
                    f"entry {seq} ({entry.at.isoformat()}) is older than "
                    f"{max_unanchored_seconds}s and no anchor covers it",
                    seq,
                )
            )
            return
