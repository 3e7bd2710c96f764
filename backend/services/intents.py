"""Intake of signed trade intents: validate as the chain would, store once per digest.

The checks mirror `LeaderRegistry.checkIntent`, the platform's allowlists and its admission rules,
in this order, and nothing is stored unless every one passes:

1. terms: `fractionBps` in 1..10000 (`invalid_fraction`), two different tokens (`identical_tokens`);
2. the EIP-712 digest on the registry's domain for this chain; the same digest seen before, with the
   same signature or signer, returns the stored intent as it is (idempotent: never relayed twice);
3. admission, from the index and before any signature is recovered (spam from fresh keys costs one
   SELECT, no ECDSA): the leader is not on the platform's deny list (`address_denied`), has a
   current `verified` KYC attestation when COPYVAULT_INTAKE_REQUIRE_VERIFIED_LEADER is on
   (`leader_not_verified`; one more indexed query, only then), is
   registered in the LeaderRegistry (`leader_not_registered`) and
   at least one vault following it can trade the intent: not paused, copying, and holding a
   positive indexed balance of `tokenIn` (`no_funded_follower`);
4. the signer, in the registry's order: an ECDSA signer (low s; `malformed_signature` for bytes
   that are no signature) that is the leader or a delegate whose expiry is still ahead
   (`unauthorized_signer`); or, for a contract leader, `registry.verifyIntent` through eth_call
   (EIP-1271: `invalid_signature`); a signing delegate not on the deny list (`address_denied`);
   then the leader's shared rate limit is charged (429 `rate_limited`), so forged intents naming
   a leader never spend its budget;
5. the leader has fewer than `max_pending` intents not yet final (accepted, planning, relaying):
   else 429 `leader_pending_limit` with Retry-After. Checked after the signer, so only an intent
   the leader (or its delegate) approved is told about the leader's queue;
6. the deadline is at least `intent_deadline_margin` seconds ahead of the chain's clock
   (`intent_expired`): an intent that would expire while being relayed is refused now;
7. the nonce is not cancelled in the registry (`nonce_cancelled`) and not used (`nonce_used`):
   another intent of the leader with that nonce was accepted, or a vault already traded it;
8. the venue is allowed platform-wide (`unknown_venue`) and the platform's oracle prices both tokens
   (`token_not_allowed`), without which no vault could bound the trade.

9. the risk engine (backend/risk, docs/risk.md) scores the intent from memory, no store query:
   over COPYVAULT_RISK_HOLD_SCORE it is stored `held` (202, the relayer never plans it until a
   risk operator releases it); over COPYVAULT_RISK_SEVERE_SCORE the leader's vaults are also
   paused and an alert sent, in the responder's thread. The score and its features are stored
   with the intent either way.
10. compliance (docs/compliance.md): while a screening case of the leader, or of the delegate
   that signed, is open, the intent is stored `held` naming the case (202; never planned until an
   operator releases it), with its audit entry (`screening.intent_held`) in the same transaction.

Every index fact of rules 3, 5, 7, 8 and 10 is read in one SELECT (`_INDEX_FACTS`); a delegate's
deny-list entry and open case in one more, only for a delegate's intent. The pending count
is read, not locked: concurrent requests of one leader may pass it together, so a leader can exceed
the limit by at most the number of its requests in flight at that moment.

Delegates, cancelled nonces, venues and feeds are read from the index (what the indexer has seen at
its confirmations). The relayer checks the intent once more on chain (`verifyIntent`) before it
plans anything, so a change in the last blocks (a revoked delegate) cannot slip through.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from eth_utils import to_checksum_address
from sqlalchemy import Engine, bindparam, func, insert, literal, literal_column, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.api.errors import (
    AddressDeniedError,
    DependencyUnavailableError,
    IdenticalTokensError,
    IntentExpiredError,
    IntentNotFoundError,
    InvalidFractionError,
    InvalidSignatureError,
    LeaderNotRegisteredError,
    LeaderNotVerifiedError,
    LeaderPendingLimitError,
    MalformedSignatureError,
    NoFundedFollowerError,
    NonceCancelledError,
    NonceUsedError,
    TokenNotAllowedError,
    UnauthorizedSignerError,
    UnknownVenueError,
)
from backend.api.schemas import (
    IntentBatchOut,
    IntentPrepareIn,
    IntentStatusOut,
    IntentSubmission,
    TypedDataOut,
    VaultOutcomeOut,
    checksum,
)
from backend.chain import eip712
from backend.chain.abi import ContractAbi
from backend.chain.artifacts import error_selector
from backend.chain.client import ChainClient
from backend.chain.clock import ChainClock
from backend.chain.code_cache import CodePresence
from backend.db.compliance_models import ScreeningCase
from backend.db.group_commit import group_committer
from backend.db.models import (
    Leader,
    LeaderDelegate,
    LeaderNonceWord,
    OracleFeed,
    PlatformVenue,
    Trade,
    Vault,
    VaultBalance,
)
from backend.db.operator_models import DenyListEntry
from backend.db.relay_models import Intent, RelayBatch, RelayOutcome
from backend.exceptions import ChainUnavailableError, RpcError
from backend.risk.engine import Assessment, IntentView
from backend.risk.gate import RiskGate
from backend.services import compliance_record, kyc

MAX_BPS: Final = 10_000
PRICE_SCALE: Final = 10**18
# An intent not yet final: the relayer may still send it (counted by the pending limit).
PENDING_STATUSES: Final = ("accepted", "planning", "relaying")


@dataclass(frozen=True)
class IntakeContext:
    """What intake needs besides the store."""

    chain_id: int
    registry: str
    oracle: str  # the deployment's PriceOracle: the platform's prices
    client: ChainClient  # EIP-1271 leaders only
    codes: CodePresence
    registry_abi: ContractAbi
    clock: ChainClock
    deadline_margin: int
    on_accepted: Callable[[], None] = lambda: None
    # Charges one intent to the leader's shared rate limit; raises RateLimitExceeded (429).
    charge_leader: Callable[[str], None] = lambda leader: None
    # Admission: most intents of one leader not yet final, and the Retry-After of a refusal.
    max_pending: int = 32
    pending_retry_after: int = 12
    # Compliance: admit only leaders with a current `verified` KYC attestation.
    require_verified_leader: bool = False
    # The risk engine (backend/risk): None when COPYVAULT_RISK_ENABLED is false.
    risk: RiskGate | None = None

    @property
    def domain(self) -> eip712.Domain:
        return eip712.Domain(chain_id=self.chain_id, verifying_contract=self.registry)


# ----------------------------------------------------------------------------- checks


def _message(body: IntentPrepareIn) -> eip712.TradeIntent:
    return eip712.TradeIntent(
        leader=checksum(body.leader),
        venue=checksum(body.venue),
        token_in=checksum(body.token_in),
        token_out=checksum(body.token_out),
        fraction_bps=body.fraction_bps,
        min_price=body.min_price,
        nonce=body.nonce,
        deadline=body.deadline,
    )


def _check_terms(body: IntentPrepareIn) -> None:
    if not 1 <= body.fraction_bps <= MAX_BPS:
        raise InvalidFractionError(
            f"fraction_bps {body.fraction_bps} is outside 1..{MAX_BPS}: it is the share of each "
            "vault's token_in balance to sell, in basis points"
        )
    if body.token_in == body.token_out:
        raise IdenticalTokensError(
            f"token_in and token_out are both {checksum(body.token_in)}: a trade needs two tokens"
        )


def _recover_ecdsa(digest: bytes, signature: str) -> str | None:
    """The ECDSA signer of the intent's `digest` (lowercase), or None when the bytes are not an
    ECDSA signature at all."""
    try:
        return eip712.recover_address(digest, signature)
    except eip712.InvalidSignatureError:
        return None


def _is_contract(ctx: IntakeContext, account: str) -> bool:
    try:
        return ctx.codes.has_code(checksum(account))
    except ChainUnavailableError as exc:
        raise DependencyUnavailableError(
            f"the node is needed to check a contract leader's signature and did not answer: {exc}"
        ) from None


def _verify_on_chain(ctx: IntakeContext, message: eip712.TradeIntent, signature: str) -> None:
    """registry.verifyIntent through eth_call: the EIP-1271 path, decided by the chain itself."""
    fn = ctx.registry_abi.fn("verifyIntent")
    data = fn.encode(message.values(), bytes.fromhex(signature[2:]))
    try:
        ctx.client.call(ctx.registry, data)
    except ChainUnavailableError as exc:
        raise DependencyUnavailableError(
            f"the node is needed to check a contract leader's signature and did not answer: {exc}"
        ) from None
    except RpcError as exc:
        raise _registry_refusal(_registry_error(ctx, exc), message) from None


def _registry_error(ctx: IntakeContext, exc: RpcError) -> str:
    """The name of the registry error in a revert ("NonceCancelled"), or "" if there is none."""
    data = exc.revert_data or b""
    for item in ctx.registry_abi.contract.errors():
        if data[:4] == error_selector(item):
            return item["name"]
    return ""


def _registry_refusal(error: str, message: eip712.TradeIntent) -> Exception:
    """The API error for a verifyIntent revert, by the registry's error name."""
    if error == "IntentExpired":
        return IntentExpiredError(f"intent deadline {message.deadline} has passed on chain")
    if error == "NonceCancelled":
        return NonceCancelledError(_cancelled_text(message))
    if error == "UnauthorizedSigner":
        return UnauthorizedSignerError(
            f"the signature is by neither {message.leader} (a contract: its EIP-1271 "
            "isValidSignature does not approve this digest) nor one of its live delegates"
        )
    return InvalidSignatureError(
        f"leader {message.leader} is a contract and its isValidSignature does not approve this "
        "intent's digest (EIP-1271)"
    )


def _live_delegate(session: Session, ctx: IntakeContext, leader: str, signer: str):
    """(the delegate's expiry or None, whether it is still ahead of the chain's clock)."""
    expiry = session.scalar(
        select(LeaderDelegate.expiry).where(
            LeaderDelegate.chain_id == ctx.chain_id,
            LeaderDelegate.leader == leader,
            LeaderDelegate.delegate == signer,
        )
    )
    return expiry, expiry is not None and expiry > ctx.clock.now()


def _authorized_signer(
    session: Session,
    ctx: IntakeContext,
    message: eip712.TradeIntent,
    digest: bytes,
    signature: str,
) -> str:
    """The signer the registry would accept, in the registry's order: an ECDSA signer that is the
    leader or a live delegate; else, for a contract leader, the leader through EIP-1271 (decided by
    the registry itself); else the refusal the registry would give."""
    recovered = _recover_ecdsa(digest, signature)
    leader = message.leader.lower()
    if recovered == leader:
        return recovered
    expiry, live = None, False
    if recovered is not None:
        expiry, live = _live_delegate(session, ctx, leader, recovered)
        if live:
            return recovered
    if _is_contract(ctx, leader):
        _verify_on_chain(ctx, message, signature)
        return leader
    if recovered is None:
        try:
            eip712.split_signature(signature)
        except eip712.InvalidSignatureError as exc:
            raise MalformedSignatureError(
                f"{exc}: sign the TradeIntent with eth_signTypedData_v4"
            ) from None
        raise InvalidSignatureError("the signature does not recover any key")
    state = "is not a delegate of" if expiry is None else f"stopped being a delegate at {expiry} of"
    raise UnauthorizedSignerError(
        f"the intent is signed by {checksum(recovered)}, which {state} {message.leader}: the "
        "leader or a live delegate must sign"
    )


def _require_time_left(ctx: IntakeContext, message: eip712.TradeIntent) -> None:
    now = ctx.clock.now()
    if message.deadline < now + ctx.deadline_margin:
        when = "past" if message.deadline < now else "too near"
        raise IntentExpiredError(
            f"the deadline {message.deadline} is {when} "
            f"(chain time {now}; at least {ctx.deadline_margin}s are needed to relay it): sign "
            "the intent again with a later deadline"
        )


def _cancelled_text(message: eip712.TradeIntent) -> str:
    return (
        f"nonce {message.nonce} of leader {message.leader} is cancelled in the registry: sign "
        "with an unused nonce"
    )


@dataclass(frozen=True)
class _IndexFacts:
    """What the index says about an intent's nonce and route, read in one statement."""

    cancelled_bitmap: int | None
    other_intent: str | None  # another accepted intent of the leader with this nonce
    traded: str | None  # an intent the vaults traded with this nonce
    venue_allowed: bool
    token_in_priced: bool
    token_out_priced: bool
    registered: bool  # the leader registered in the LeaderRegistry
    funded_follower: bool  # an unpaused, copying follower holds tokenIn
    pending: int  # the leader's intents not yet final, counted up to max_pending
    leader_denied: bool  # the leader is on the platform's deny list
    stored: bool  # an intent with this digest is stored already
    screening_case: int | None  # the leader's oldest open screening case: its intents are held


def _priced(token_param: str):
    return (
        select(OracleFeed.token)
        .where(
            OracleFeed.chain_id == bindparam("chain_id"),
            OracleFeed.oracle == bindparam("oracle"),
            OracleFeed.token == bindparam(token_param),
        )
        .limit(1)
        .scalar_subquery()
    )


def _open_screening_case(address_param: str):
    """The oldest open screening case of an address, in any role (its unique key's index)."""
    return (
        select(func.min(ScreeningCase.id))
        .where(
            ScreeningCase.chain_id == bindparam("chain_id"),
            ScreeningCase.address == bindparam(address_param),
            ScreeningCase.status == literal_column("'open'"),
        )
        .scalar_subquery()
    )


# One round trip instead of five: each fact is a scalar subquery of a single SELECT. Built once
# with bind parameters (building the statement cost more than running it).
_INDEX_FACTS = select(
    select(LeaderNonceWord.bitmap)
    .where(
        LeaderNonceWord.chain_id == bindparam("chain_id"),
        LeaderNonceWord.leader == bindparam("leader"),
        LeaderNonceWord.word_pos == bindparam("word_pos"),
    )
    .scalar_subquery(),
    select(Intent.digest)
    .where(
        Intent.chain_id == bindparam("chain_id"),
        Intent.leader == bindparam("leader"),
        Intent.nonce == bindparam("nonce"),
        Intent.digest != bindparam("digest"),
    )
    .limit(1)
    .scalar_subquery(),
    select(Trade.digest)
    .where(
        Trade.chain_id == bindparam("chain_id"),
        Trade.leader == bindparam("leader"),
        Trade.nonce == bindparam("nonce"),
    )
    .limit(1)
    .scalar_subquery(),
    select(PlatformVenue.venue)
    .where(
        PlatformVenue.chain_id == bindparam("chain_id"), PlatformVenue.venue == bindparam("venue")
    )
    .scalar_subquery(),
    _priced("token_in"),
    _priced("token_out"),
    # Admission: the leader's registration, a follower able to trade, its pending intents.
    select(Leader.address)
    .where(Leader.chain_id == bindparam("chain_id"), Leader.address == bindparam("leader"))
    .scalar_subquery(),
    # From the leader's vaults (by their leader index) to each one's balance row (its key): never a
    # scan of every vault holding the token. Stops at the first follower able to trade.
    select(Vault.address)
    .where(
        Vault.chain_id == bindparam("chain_id"),
        Vault.leader == bindparam("leader"),
        Vault.paused.is_(False),
        Vault.copying.is_(True),
        select(VaultBalance.vault)
        .where(
            VaultBalance.chain_id == Vault.chain_id,
            VaultBalance.vault == Vault.address,
            VaultBalance.token == bindparam("token_in"),
            VaultBalance.balance > 0,
        )
        .exists(),
    )
    .exists(),
    # Counted up to the limit only: a leader with a long queue costs no more than one at the limit.
    select(func.count())
    .select_from(
        select(literal(1))
        .where(
            Intent.chain_id == bindparam("chain_id"),
            Intent.leader == bindparam("leader"),
            # Constants in the SQL, not an expanding parameter: the statement stays cached.
            Intent.status.in_([literal_column(f"'{status}'") for status in PENDING_STATUSES]),
        )
        .limit(bindparam("max_pending"))
        .subquery()
    )
    .scalar_subquery(),
    # Compliance: the leader on the platform's deny list.
    select(DenyListEntry.address)
    .where(
        DenyListEntry.chain_id == bindparam("chain_id"),
        DenyListEntry.address == bindparam("leader"),
    )
    .scalar_subquery(),
    # Idempotency: this very intent stored before (then it is answered as stored).
    select(Intent.id)
    .where(Intent.chain_id == bindparam("chain_id"), Intent.digest == bindparam("digest"))
    .scalar_subquery(),
    # Compliance: a screening hit on the leader not yet decided holds its intents.
    _open_screening_case("leader"),
)

# A signing delegate's compliance facts, in one SELECT (asked only when a delegate signed).
_SIGNER_FACTS = select(
    select(DenyListEntry.address)
    .where(
        DenyListEntry.chain_id == bindparam("chain_id"),
        DenyListEntry.address == bindparam("signer"),
    )
    .scalar_subquery(),
    _open_screening_case("signer"),
)


def _index_facts(
    session: Session, ctx: IntakeContext, message: eip712.TradeIntent, digest: str
) -> _IndexFacts:
    params = {
        "chain_id": ctx.chain_id,
        "leader": message.leader.lower(),
        "word_pos": message.nonce >> 8,
        "nonce": message.nonce,
        "digest": digest,
        "venue": message.venue.lower(),
        "oracle": ctx.oracle.lower(),
        "token_in": message.token_in.lower(),
        "token_out": message.token_out.lower(),
        "max_pending": ctx.max_pending,
    }
    # Core, on the session's connection: an ORM execute of this statement cost twice as much.
    row = session.connection().execute(_INDEX_FACTS, params).one()
    (
        bitmap,
        other,
        traded,
        venue,
        token_in,
        token_out,
        registered,
        funded,
        pending,
        denied,
        stored,
        case,
    ) = row
    return _IndexFacts(
        cancelled_bitmap=bitmap,
        other_intent=other,
        traded=traded,
        venue_allowed=venue is not None,
        token_in_priced=token_in is not None,
        token_out_priced=token_out is not None,
        registered=registered is not None,
        funded_follower=bool(funded),
        pending=pending,
        leader_denied=denied is not None,
        stored=stored is not None,
        screening_case=case,
    )


@dataclass(frozen=True)
class _ScreeningHold:
    """Why intake holds an intent for compliance: an open screening case of its leader or of the
    delegate that signed it (docs/compliance.md)."""

    case: int
    role: str  # "leader" or "signer"
    address: str

    def reason(self) -> str:
        return (
            f"held by compliance: screening case {self.case} of the intent's {self.role} "
            f"{checksum(self.address)} is open; a compliance operator decides the case, then an "
            "operator releases or rejects the intent"
        )


def _screening_hold(
    session: Session, ctx: IntakeContext, leader: str, signer: str, facts: _IndexFacts
) -> _ScreeningHold | None:
    """The leader's open case (from the index facts); for a delegate's intent, also the
    delegate's deny-list entry (refused, `address_denied`) and open case, in one SELECT."""
    signer_case = None
    if signer != leader:
        params = {"chain_id": ctx.chain_id, "signer": signer}
        denied, signer_case = session.execute(_SIGNER_FACTS, params).one()
        _require_not_denied(signer, "signer", denied is not None)
    if facts.screening_case is not None:
        return _ScreeningHold(facts.screening_case, "leader", leader)
    return None if signer_case is None else _ScreeningHold(signer_case, "signer", signer)


def _require_not_denied(address: str, role: str, denied: bool) -> None:
    if denied:
        raise AddressDeniedError(
            f"the intent's {role} {checksum(address)} is on the platform's deny list: its "
            "intents are not accepted (a compliance operator decides; nothing was stored)"
        )


def _require_verified(session: Session, ctx: IntakeContext, leader: str) -> None:
    now = datetime.now(UTC)
    if not kyc.verified_leader(session, chain_id=ctx.chain_id, address=leader, now=now):
        raise LeaderNotVerifiedError(
            f"leader {leader} has no current KYC verification, which this platform requires: "
            "the leader completes verification with the platform's compliance team (nothing was "
            "stored)"
        )


def _require_admitted(message: eip712.TradeIntent, facts: _IndexFacts) -> None:
    """Rule 3: the leader is not denied, is registered, and a follower can trade the intent."""
    _require_not_denied(message.leader, "leader", facts.leader_denied)
    if not facts.registered:
        raise LeaderNotRegisteredError(
            f"leader {message.leader} is not registered in the LeaderRegistry (as indexed): the "
            "leader calls register(profileURI) first, then submits intents"
        )
    if not facts.funded_follower:
        raise NoFundedFollowerError(
            f"no vault following leader {message.leader} can trade this intent: none is unpaused, "
            f"copying and holds token_in {message.token_in} (indexed balance > 0); submit "
            "intents that sell a token your followers hold"
        )


def _require_pending_room(
    ctx: IntakeContext, message: eip712.TradeIntent, facts: _IndexFacts
) -> None:
    if facts.pending >= ctx.max_pending:
        raise LeaderPendingLimitError(
            f"leader {message.leader} has {ctx.max_pending} intents not yet final (the most "
            "intake holds for one leader): retry after the Retry-After seconds, when some are "
            "relayed",
            retry_after_seconds=ctx.pending_retry_after,
        )


def _require_nonce_open(message: eip712.TradeIntent, facts: _IndexFacts) -> None:
    bitmap = facts.cancelled_bitmap
    if bitmap is not None and bitmap >> (message.nonce & 0xFF) & 1:
        raise NonceCancelledError(_cancelled_text(message))
    other, traded = facts.other_intent, facts.traded
    if other is not None or traded is not None:
        where = f"intent {other} was accepted" if other else f"vaults traded intent {traded}"
        raise NonceUsedError(
            f"nonce {message.nonce} of leader {message.leader} is used ({where} with it): each "
            "intent needs its own nonce"
        )


def _require_allowed_route(
    ctx: IntakeContext, message: eip712.TradeIntent, facts: _IndexFacts
) -> None:
    if not facts.venue_allowed:
        raise UnknownVenueError(
            f"venue {message.venue} is not allowed by the platform (VaultFactory venue allowlist)"
        )
    missing = sorted(
        token.lower()
        for token, priced in (
            (message.token_in, facts.token_in_priced),
            (message.token_out, facts.token_out_priced),
        )
        if not priced
    )
    if missing:
        raise TokenNotAllowedError(
            f"token {checksum(missing[0])} has no feed in the platform's oracle {ctx.oracle}: "
            "vaults cannot bound a trade in it"
        )


def _require_relayable(ctx: IntakeContext, message: eip712.TradeIntent, facts: _IndexFacts) -> None:
    """Rules 6 to 8: time left to relay it, an open nonce, an allowed venue and priced tokens."""
    _require_time_left(ctx, message)
    _require_nonce_open(message, facts)
    _require_allowed_route(ctx, message, facts)


# ----------------------------------------------------------------------------- intake


def prepare_intent(session: Session, *, ctx: IntakeContext, body: IntentPrepareIn) -> TypedDataOut:
    """The TradeIntent document the leader signs and its digest on the registry's domain, refused
    now for every reason intake would refuse it that does not depend on the signature (rules 1, 3,
    6 to 8). Nothing is stored, and no rate or pending limit is charged: nothing was submitted."""
    _check_terms(body)
    message = _message(body)
    digest = "0x" + eip712.digest(ctx.domain, message).hex()
    facts = _index_facts(session, ctx, message, digest)
    _require_admitted(message, facts)
    _require_relayable(ctx, message, facts)
    return TypedDataOut.of(ctx.domain, message)


def _utcnow() -> datetime:
    return datetime.now(UTC)


_FIND = select(Intent).where(
    Intent.chain_id == bindparam("chain_id"), Intent.digest == bindparam("digest")
)
# The columns intake writes (the id and the relayer's columns take their defaults).
_INSERTED = [c for c in Intent.__table__.columns if c.key != "id"]
_UNIQUE = ("chain_id", "digest")  # the intents table's unique constraint


def _find(session: Session, chain_id: int, digest: str) -> Intent | None:
    return session.scalar(_FIND, {"chain_id": chain_id, "digest": digest})


def submit_intent(
    engine: Engine, session: Session, *, ctx: IntakeContext, body: IntentSubmission
) -> tuple[IntentStatusOut, bool]:
    """(the intent, True if this call stored it); an ApiError naming the first rule it breaks."""
    _check_terms(body)
    message = _message(body)
    signed = eip712.digest(ctx.domain, message)  # hashed once: the signer is recovered from it
    digest = "0x" + signed.hex()
    # Every fact intake needs from the store, this intent's own row included, in one SELECT.
    facts = _index_facts(session, ctx, message, digest)
    existing = _find(session, ctx.chain_id, digest) if facts.stored else None
    if existing is not None:
        if not _same_approval(existing, signed, body.signature):
            # Approved by another signature: the same intent, if that signature is valid.
            _authorized_signer(session, ctx, message, signed, body.signature)
        return intent_status(session, existing), False
    # Admission first: an intent no vault could trade, or a denied leader's, is refused for one
    # SELECT, before ECDSA.
    _require_admitted(message, facts)
    if ctx.require_verified_leader:  # one indexed query, only when the setting asks for it
        _require_verified(session, ctx, message.leader)
    signer = _authorized_signer(session, ctx, message, signed, body.signature)
    # A delegate on the deny list is refused; an open screening case holds the intent.
    screening = _screening_hold(session, ctx, message.leader.lower(), signer, facts)
    # The per-leader rate limit (429 rate_limited) only once the signer is known: before it, anyone
    # could spend a real leader's budget with forged intents naming that leader.
    ctx.charge_leader(message.leader)
    _require_pending_room(ctx, message, facts)
    _require_relayable(ctx, message, facts)
    # Every rule passed: the risk engine scores it from memory (no store query) and may hold it.
    received = _utcnow()
    verdict = _judge(ctx, message, digest, received)
    # Give the read connection back before taking a write one: a request never holds two, so a
    # full pool cannot deadlock (every request waiting for a second connection).
    session.rollback()
    intent = _store(
        engine, ctx, message, digest, signer, body.signature, received, verdict, screening
    )
    if intent is None:  # a concurrent request stored the same digest first
        return _stored_by_another(engine, ctx.chain_id, digest), False
    if intent.status == "accepted":
        ctx.on_accepted()
    # Just stored: no batch and no outcome can predate this answer, so none are read.
    return _status_out(intent, outcomes=[], batches=[]), True


def _stored_by_another(engine: Engine, chain_id: int, digest: str) -> IntentStatusOut:
    """The intent a concurrent request stored. Read in a new session: the request's own may hold
    a snapshot from before that commit (SQLite's WAL readers do)."""
    with Session(engine) as fresh:
        existing = _find(fresh, chain_id, digest)
        if existing is None:  # the unique digest refused our row, so someone else's is there
            raise RuntimeError(f"intent {digest} collided on insert but cannot be read back")
        return intent_status(fresh, existing)


def _same_approval(existing: Intent, digest: bytes, signature: str) -> bool:
    """Whether `signature` is the stored one, or an ECDSA signature by the stored signer."""
    return signature.lower() == existing.signature or (
        _recover_ecdsa(digest, signature) == existing.signer
    )


def _judge(
    ctx: IntakeContext, message: eip712.TradeIntent, digest: str, received: datetime
) -> Assessment | None:
    if ctx.risk is None:
        return None
    view = IntentView(
        leader=message.leader.lower(),
        venue=message.venue.lower(),
        token_in=message.token_in.lower(),
        token_out=message.token_out.lower(),
        fraction_bps=message.fraction_bps,
        min_price=message.min_price,
        at=received.timestamp(),
    )
    return ctx.risk.judge(view, digest)


def _risk_columns(verdict: Assessment | None) -> dict:
    """The intent's status and the risk engine's record of why (docs/risk.md)."""
    if verdict is None:
        return {"status": "accepted", "plan_due": True}
    columns = {"risk_score": verdict.score, "risk_features": verdict.features_json()}
    if verdict.action == "admit":
        return columns | {"status": "accepted", "plan_due": True}
    drivers = ", ".join(f.name for f in sorted(verdict.features, key=lambda f: -f.points))
    return columns | {
        "status": "held",
        "plan_due": False,
        "error": f"held by the risk engine ({verdict.action}, score {verdict.score}: {drivers}); "
        "a risk operator releases or rejects it",
    }


def _store(
    engine: Engine,
    ctx: IntakeContext,
    message: eip712.TradeIntent,
    digest: str,
    signer: str,
    signature: str,
    now: datetime,
    verdict: Assessment | None,
    screening: _ScreeningHold | None,
) -> Intent | None:
    intent = Intent(
        chain_id=ctx.chain_id,
        digest=digest,
        leader=message.leader.lower(),
        signer=signer,
        venue=message.venue.lower(),
        token_in=message.token_in.lower(),
        token_out=message.token_out.lower(),
        fraction_bps=message.fraction_bps,
        min_price=message.min_price,
        nonce=message.nonce,
        deadline=message.deadline,
        signature=signature.lower(),
        received_at=now,
        updated_at=now,
        **_risk_columns(verdict),
    )
    if screening is not None:  # compliance's hold goes first: its reason is the one shown
        intent.status, intent.plan_due, intent.error = "held", False, screening.reason()
    values = {c.key: getattr(intent, c.key) for c in _INSERTED}
    if screening is not None:
        return intent if _store_screened(engine, values, screening, now) else None
    # Group commit: the intents of concurrent requests of this process go in one transaction
    # (INSERT .. ON CONFLICT DO NOTHING); this returns once our row is committed. False: the
    # same digest was stored first (by a concurrent request, here or in another process).
    if not group_committer(engine, Intent.__table__, _UNIQUE).insert(values):
        return None
    return intent


def _store_screened(engine: Engine, values: dict, screening: _ScreeningHold, now: datetime) -> bool:
    """Store an intent held for compliance and its audit entry in one transaction (not grouped:
    held intents are rare, and the hold must never be stored without its record). False: the
    same digest was stored first; AddressDeniedError: the case was confirmed meanwhile."""
    with Session(engine) as s:
        compliance_record.system_event(
            s,
            "screening.intent_held",
            values["digest"],
            after={
                "case": screening.case,
                "chain_id": values["chain_id"],
                "role": screening.role,
                "address": checksum(screening.address),
                "status": "held",
            },
            at=now,
            actor="system:intake",
        )
        # Read under the audit trail's lock, which a decision holds until it commits: a case
        # confirmed since the index facts were read refuses the intent as the deny list now does.
        if s.get(ScreeningCase, screening.case).status == "confirmed":
            s.rollback()
            _require_not_denied(screening.address, screening.role, denied=True)
        try:
            s.execute(insert(Intent.__table__).values(values))
            s.commit()
        except IntegrityError:  # the digest's unique key: a concurrent request stored it
            s.rollback()
            return False
    return True


# ----------------------------------------------------------------------------- status


def get_intent(session: Session, *, chain_id: int, digest: str) -> IntentStatusOut:
    intent = _find(session, chain_id, digest)
    if intent is None:
        raise IntentNotFoundError(
            f"no intent with digest {digest} was submitted here: POST it to /v1/intents"
        )
    return intent_status(session, intent)


def price(amount_in: int | None, amount_out: int | None) -> str | None:
    """tokenOut per tokenIn, 1e18-scaled in raw units (as the intent's minPrice)."""
    if not amount_in or amount_out is None:
        return None
    return str(amount_out * PRICE_SCALE // amount_in)


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _outcome(row: RelayOutcome) -> VaultOutcomeOut:
    return VaultOutcomeOut(
        vault=checksum(row.vault),
        status=row.status,  # type: ignore[arg-type]
        reason=row.reason,
        reason_selector=row.reason_selector,
        tx_hash=row.tx_hash,
        block_number=row.block_number,
        amount_in=None if row.amount_in is None else str(row.amount_in),
        amount_out=None if row.amount_out is None else str(row.amount_out),
        price=price(row.amount_in, row.amount_out) if row.status == "mirrored" else None,
    )


def _batch(row: RelayBatch) -> IntentBatchOut:
    return IntentBatchOut(
        status=row.status,  # type: ignore[arg-type]
        vaults=len(row.vaults),
        attempt=row.attempt,
        tx_hash=row.tx_hash,
        block_number=row.block_number,
        gas_used=row.gas_used,
        mirrored=row.mirrored,
        skipped=row.skipped,
        total_in=None if row.total_in is None else str(row.total_in),
        total_out=None if row.total_out is None else str(row.total_out),
        price=price(row.total_in, row.total_out),
        error=row.error,
    )


def intent_status(session: Session, intent: Intent) -> IntentStatusOut:
    outcomes = session.scalars(
        select(RelayOutcome).where(RelayOutcome.intent_id == intent.id).order_by(RelayOutcome.vault)
    ).all()
    batches = session.scalars(
        select(RelayBatch).where(RelayBatch.intent_id == intent.id).order_by(RelayBatch.id)
    ).all()
    return _status_out(intent, outcomes=outcomes, batches=batches)


def _status_out(intent: Intent, *, outcomes, batches) -> IntentStatusOut:
    counts: dict[str, int] = {"pending": 0, "mirrored": 0, "skipped": 0}
    for row in outcomes:
        counts[row.status] += 1
    return IntentStatusOut(
        digest=intent.digest,
        status=intent.status,  # type: ignore[arg-type]
        error=intent.error,
        leader=checksum(intent.leader),
        signer=checksum(intent.signer),
        venue=checksum(intent.venue),
        token_in=checksum(intent.token_in),
        token_out=checksum(intent.token_out),
        fraction_bps=intent.fraction_bps,
        min_price=str(intent.min_price),
        nonce=str(intent.nonce),
        deadline=intent.deadline,
        received_at=_utc(intent.received_at),
        vaults_pending=counts["pending"],
        vaults_mirrored=counts["mirrored"],
        vaults_skipped=counts["skipped"],
        vaults=[_outcome(row) for row in outcomes],
        batches=[_batch(row) for row in batches],
    )


def intent_message(intent: Intent) -> eip712.TradeIntent:
    """The signed message of a stored intent (for the relayer)."""
    return eip712.TradeIntent(
        leader=to_checksum_address(intent.leader),
        venue=to_checksum_address(intent.venue),
        token_in=to_checksum_address(intent.token_in),
        token_out=to_checksum_address(intent.token_out),
        fraction_bps=intent.fraction_bps,
        min_price=intent.min_price,
        nonce=intent.nonce,
        deadline=intent.deadline,
    )
