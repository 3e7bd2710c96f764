"""The compliance deny list (edited by `compliance` operators through the API).

`is_denied(session, chain_id, addresses)` is the one check intake and other paths call: the
addresses of `addresses` that are on the list (checksummed, in the order given; empty when none).
"""

from __future__ import annotations

from collections.abc import Iterable

from eth_utils import to_checksum_address
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db.operator_models import DenyListEntry


def is_denied(session: Session, chain_id: int, addresses: Iterable[str]) -> list[str]:
    """The denied ones among `addresses` on `chain_id` (one indexed query)."""
    wanted = [a.lower() for a in addresses]
    if not wanted:
        return []
    denied = set(
        session.scalars(
            select(DenyListEntry.address).where(
                DenyListEntry.chain_id == chain_id, DenyListEntry.address.in_(set(wanted))
            )
        )
    )
    return [to_checksum_address(a) for a in dict.fromkeys(wanted) if a in denied]
