"""Screening: the addresses the index saw since the last run, checked against the loaded
sanctions list and the on-chain sanctions oracle; a match opens a case for a compliance operator.

Who is screened, per chain, in the blocks after the screening cursor up to the indexed head:
depositors (`vault_transfers` deposits), the owners of vaults created there (`vault_owners` of
those `vaults`) and leaders that registered there (`leaders.registered_block`). Each address is
checked once per run against `sanctions_entries` (one query) and, when the factory names a
sanctions oracle (`platform.sanctions_list`, as indexed), with `isSanctioned(address)` (eth_call).

A match opens one `screening_cases` row per (chain, address, subject), `open`; a later match of
the same address in the same role adds nothing (a cleared case stays cleared until the address is
matched in another role). A compliance operator, with a fresh TOTP code, clears a case (a false
match) or confirms it: a confirmed address goes on the deny list in the same transaction, so
intake refuses its intents (`address_denied`), and the intents it led or signed that intake held
for the open case (backend/services/intents.py) are rejected. A cleared case leaves them held
for an operator to release. Log lines name cases by id and subject only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from eth_abi import encode
from eth_utils import function_signature_to_4byte_selector, to_checksum_address
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from backend.api.errors import ScreeningCaseDecidedError, ScreeningCaseNotFoundError
from backend.chain.client import ChainClient
from backend.db.compliance_models import SanctionsEntry, ScreeningCase, ScreeningCursor
from backend.db.models import IndexerCursor, Leader, Platform, Vault, VaultOwner, VaultTransfer
from backend.db.operator_models import DenyListEntry
from backend.db.relay_models import Intent
from backend.services import compliance_record
from backend.services.operator_actions import Actor

log = logging.getLogger(__name__)

_IS_SANCTIONED = function_signature_to_4byte_selector("isSanctioned(address)")
_ZERO = "0x" + "00" * 20


@dataclass(frozen=True)
class Sighting:
    """An address the index saw in a role: where (vault) and when (block)."""

    address: str
    subject: str
    vault: str | None
    block: int


@dataclass
class ScreeningReport:
    chain_id: int
    from_block: int  # exclusive
    to_block: int  # inclusive
    addresses: int = 0
    opened: list[int] = field(default_factory=list)  # case ids


# ----------------------------------------------------------------------------- who to screen


def _sightings(s: Session, chain_id: int, after: int, head: int) -> list[Sighting]:
    def in_range(column):
        return column.between(after + 1, head)

    deposits = s.execute(
        select(VaultTransfer.account, VaultTransfer.vault, VaultTransfer.block_number).where(
            VaultTransfer.chain_id == chain_id,
            VaultTransfer.kind == "deposit",
            in_range(VaultTransfer.block_number),
        )
    )
    owners = s.execute(
        select(VaultOwner.owner, Vault.address, Vault.created_block)
        .join(Vault, (Vault.chain_id == VaultOwner.chain_id) & (Vault.address == VaultOwner.vault))
        .where(Vault.chain_id == chain_id, in_range(Vault.created_block))
    )
    leaders = s.execute(
        select(Leader.address, Leader.registered_block).where(
            Leader.chain_id == chain_id, in_range(Leader.registered_block)
        )
    )
    found = [Sighting(a, "depositor", v, b) for a, v, b in deposits]
    found += [Sighting(a, "owner", v, b) for a, v, b in owners]
    found += [Sighting(a, "leader", None, b) for a, b in leaders]
    # The first sighting of each (address, role) is the one a case names.
    found.sort(key=lambda x: x.block)
    return list({(x.address, x.subject): x for x in reversed(found)}.values())


# ----------------------------------------------------------------------------- checks


# Addresses per query: well under SQLite's limit of bound parameters, whatever the run's size.
_CHUNK = 500


def listed(s: Session, addresses: list[str]) -> dict[str, str]:
    """The addresses of `addresses` on the loaded sanctions list -> their list uid."""
    found: dict[str, str] = {}
    for start in range(0, len(addresses), _CHUNK):
        chunk = addresses[start : start + _CHUNK]
        rows = s.execute(
            select(SanctionsEntry.address, SanctionsEntry.list_uid).where(
                SanctionsEntry.address.in_(chunk)
            )
        )
        found.update({address: uid for address, uid in rows})
    return found


def oracle_of(s: Session, chain_id: int) -> str | None:
    """The sanctions oracle the factory names (as indexed), if any."""
    address = s.scalar(select(Platform.sanctions_list).where(Platform.chain_id == chain_id))
    return address if address and address != _ZERO else None


def sanctioned_by_oracle(client: ChainClient, oracle: str, address: str) -> bool:
    data = _IS_SANCTIONED + encode(["address"], [to_checksum_address(address)])
    return int.from_bytes(client.call(oracle, data)[:32] or b"\0", "big") != 0


# ----------------------------------------------------------------------------- a run


def _cursor(s: Session, chain_id: int) -> int:
    block = s.scalar(select(ScreeningCursor.block).where(ScreeningCursor.chain_id == chain_id))
    return -1 if block is None else block


def _open_case(
    s: Session,
    chain_id: int,
    sighting: Sighting,
    sources: list[str],
    uid: str | None,
    now: datetime,
) -> ScreeningCase | None:
    exists = s.scalar(
        select(ScreeningCase.id).where(
            ScreeningCase.chain_id == chain_id,
            ScreeningCase.address == sighting.address,
            ScreeningCase.subject == sighting.subject,
        )
    )
    if exists is not None:
        return None
    case = ScreeningCase(
        chain_id=chain_id,
        address=sighting.address,
        subject=sighting.subject,
        sources=",".join(sources),
        vault=sighting.vault,
        block_number=sighting.block,
        list_uid=uid,
        status="open",
        opened_at=now,
    )
    s.add(case)
    s.flush()
    compliance_record.system_event(
        s,
        "screening.case_opened",
        to_checksum_address(sighting.address),
        after={"case": case.id, "chain_id": chain_id, "role": sighting.subject, "sources": sources},
        at=now,
        actor="system:screening",
    )
    return case


def screen(s: Session, *, chain_id: int, client: ChainClient, now: datetime) -> ScreeningReport:
    """Screen what the index saw after the cursor up to its head; open a case per match."""
    head = s.scalar(select(IndexerCursor.block_number).where(IndexerCursor.chain_id == chain_id))
    after = _cursor(s, chain_id)
    report = ScreeningReport(chain_id, after, head if head is not None else after)
    if head is None or head <= after:
        return report
    sightings = _sightings(s, chain_id, after, head)
    addresses = sorted({x.address for x in sightings})
    on_list = listed(s, addresses)
    oracle = oracle_of(s, chain_id)
    by_oracle = {a for a in addresses if oracle and sanctioned_by_oracle(client, oracle, a)}
    for sighting in sightings:
        sources = [
            name
            for name, hit in (
                ("sanctions_list", sighting.address in on_list),
                ("oracle", sighting.address in by_oracle),
            )
            if hit
        ]
        if sources:
            uid = on_list.get(sighting.address)
            case = _open_case(s, chain_id, sighting, sources, uid, now)
            if case is not None:
                report.opened.append(case.id)
                log.warning("screening: case %d opened (%s)", case.id, sighting.subject)
    s.merge(ScreeningCursor(chain_id=chain_id, block=head, updated_at=now))
    s.commit()
    report.addresses, report.to_block = len(addresses), head
    return report


# ----------------------------------------------------------------------------- decisions


def cases(s: Session, *, chain_id: int, status: str | None, limit: int) -> list[ScreeningCase]:
    query = select(ScreeningCase).where(ScreeningCase.chain_id == chain_id)
    if status is not None:
        query = query.where(ScreeningCase.status == status)
    return list(s.scalars(query.order_by(ScreeningCase.id.desc()).limit(limit)))


def _open(s: Session, chain_id: int, case_id: int) -> ScreeningCase:
    case = s.get(ScreeningCase, case_id)
    if case is None or case.chain_id != chain_id:
        raise ScreeningCaseNotFoundError(f"no screening case {case_id} on chain {chain_id}")
    if case.status != "open":
        raise ScreeningCaseDecidedError(
            f"screening case {case_id} is already {case.status} (by {case.decided_by}): a "
            "decision is final; deny or allow the address through the deny list instead"
        )
    return case


def decide_case(
    s: Session, actor: Actor, *, chain_id: int, case_id: int, decision: str, reason: str
) -> ScreeningCase:
    """`clear` (a false match: nothing else changes) or `confirm` (a true match: the address
    goes on the deny list in the same transaction) an open case, recorded."""
    case = _open(s, chain_id, case_id)
    status = {"clear": "cleared", "confirm": "confirmed"}[decision]
    case.status, case.reason = status, reason
    case.decided_by, case.decided_at = actor.operator.username, actor.now
    compliance_record.operator_decision(
        s,
        actor,
        f"screening.{decision}",
        to_checksum_address(case.address),
        before={"case": case.id, "status": "open"},
        after={
            "case": case.id,
            "status": status,
            "role": case.subject,
            "sources": case.sources,
        },
        reason=reason,
        chain_id=case.chain_id,
    )
    if status == "confirmed":
        _deny(s, actor, case, reason)
        # After the record: it took the audit trail's lock, which intake's store of a held
        # intent takes too, so every hold committed before is seen here and any later one
        # sees this confirmation (backend/services/intents.py `_store_screened`).
        _reject_held_intents(s, actor, case, reason)
    s.commit()
    return case


def _reject_held_intents(s: Session, actor: Actor, case: ScreeningCase, reason: str) -> None:
    """A confirmed match: every held intent the address led or signed is rejected (never
    relayed), recorded in the audit trail with their digests. A cleared case leaves them held
    for an operator (docs/compliance.md says why)."""
    by_address = (Intent.leader == case.address) | (Intent.signer == case.address)
    where = (Intent.chain_id == case.chain_id) & (Intent.status == "held") & by_address
    digests = list(s.scalars(select(Intent.digest).where(where).order_by(Intent.id)))
    if digests:
        s.execute(
            update(Intent)
            .where(where, Intent.digest.in_(digests))
            .values(
                status="rejected",
                plan_due=False,
                error=f"rejected by compliance: screening case {case.id} confirmed: {reason}",
                updated_at=actor.now,
            )
            .execution_options(synchronize_session=False)
        )
        compliance_record.system_event(
            s,
            "screening.intents_rejected",
            to_checksum_address(case.address),
            after={"case": case.id, "chain_id": case.chain_id, "intents": digests},
            at=actor.now,
            actor=f"operator:{actor.operator.username}",
        )


def _deny(s: Session, actor: Actor, case: ScreeningCase, reason: str) -> None:
    entry = s.get(DenyListEntry, (case.chain_id, case.address)) or DenyListEntry(
        chain_id=case.chain_id, address=case.address
    )
    entry.reason = f"screening case {case.id} confirmed: {reason}"
    entry.added_by, entry.added_at = actor.operator.username, actor.now
    s.add(entry)
