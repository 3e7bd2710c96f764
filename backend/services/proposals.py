"""Withdrawal and configuration-change proposals: owners collect signatures here until the vault's
threshold is met, as the Safe transaction service does for Safes.

- **Identity.** A proposal is its EIP-712 digest on the vault's domain (CopyVault / 1 / chain id /
  vault). Proposing the same thing twice returns the first proposal (adding the second proposer's
  signature when it is new).
- **Checks before anything is stored.** The vault is indexed; the proposer or signer is one of its
  owners (the index's owner set); the signature approves the digest (ECDSA with low s, or EIP-1271
  for contract owners, see `signatures`); the nonce is not used yet; the deadline is ahead; a
  configuration call is one of the vault's configuration functions with well-formed arguments.
- **Prepared before anyone signs.** `prepare_withdrawal` / `prepare_config` run the same checks
  (all but ownership: nobody has signed yet) and return the EIP-712 document and digest an owner
  then signs and proposes; nothing is stored.
- **Status, derived at read time** from the index (never stored, so it cannot drift):
  `executed` when the vault's operation at the proposal's nonce (`vault_operations`) is this
  proposal (same kind and parameters: token, amount and recipient of the Withdrawn event, or the
  same config call data); `stale` when that nonce was consumed by another operation or the deadline
  passed; `ready` when at least `threshold` current owners signed and the nonce is the vault's next
  one (the proposal then carries `ready_call`: the vault.withdraw / vault.executeConfig call with
  `threshold` signatures, signers ascending, ABI-encoded with the compiled ABI); `pending` otherwise
  (signatures missing, or queued behind an earlier nonce).
- Signatures of accounts that are no longer owners stay listed (`is_owner: false`) but do not count.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from eth_abi import decode, encode
from sqlalchemy import Engine, Select, and_, case, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from backend.api.errors import (
    DeadlinePassedError,
    DisallowedConfigCallError,
    InvalidConfigCallError,
    NonceTooFarError,
    NonceUsedError,
    NotOwnerError,
    ProposalClosedError,
    ProposalNotFoundError,
    TooManyOpenProposalsError,
    ZeroAddressError,
    ZeroAmountError,
)
from backend.api.schemas import (
    ConfigPrepareIn,
    ConfigProposalIn,
    Confirmation,
    Execution,
    ProposalOut,
    ProposalPage,
    ReadyCall,
    SignatureSubmission,
    TypedDataOut,
    WithdrawalPrepareIn,
    WithdrawalProposalIn,
    checksum,
)
from backend.chain import eip712
from backend.chain.abi import ContractAbi, Function
from backend.chain.client import ChainClient
from backend.db.models import Vault, VaultOperation, VaultOwner, VaultTransfer
from backend.db.proposal_models import Proposal, ProposalSignature
from backend.services.pagination import decode_cursor, encode_cursor
from backend.services.signatures import verify_owner_signature
from backend.services.vaults import find_vault, owners_of

# How far past the vault's next nonce a proposal may be queued.
MAX_QUEUED_NONCES: Final = 64
ZERO_ADDRESS: Final = "0x" + "00" * 20
# The vault's configuration functions (CopyVault._isConfigSelector), by name.
CONFIG_FUNCTIONS: Final = (
    "setLeader",
    "setPolicy",
    "setAssetAllowed",
    "setVenueAllowed",
    "setOracle",
    "addOwner",
    "removeOwner",
    "setThreshold",
    "unpause",
    "startCopying",
    "setGuardianAccepted",
)


@dataclass(frozen=True)
class ProposalContext:
    """What every proposal operation needs besides the store."""

    chain_id: int
    client: ChainClient  # for EIP-1271 owners
    vault_abi: ContractAbi
    now: int  # unix seconds, for deadlines
    # Most open (pending or ready) proposals per vault (COPYVAULT_API_MAX_OPEN_PROPOSALS_PER_VAULT).
    max_open: int = 100


# ----------------------------------------------------------------------------- helpers


def _domain(ctx: ProposalContext, vault: str) -> eip712.Domain:
    return eip712.Domain(chain_id=ctx.chain_id, verifying_contract=checksum(vault))


def _message(p: Proposal) -> eip712.Message:
    if p.kind == "withdrawal":
        assert p.token is not None and p.amount is not None and p.recipient is not None
        return eip712.Withdrawal(
            token=checksum(p.token),
            amount=p.amount,
            to=checksum(p.recipient),
            nonce=p.nonce,
            deadline=p.deadline,
        )
    assert p.data is not None
    return eip712.ConfigChange(data=bytes.fromhex(p.data[2:]), nonce=p.nonce, deadline=p.deadline)


def config_functions(abi: ContractAbi) -> dict[bytes, Function]:
    return {f.selector: f for f in (abi.fn(name) for name in CONFIG_FUNCTIONS)}


def _check_config_call(abi: ContractAbi, data: bytes) -> Function:
    """The configuration function `data` calls, refusing anything the vault would refuse or that
    does not decode exactly (trailing or missing bytes)."""
    functions = config_functions(abi)
    selector = data[:4]
    fn = functions.get(selector) if len(data) >= 4 else None
    if fn is None:
        allowed = ", ".join(sorted(CONFIG_FUNCTIONS))
        raise DisallowedConfigCallError(
            f"selector 0x{selector.hex()} is not a vault configuration function; a configuration "
            f"change calls one of: {allowed}"
        )
    try:
        args = decode(fn.input_types, data[4:])
        exact = fn.selector + encode(fn.input_types, list(args)) == data
    except Exception:
        exact = False
    if not exact:
        raise InvalidConfigCallError(
            f"the call data does not ABI-encode arguments of {fn.signature}: encode the call with "
            "the vault's ABI (no missing or trailing bytes)"
        )
    return fn


def _check_nonce(vault: Vault, nonce: int | None) -> int:
    if nonce is None:
        return vault.nonce
    if nonce < vault.nonce:
        raise NonceUsedError(
            f"nonce {nonce} of vault {checksum(vault.address)} is already used (the next one is "
            f"{vault.nonce}): propose again with nonce {vault.nonce}, or omit the nonce"
        )
    if nonce > vault.nonce + MAX_QUEUED_NONCES:
        raise NonceTooFarError(
            f"nonce {nonce} is more than {MAX_QUEUED_NONCES} ahead of the vault's next nonce "
            f"{vault.nonce}: propose operations in order"
        )
    return nonce


def _require_owner(owners: Sequence[str], account: str, vault: str) -> None:
    if account not in owners:
        raise NotOwnerError(
            f"{checksum(account)} is not an owner of vault {checksum(vault)}: only owners propose "
            "and sign (the owner set is the index's; a just-added owner counts once indexed)"
        )


def _find(session: Session, *, chain_id: int, digest: str) -> Proposal | None:
    return session.scalar(
        select(Proposal).where(Proposal.chain_id == chain_id, Proposal.digest == digest)
    )


def _signatures(session: Session, ids: Sequence[int]) -> dict[int, list[ProposalSignature]]:
    found: dict[int, list[ProposalSignature]] = defaultdict(list)
    if ids:
        for s in session.scalars(
            select(ProposalSignature)
            .where(ProposalSignature.proposal_id.in_(list(ids)))
            .order_by(ProposalSignature.created_at, ProposalSignature.signer)
        ):
            found[s.proposal_id].append(s)
    return found


def _utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _write_session(engine: Engine) -> Session:
    """A session whose transactions take SQLite's write lock at BEGIN (as the indexer's do)."""
    return Session(engine.execution_options(sqlite_immediate=True), expire_on_commit=False)


# ----------------------------------------------------------------------------- status


@dataclass
class _VaultView:
    vault: Vault | None
    owners: list[str]


def _render(
    session: Session,
    ctx: ProposalContext,
    p: Proposal,
    view: _VaultView,
    signatures: list[ProposalSignature],
) -> ProposalOut:
    message = _message(p)
    domain = _domain(ctx, p.vault)
    vault = view.vault
    threshold = vault.threshold if vault is not None else 0
    owners = set(view.owners)
    counted = [s for s in signatures if s.signer in owners]
    executed = None
    status, reason = "pending", None
    op = session.get(VaultOperation, (ctx.chain_id, p.vault, p.nonce))
    if op is not None:
        if _matches(session, ctx, p, op):
            status = "executed"
            executed = Execution(
                tx_hash=op.tx_hash, block_number=op.block_number, block_timestamp=op.block_timestamp
            )
        else:
            status = "stale"
            what = (op.function or "config") if op.kind == "config" else "withdrawal"
            reason = f"nonce {p.nonce} was used by another operation ({what}) in {op.tx_hash}"
    elif vault is None:
        status, reason = "stale", "the vault is no longer in the index (a reorg removed it)"
    elif vault.nonce > p.nonce:
        status, reason = "stale", f"nonce {p.nonce} was used by another operation"
    elif p.deadline < ctx.now:
        status, reason = "stale", f"the deadline {p.deadline} has passed"
    elif len(counted) < threshold:
        reason = f"{len(counted)} of {threshold} owner signatures"
    elif p.nonce > vault.nonce:
        reason = f"queued: the vault's next nonce is {vault.nonce}"
    else:
        status = "ready"

    ready_call = None
    if status == "ready":
        ready_call = _ready_call(ctx, p, counted, threshold)
    needed = max(0, threshold - len(counted)) if status in ("pending", "ready") else 0
    return ProposalOut(
        digest=p.digest,
        vault=checksum(p.vault),
        kind=p.kind,  # type: ignore[arg-type]
        nonce=p.nonce,
        deadline=p.deadline,
        token=checksum(p.token) if p.token else None,
        amount=str(p.amount) if p.amount is not None else None,
        to=checksum(p.recipient) if p.recipient else None,
        data=p.data,
        function=p.function,
        proposer=checksum(p.proposer),
        created_at=_utc(p.created_at),
        status=status,  # type: ignore[arg-type]
        status_reason=reason,
        threshold=threshold,
        signatures_needed=needed,
        confirmations=[
            Confirmation(
                signer=checksum(s.signer),
                signature=s.signature,
                method=s.method,  # type: ignore[arg-type]
                is_owner=s.signer in owners,
                created_at=_utc(s.created_at),
            )
            for s in signatures
        ],
        executed=executed,
        ready_call=ready_call,
        typed_data=eip712.typed_data(domain, message),
    )


def _matches(session: Session, ctx: ProposalContext, p: Proposal, op: VaultOperation) -> bool:
    if op.kind != p.kind:
        return False
    if p.kind == "config":
        return (op.data or "").lower() == (p.data or "").lower()
    transfer = session.get(VaultTransfer, (ctx.chain_id, op.tx_hash, op.log_index))
    return (
        transfer is not None
        and transfer.kind == "withdrawal"
        and transfer.token == p.token
        and transfer.account == p.recipient
        and transfer.amount == p.amount
    )


def _ready_call(
    ctx: ProposalContext, p: Proposal, counted: list[ProposalSignature], threshold: int
) -> ReadyCall:
    # Exactly `threshold` approvals (ECDSA first: they cannot change; an EIP-1271 owner's answer
    # can), then in the strictly ascending signer order the vault requires.
    chosen = sorted(counted, key=lambda s: (s.method != "ecdsa", s.created_at, s.signer))
    chosen = sorted(chosen[:threshold], key=lambda s: int(s.signer, 16))
    signers = [checksum(s.signer) for s in chosen]
    signatures = [bytes.fromhex(s.signature[2:]) for s in chosen]
    if p.kind == "withdrawal":
        fn = ctx.vault_abi.fn("withdraw")
        data = fn.encode(
            checksum(p.token or ""),
            p.amount,
            checksum(p.recipient or ""),
            p.deadline,
            signers,
            signatures,
        )
    else:
        fn = ctx.vault_abi.fn("executeConfig")
        data = fn.encode(bytes.fromhex((p.data or "0x")[2:]), p.deadline, signers, signatures)
    return ReadyCall(
        to=checksum(p.vault),
        data="0x" + data.hex(),
        function=fn.signature,
        signers=signers,
        signatures=["0x" + s.hex() for s in signatures],
    )


def _view(session: Session, ctx: ProposalContext, vault: str) -> _VaultView:
    row = session.get(Vault, (ctx.chain_id, vault))
    owners = owners_of(session, chain_id=ctx.chain_id, vaults=[vault])[vault] if row else []
    return _VaultView(row, owners)


def _out(session: Session, ctx: ProposalContext, p: Proposal) -> ProposalOut:
    return _render(
        session, ctx, p, _view(session, ctx, p.vault), _signatures(session, [p.id])[p.id]
    )


# ----------------------------------------------------------------------------- operations


def _propose(
    engine: Engine,
    session: Session,
    *,
    ctx: ProposalContext,
    vault: Vault,
    message: eip712.Message,
    fields: dict,
    proposer: str,
    signature: str,
) -> tuple[ProposalOut, bool]:
    domain = _domain(ctx, vault.address)
    digest = "0x" + eip712.digest(domain, message).hex()
    # Checked first, whether or not the proposal exists: a re-post is no way around the check.
    method = verify_owner_signature(
        client=ctx.client,
        domain=domain,
        message=message,
        signer=proposer,
        signature=bytes.fromhex(signature[2:]),
    )
    existing = _find(session, chain_id=ctx.chain_id, digest=digest)
    if existing is not None:
        # The same proposal again: the proposer's signature is one more approval.
        out = _out(session, ctx, existing)
        if any(c.signer.lower() == proposer for c in out.confirmations):
            return out, False
        return add_signature(
            engine,
            session,
            ctx=ctx,
            digest=digest,
            body=SignatureSubmission(signer=proposer, signature=signature),
        )[0], False
    _require_room(session, ctx, vault)
    now, vault_address = datetime.now(UTC), vault.address
    # Give the read connection back before taking a write one: a request never holds two, so a
    # full pool cannot deadlock (every request waiting for a second connection).
    session.rollback()
    with _write_session(engine) as writer:
        try:
            with writer.begin():
                proposal = Proposal(
                    chain_id=ctx.chain_id,
                    digest=digest,
                    vault=vault_address,
                    proposer=proposer,
                    created_at=now,
                    **fields,
                )
                writer.add(proposal)
                writer.flush()
                writer.add(
                    ProposalSignature(
                        proposal_id=proposal.id,
                        signer=proposer,
                        signature=signature,
                        method=method,
                        created_at=now,
                    )
                )
            created = True
        except IntegrityError:  # proposed concurrently by someone else: theirs stands
            created = False
    session.rollback()  # end any read snapshot (SQLite WAL) to see the write
    stored = _find(session, chain_id=ctx.chain_id, digest=digest)
    assert stored is not None
    return _out(session, ctx, stored), created


def _check_common(
    session: Session, ctx: ProposalContext, *, vault: str, proposer: str | None, deadline: int
) -> Vault:
    """The checks every proposal passes (the vault is indexed, the proposer owns it, the deadline
    is ahead). `proposer` None: a document prepared before anyone signed, owned by nobody yet."""
    v = find_vault(session, chain_id=ctx.chain_id, vault=vault)
    if proposer is not None:
        owners = owners_of(session, chain_id=ctx.chain_id, vaults=[v.address])[v.address]
        _require_owner(owners, proposer, v.address)
    if deadline <= ctx.now:
        raise DeadlinePassedError(
            f"the deadline {deadline} is not in the future (now {ctx.now}): give owners time to "
            "sign and someone to submit, e.g. an hour or a day ahead"
        )
    return v


def _withdrawal(
    session: Session,
    ctx: ProposalContext,
    *,
    vault: str,
    body: WithdrawalPrepareIn,
    proposer: str | None,
) -> tuple[Vault, eip712.Withdrawal]:
    """The vault and the Withdrawal to sign, refused as the vault would refuse it."""
    v = _check_common(session, ctx, vault=vault, proposer=proposer, deadline=body.deadline)
    if body.amount == 0:
        raise ZeroAmountError("the amount is zero: the vault refuses empty withdrawals")
    if body.to == ZERO_ADDRESS:
        raise ZeroAddressError("the recipient is the zero address: the vault refuses it")
    message = eip712.Withdrawal(
        token=checksum(body.token),
        amount=body.amount,
        to=checksum(body.to),
        nonce=_check_nonce(v, body.nonce),
        deadline=body.deadline,
    )
    return v, message


def _config_change(
    session: Session,
    ctx: ProposalContext,
    *,
    vault: str,
    body: ConfigPrepareIn,
    proposer: str | None,
) -> tuple[Vault, eip712.ConfigChange, Function]:
    """The vault, the ConfigChange to sign and the configuration function its data calls."""
    v = _check_common(session, ctx, vault=vault, proposer=proposer, deadline=body.deadline)
    data = bytes.fromhex(body.data[2:])
    fn = _check_config_call(ctx.vault_abi, data)
    nonce = _check_nonce(v, body.nonce)
    message = eip712.ConfigChange(data=data, nonce=nonce, deadline=body.deadline)
    return v, message, fn


def prepare_withdrawal(
    session: Session, *, ctx: ProposalContext, vault: str, body: WithdrawalPrepareIn
) -> TypedDataOut:
    """The Withdrawal document owners sign and its digest, before anyone signed (nothing stored)."""
    v, message = _withdrawal(session, ctx, vault=vault, body=body, proposer=None)
    return TypedDataOut.of(_domain(ctx, v.address), message)


def prepare_config(
    session: Session, *, ctx: ProposalContext, vault: str, body: ConfigPrepareIn
) -> TypedDataOut:
    """The ConfigChange document owners sign, its digest and the function it calls (nothing
    stored)."""
    v, message, fn = _config_change(session, ctx, vault=vault, body=body, proposer=None)
    return TypedDataOut.of(_domain(ctx, v.address), message, function=fn.signature)


def propose_withdrawal(
    engine: Engine,
    session: Session,
    *,
    ctx: ProposalContext,
    vault: str,
    body: WithdrawalProposalIn,
) -> tuple[ProposalOut, bool]:
    """Store a withdrawal proposal with its proposer's signature: (proposal, created)."""
    v, message = _withdrawal(session, ctx, vault=vault, body=body, proposer=body.proposer)
    fields = {
        "kind": "withdrawal",
        "nonce": message.nonce,
        "deadline": body.deadline,
        "token": body.token,
        "amount": body.amount,
        "recipient": body.to,
    }
    return _propose(
        engine,
        session,
        ctx=ctx,
        vault=v,
        message=message,
        fields=fields,
        proposer=body.proposer,
        signature=body.signature,
    )


def propose_config(
    engine: Engine,
    session: Session,
    *,
    ctx: ProposalContext,
    vault: str,
    body: ConfigProposalIn,
) -> tuple[ProposalOut, bool]:
    """Store a configuration-change proposal with its proposer's signature: (proposal, created)."""
    v, message, fn = _config_change(session, ctx, vault=vault, body=body, proposer=body.proposer)
    fields = {
        "kind": "config",
        "nonce": message.nonce,
        "deadline": body.deadline,
        "data": body.data,
        "function": fn.signature,
    }
    return _propose(
        engine,
        session,
        ctx=ctx,
        vault=v,
        message=message,
        fields=fields,
        proposer=body.proposer,
        signature=body.signature,
    )


def get_proposal(session: Session, *, ctx: ProposalContext, digest: str) -> ProposalOut:
    p = _find(session, chain_id=ctx.chain_id, digest=digest)
    if p is None:
        raise ProposalNotFoundError(
            f"no proposal with digest {digest} on chain {ctx.chain_id}: the digest is the "
            "proposal's EIP-712 hash, as returned when it was proposed"
        )
    return _out(session, ctx, p)


def add_signature(
    engine: Engine,
    session: Session,
    *,
    ctx: ProposalContext,
    digest: str,
    body: SignatureSubmission,
) -> tuple[ProposalOut, bool]:
    """Add one owner's signature: (proposal, added). Signing twice returns the proposal as is."""
    p = _find(session, chain_id=ctx.chain_id, digest=digest)
    if p is None:
        raise ProposalNotFoundError(f"no proposal with digest {digest} on chain {ctx.chain_id}")
    view = _view(session, ctx, p.vault)
    signatures = _signatures(session, [p.id])[p.id]
    current = _render(session, ctx, p, view, signatures)
    if current.status in ("executed", "stale"):
        raise ProposalClosedError(
            f"the proposal is {current.status} ({current.status_reason or 'executed on chain'}): "
            "it takes no more signatures; propose again for the vault's next nonce"
        )
    _require_owner(view.owners, body.signer, p.vault)
    # Checked before "already signed": signing again with garbage must not answer 200.
    method = verify_owner_signature(
        client=ctx.client,
        domain=_domain(ctx, p.vault),
        message=_message(p),
        signer=body.signer,
        signature=bytes.fromhex(body.signature[2:]),
    )
    if any(s.signer == body.signer for s in signatures):
        return current, False
    proposal_id = p.id
    session.rollback()  # the read connection back to the pool first (see propose)
    with _write_session(engine) as writer:
        try:
            with writer.begin():
                writer.add(
                    ProposalSignature(
                        proposal_id=proposal_id,
                        signer=body.signer,
                        signature=body.signature,
                        method=method,
                        created_at=datetime.now(UTC),
                    )
                )
            added = True
        except IntegrityError:  # the same signer, concurrently
            added = False
    session.rollback()  # end any read snapshot (SQLite WAL) to see the write
    return _out(session, ctx, p), added


def list_proposals(
    session: Session,
    *,
    ctx: ProposalContext,
    vault: str,
    status: str | None,
    cursor: str | None,
    limit: int,
) -> ProposalPage:
    """A vault's proposals, newest first, optionally of one status: filtered and limited in one
    statement (the status derived in SQL, as `_render` derives it), so the cost is one page
    however many proposals the vault has."""
    after = decode_cursor(cursor, "proposals", "i")
    v = find_vault(session, chain_id=ctx.chain_id, vault=vault)
    query = _with_status(
        select(Proposal).where(Proposal.chain_id == ctx.chain_id, Proposal.vault == v.address),
        ctx,
        status,
    )
    if after is not None:
        query = query.where(Proposal.id < after[0])
    rows = list(session.scalars(query.order_by(Proposal.id.desc()).limit(limit + 1)))
    more, rows = len(rows) > limit, rows[:limit]
    view = _view(session, ctx, v.address)
    signatures = _signatures(session, [p.id for p in rows])
    items = [_render(session, ctx, p, view, signatures[p.id]) for p in rows]
    next_cursor = encode_cursor("proposals", rows[-1].id) if more and rows else None
    return ProposalPage(items=items, next_cursor=next_cursor)


# ----------------------------------------------------------------------------- status in SQL

OPEN_STATUSES: Final = ("pending", "ready")


def _with_status(query: Select, ctx: ProposalContext, status: str | Sequence[str] | None) -> Select:
    """`query` (over proposals) restricted to proposals of `status` (one or several), derived in
    SQL exactly as `_render` derives it: executed, stale, pending, ready in that order of
    precedence. No status: `query` unchanged."""
    if status is None:
        return query
    op, transfer, vault = aliased(VaultOperation), aliased(VaultTransfer), aliased(Vault)
    counted = (
        select(func.count())
        .select_from(ProposalSignature)
        .join(
            VaultOwner,
            and_(
                VaultOwner.chain_id == Proposal.chain_id,
                VaultOwner.vault == Proposal.vault,
                VaultOwner.owner == ProposalSignature.signer,
            ),
        )
        .where(ProposalSignature.proposal_id == Proposal.id)
        .correlate(Proposal)
        .scalar_subquery()
    )
    same_config = and_(
        Proposal.kind == "config",
        func.lower(func.coalesce(op.data, "")) == func.lower(func.coalesce(Proposal.data, "")),
    )
    same_withdrawal = and_(
        Proposal.kind == "withdrawal",
        transfer.kind == "withdrawal",
        transfer.token == Proposal.token,
        transfer.account == Proposal.recipient,
        transfer.amount == Proposal.amount,
    )
    derived = case(
        (
            and_(
                op.nonce.is_not(None), op.kind == Proposal.kind, or_(same_config, same_withdrawal)
            ),
            "executed",
        ),
        (op.nonce.is_not(None), "stale"),
        (vault.address.is_(None), "stale"),
        (vault.nonce > Proposal.nonce, "stale"),
        (Proposal.deadline < ctx.now, "stale"),
        (counted < vault.threshold, "pending"),
        (Proposal.nonce > vault.nonce, "pending"),
        else_="ready",
    )
    wanted = [status] if isinstance(status, str) else list(status)
    return (
        query.outerjoin(
            op,
            and_(
                op.chain_id == Proposal.chain_id,
                op.vault == Proposal.vault,
                op.nonce == Proposal.nonce,
            ),
        )
        .outerjoin(
            transfer,
            and_(
                transfer.chain_id == op.chain_id,
                transfer.tx_hash == op.tx_hash,
                transfer.log_index == op.log_index,
            ),
        )
        .outerjoin(
            vault, and_(vault.chain_id == Proposal.chain_id, vault.address == Proposal.vault)
        )
        .where(derived.in_(wanted))
    )


def _require_room(session: Session, ctx: ProposalContext, vault: Vault) -> None:
    """Refuse a new proposal when the vault already has `max_open` pending or ready ones: each
    open proposal costs every list of the vault, and nothing else bounds how many one owner
    files. Only nonces from the vault's next one on can be open, which the index narrows to."""
    query = _with_status(
        select(func.count())
        .select_from(Proposal)
        .where(
            Proposal.chain_id == ctx.chain_id,
            Proposal.vault == vault.address,
            Proposal.nonce >= vault.nonce,
        ),
        ctx,
        OPEN_STATUSES,
    )
    open_now = session.scalar(query) or 0
    if open_now >= ctx.max_open:
        raise TooManyOpenProposalsError(
            f"vault {checksum(vault.address)} has {open_now} open (pending or ready) proposals, "
            f"the most this API keeps for one vault ({ctx.max_open}): execute them, or let them "
            "go stale (deadline or nonce), before proposing more"
        )
