"""Request and response models of the /v1 API (pydantic), and the input types they validate with.

Conventions (the same everywhere):
- addresses are accepted in lowercase, uppercase or EIP-55 checksummed form (a mixed-case address
  with a wrong checksum is refused: it is probably a typo) and always returned checksummed;
- uint256 amounts travel as decimal strings (JavaScript numbers lose precision past 2^53);
  block numbers, nonces, deadlines and timestamps are JSON integers;
- lists are paged with opaque cursors: pass `next_cursor` back as `cursor`; `null` means the end.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache
from typing import Annotated, Any, Final, Literal

from eth_utils import is_checksum_address, to_checksum_address
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema
from pydantic_core import PydanticCustomError

from backend.chain import eip712

ADDRESS_PATTERN: Final = "^0x[0-9a-fA-F]{40}$"
HASH_PATTERN: Final = "^0x[0-9a-fA-F]{64}$"
UINT256_PATTERN: Final = "^[0-9]{1,78}$"
MAX_UINT256: Final = 2**256 - 1
# The vault's operation nonce is a uint48 on chain.
MAX_VAULT_NONCE: Final = 2**48 - 1
# Deadlines are unix seconds; anything past year 292 billion is a mistake, not a deadline.
MAX_DEADLINE: Final = 2**63 - 1
# 65 bytes for ECDSA; EIP-1271 owners (a Safe: 65 bytes per Safe owner, plus contract signatures)
# may need more.
MAX_SIGNATURE_BYTES: Final = 4_096
# Configuration calls are small (setPolicy is the largest: 4 + 5 * 32 bytes).
MAX_CONFIG_DATA_BYTES: Final = 1_024

_ADDRESS_RE: Final = re.compile(r"0x[0-9a-fA-F]{40}", re.ASCII)
_HASH_RE: Final = re.compile(r"0x[0-9a-fA-F]{64}", re.ASCII)
_UINT_RE: Final = re.compile(r"[0-9]{1,78}", re.ASCII)
_HEX_RE: Final = re.compile(r"0x(?:[0-9a-fA-F]{2})*", re.ASCII)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# The same few addresses (venues, tokens, leaders) arrive again and again; the checksum is a keccak.
_has_valid_checksum = lru_cache(maxsize=8192)(is_checksum_address)


def parse_address(value: Any) -> str:
    """A 0x-hex address, lowercased; a mixed-case one must carry a valid EIP-55 checksum."""
    if not isinstance(value, str) or not _ADDRESS_RE.fullmatch(value):
        raise PydanticCustomError(
            "invalid_address",
            "expected a 0x-prefixed 20-byte hex address (42 characters), got {value}",
            {"value": _shown(value)},
        )
    digits = value[2:]
    if digits != digits.lower() and digits != digits.upper() and not _has_valid_checksum(value):
        raise PydanticCustomError(
            "invalid_checksum",
            "{value} has a wrong EIP-55 checksum (a typo?): check it, or send it in lowercase",
            {"value": value},
        )
    return value.lower()


def parse_hash(value: Any) -> str:
    if not isinstance(value, str) or not _HASH_RE.fullmatch(value):
        raise PydanticCustomError(
            "invalid_hash",
            "expected a 0x-prefixed 32-byte hex hash (66 characters), got {value}",
            {"value": _shown(value)},
        )
    return value.lower()


def parse_uint256(value: Any) -> int:
    """A uint256 as a decimal string (or a JSON integer)."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and _UINT_RE.fullmatch(value):
        number = int(value)
    else:
        raise PydanticCustomError(
            "invalid_uint256",
            "expected a non-negative integer as a decimal string, got {value}",
            {"value": _shown(value)},
        )
    if not 0 <= number <= MAX_UINT256:
        raise PydanticCustomError("invalid_uint256", "out of range for a uint256", {})
    return number


def _hex_parser(max_bytes: int, what: str):
    def parse(value: Any) -> str:
        if not isinstance(value, str) or len(value) > 2 + 2 * max_bytes:
            raise PydanticCustomError(
                "invalid_hex",
                f"expected {what} as 0x-prefixed hex of at most {max_bytes} bytes",
                {},
            )
        if not _HEX_RE.fullmatch(value):
            raise PydanticCustomError(
                "invalid_hex",
                f"expected {what} as 0x-prefixed hex with an even number of digits",
                {},
            )
        return value.lower()

    return parse


AddressIn = Annotated[
    str,
    BeforeValidator(parse_address),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": ADDRESS_PATTERN,
            "examples": ["0x5FbDB2315678afecb367f032d93F642f64180aa3"],
        }
    ),
]
HashIn = Annotated[
    str,
    BeforeValidator(parse_hash),
    WithJsonSchema({"type": "string", "pattern": HASH_PATTERN}),
]
Uint256In = Annotated[
    int,
    BeforeValidator(parse_uint256),
    WithJsonSchema({"type": "string", "pattern": UINT256_PATTERN, "examples": ["1000000"]}),
]
SignatureIn = Annotated[
    str,
    BeforeValidator(_hex_parser(MAX_SIGNATURE_BYTES, "a signature")),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": "^0x([0-9a-fA-F]{2})+$",
            "maxLength": 2 + 2 * MAX_SIGNATURE_BYTES,
            "description": "65-byte r||s||v (EOA owners, low s) or EIP-1271 signature data.",
        }
    ),
]
CallDataIn = Annotated[
    str,
    BeforeValidator(_hex_parser(MAX_CONFIG_DATA_BYTES, "call data")),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": "^0x([0-9a-fA-F]{2})*$",
            "maxLength": 2 + 2 * MAX_CONFIG_DATA_BYTES,
        }
    ),
]

# Outputs.
Address = Annotated[str, Field(pattern=ADDRESS_PATTERN, description="EIP-55 checksummed")]
Hash = Annotated[str, Field(pattern=HASH_PATTERN)]
Uint = Annotated[str, Field(pattern=UINT256_PATTERN, description="uint256, decimal string")]
# Accounted balances (deposits + bought - withdrawn - sold) can be negative after plain transfers.
Int = Annotated[str, Field(pattern="^-?[0-9]{1,78}$", description="integer, decimal string")]


@lru_cache(maxsize=4_096)
def checksum(address: str) -> str:
    """EIP-55 form (cached: responses name the same leaders, vaults and tokens over and over)."""
    return to_checksum_address(address)


def checksum_or_none(address: str | None) -> str | None:
    return None if address is None else to_checksum_address(address)


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ============================================================================= shared pieces


class Valuation(Model):
    """A value in US dollars from the deployment's PriceOracle feeds (Chainlink-style USD feeds)."""

    usd: str | None = Field(
        description="Decimal string, 8 decimal places, rounded down; null when it cannot be "
        "computed (see `error`)."
    )
    unpriced_tokens: list[Address] = Field(
        description="Tokens held that have no feed (or a non-positive answer): not counted."
    )
    error: str | None = Field(None, description="Why `usd` is null (e.g. the node is down).")


class Policy(Model):
    max_fraction_bps: int
    max_slippage_bps: int
    max_oracle_age: int
    max_trades_per_day: int
    loss_budget_bps: int


class Flags(Model):
    paused: bool
    copying: bool
    guardian_accepted: bool


class Allowlist(Model):
    assets: list[Address]
    venues: list[Address]


class Balance(Model):
    """A token balance as accounted by the vault's events (see docs/api.md)."""

    token: Address
    symbol: str | None
    decimals: int | None
    balance: Int
    deposited: Uint
    withdrawn: Uint
    bought: Uint
    sold: Uint


# ============================================================================= vaults


class VaultSummary(Model):
    address: Address
    leader: Address | None
    owners: list[Address]
    threshold: int
    nonce: int = Field(description="The next operation nonce (withdrawals and config changes).")
    flags: Flags
    created_block: int
    created_at: int | None


class VaultDetail(VaultSummary):
    creator: Address | None
    created_tx: Hash
    oracle: Address | None
    policy: Policy
    allowlist: Allowlist
    balances: list[Balance]
    value: Valuation
    trade_count: int
    updated_block: int


class VaultPage(Model):
    items: list[VaultSummary]
    next_cursor: str | None


class EventOut(Model):
    id: int = Field(description="Stream position (SSE id).")
    block_number: int
    block_hash: Hash
    block_timestamp: int | None
    tx_hash: Hash
    tx_index: int
    log_index: int
    address: Address
    contract: str
    name: str | None
    vault: Address | None
    leader: Address | None
    args: dict[str, Any]


class EventPage(Model):
    items: list[EventOut]
    next_cursor: str | None


# ============================================================================= leaders


class TradeOut(Model):
    vault: Address
    leader: Address
    nonce: Uint
    digest: Hash
    venue: Address
    token_in: Address
    token_out: Address
    amount_in: Uint
    amount_out: Uint
    oracle_out: Uint
    block_number: int
    block_timestamp: int | None
    tx_hash: Hash
    log_index: int
    price: Uint | None = Field(
        None, description="amount_out per amount_in, 1e18-scaled in raw units (the batch's price)."
    )
    oracle_price: Uint | None = Field(
        None, description="oracle_out per amount_in, 1e18-scaled: the oracle's price then."
    )
    leader_min_price: Uint | None = Field(
        None,
        description="The least price the leader signed (the intent's min_price), when the intent "
        "came through this server's intake; 1e18-scaled as the others.",
    )


class TradePage(Model):
    items: list[TradeOut]
    next_cursor: str | None


class IntentOut(Model):
    """A leader intent as executed on chain: its trades grouped by EIP-712 digest."""

    digest: Hash
    nonce: Uint
    venue: Address
    token_in: Address
    token_out: Address
    vaults_mirrored: int
    vaults_skipped: int
    amount_in: Uint
    amount_out: Uint
    first_block: int
    last_block: int


class Delegate(Model):
    delegate: Address
    expiry: int


class LeaderSummary(Model):
    address: Address
    registered: bool
    profile_uri: str | None
    followers: int = Field(description="Distinct owners of the vaults following this leader.")
    vault_count: int
    trade_count: int
    aum: Valuation = Field(description="Assets under management of the following vaults.")


class LeaderDetail(LeaderSummary):
    registered_block: int | None
    delegates: list[Delegate]
    intents: list[IntentOut] = Field(description="The most recent intents (up to 50).")
    trades: list[TradeOut] = Field(description="The most recent trades (up to 50); see /trades.")


class LeaderPage(Model):
    items: list[LeaderSummary]
    next_cursor: str | None


# ============================================================================= proposals

ProposalStatus = Literal["pending", "ready", "executed", "stale"]


class WithdrawalPrepareIn(Model):
    """A withdrawal's terms, before anyone signed: what POST .../withdrawals/prepare turns into the
    EIP-712 document owners sign."""

    token: AddressIn
    amount: Uint256In
    to: AddressIn = Field(description="Recipient.")
    deadline: int = Field(ge=0, le=MAX_DEADLINE, description="Unix seconds.")
    nonce: int | None = Field(
        None, ge=0, le=MAX_VAULT_NONCE, description="Default: the vault's current nonce."
    )


class WithdrawalProposalIn(WithdrawalPrepareIn):
    """A withdrawal proposed by an owner, with the proposer's own signature over its digest."""

    proposer: AddressIn
    signature: SignatureIn


class ConfigPrepareIn(Model):
    """A configuration call's terms, before anyone signed (POST .../config/prepare)."""

    data: CallDataIn
    deadline: int = Field(ge=0, le=MAX_DEADLINE, description="Unix seconds.")
    nonce: int | None = Field(
        None, ge=0, le=MAX_VAULT_NONCE, description="Default: the vault's current nonce."
    )


class ConfigProposalIn(ConfigPrepareIn):
    """A configuration call on the vault (setLeader, setPolicy, addOwner, ...), proposed by an
    owner with their signature over the ConfigChange digest."""

    proposer: AddressIn
    signature: SignatureIn


class SignatureSubmission(Model):
    """An owner's approval of a proposal."""

    signer: AddressIn
    signature: SignatureIn


class Confirmation(Model):
    signer: Address
    signature: str
    method: Literal["ecdsa", "eip1271"]
    is_owner: bool = Field(description="Still an owner (only owners' signatures count).")
    created_at: datetime


class Execution(Model):
    tx_hash: Hash
    block_number: int
    block_timestamp: int | None


class ReadyCall(Model):
    """The transaction that executes the proposal: anyone may send it."""

    to: Address
    data: str = Field(description="Call data, 0x-hex (ABI-encoded with the compiled ABI).")
    function: str
    signers: list[Address]
    signatures: list[str]


class ProposalOut(Model):
    digest: Hash
    vault: Address
    kind: Literal["withdrawal", "config"]
    nonce: int
    deadline: int
    token: Address | None
    amount: Uint | None
    to: Address | None
    data: str | None
    function: str | None
    proposer: Address
    created_at: datetime
    status: ProposalStatus
    status_reason: str | None
    threshold: int
    signatures_needed: int = Field(description="Owner signatures still missing (0 when met).")
    confirmations: list[Confirmation]
    executed: Execution | None
    ready_call: ReadyCall | None = Field(description="Present while the status is `ready`.")
    typed_data: dict[str, Any] = Field(description="The EIP-712 document owners sign (v4).")


class ProposalPage(Model):
    items: list[ProposalOut]
    next_cursor: str | None


# ============================================================================= intents (relayer)

IntentStatus = Literal["accepted", "held", "planning", "relaying", "done", "rejected"]
OutcomeStatus = Literal["pending", "mirrored", "skipped"]
BatchStatus = Literal[
    "planned", "signed", "included", "mined", "reverted", "dropped", "reorged", "expired"
]


class IntentPrepareIn(Model):
    """A leader's TradeIntent (docs/protocol.md §1.2) before it is signed (POST
    /v1/intents/prepare). The nonce is required: the registry's nonces are unordered (a bitmap of
    cancelled ones, each vault remembering those it traded), so there is no "next" one to default
    to; any unused uint256 will do (a random 64-bit number is the usual choice)."""

    leader: AddressIn
    venue: AddressIn
    token_in: AddressIn
    token_out: AddressIn
    fraction_bps: int = Field(
        ge=0, le=65_535, description="Share of each vault's token_in to sell (1..10000 bps)."
    )
    min_price: Uint256In = Field(description="Least token_out per token_in, 1e18-scaled, raw.")
    nonce: Uint256In
    # The registry takes any uint256 deadline (compared with block.timestamp).
    deadline: int = Field(ge=0, le=MAX_UINT256, description="Unix seconds (any uint256).")


class IntentSubmission(IntentPrepareIn):
    """A leader's TradeIntent (docs/protocol.md §1.2) and its EIP-712 signature on the registry's
    domain (CopyVault / 1 / this chain / the LeaderRegistry), as `eth_signTypedData_v4`
    produces it."""

    signature: SignatureIn


class VaultOutcomeOut(Model):
    vault: Address
    status: OutcomeStatus
    reason: str | None = Field(
        description='Skipped: the vault\'s error ("VaultPaused()") or why the relayer left it out.'
    )
    reason_selector: str | None
    tx_hash: Hash | None
    block_number: int | None
    amount_in: Uint | None
    amount_out: Uint | None
    price: Uint | None = Field(description="amount_out per amount_in, 1e18-scaled (as min_price).")


class IntentBatchOut(Model):
    """One mirrorAggregated transaction for some of the intent's vaults (one swap, one price)."""

    status: BatchStatus
    vaults: int
    attempt: int = Field(description="2 and more: these vaults' re-plan after a revert or a drop.")
    tx_hash: Hash | None
    block_number: int | None
    gas_used: int | None
    mirrored: int | None
    skipped: int | None
    total_in: Uint | None
    total_out: Uint | None
    price: Uint | None
    error: str | None


class IntentStatusOut(Model):
    digest: Hash
    status: IntentStatus
    error: str | None = Field(description="Why the intent was rejected at relay time, if it was.")
    leader: Address
    signer: Address
    venue: Address
    token_in: Address
    token_out: Address
    fraction_bps: int
    min_price: Uint
    nonce: Uint
    deadline: int
    received_at: datetime
    vaults_pending: int
    vaults_mirrored: int
    vaults_skipped: int
    vaults: list[VaultOutcomeOut] = Field(description="Every vault following the leader.")
    batches: list[IntentBatchOut]


# ============================================================================= EIP-712 documents


class TypedDataOut(Model):
    """An EIP-712 document before anyone signed it, and the digest the contract will compute."""

    digest: Hash = Field(description="keccak256(0x1901 || domainSeparator || hashStruct(message))")
    primary_type: Literal["TradeIntent", "Withdrawal", "ConfigChange"]
    chain_id: int
    verifying_contract: Address = Field(description="The vault, or the LeaderRegistry (intents).")
    nonce: Uint = Field(description="The nonce signed (the vault's next one when omitted).")
    deadline: int
    function: str | None = Field(
        None, description="ConfigChange only: the configuration function the data calls."
    )
    typed_data: dict[str, Any] = Field(
        description="Exactly what eth_signTypedData_v4 takes: types (with EIP712Domain), "
        "primaryType, domain, message; uint256 members as decimal strings."
    )

    @classmethod
    def of(
        cls, domain: eip712.Domain, message: eip712.Message, *, function: str | None = None
    ) -> TypedDataOut:
        return cls(
            digest="0x" + eip712.digest(domain, message).hex(),
            primary_type=message.PRIMARY_TYPE,  # type: ignore[arg-type]
            chain_id=domain.chain_id,
            verifying_contract=domain.verifying_contract,
            nonce=str(message.nonce),
            deadline=message.deadline,
            function=function,
            typed_data=eip712.typed_data(domain, message),
        )


class Eip712TypesOut(Model):
    """copyvault's EIP-712 types (backend/chain/eip712_types.json, which the web app imports)."""

    domain: dict[str, str] = Field(description="The fixed members of every domain: name, version.")
    types: dict[str, list[dict[str, str]]]
    type_strings: dict[str, str]
    typehashes: dict[str, Hash]


# ============================================================================= vault history


class HistoryPoint(Model):
    timestamp: int = Field(description="Unix seconds.")
    usd: str = Field(
        description="The vault's value then: its accounted balances at the latest feed answers "
        "the indexer had read by then; decimal string, 8 places, rounded down."
    )
    unpriced_tokens: list[Address] = Field(
        description="Tokens held then with no feed answer (or a non-positive one): not counted."
    )


class VaultHistoryOut(Model):
    vault: Address
    start: int = Field(description="Unix seconds of the first point.")
    end: int = Field(description="Unix seconds of the last point.")
    points: list[HistoryPoint] = Field(description="Evenly spaced from `start` to `end`.")


# ============================================================================= auditor views

CodeMatch = Literal["exact", "immutables_only", "differs", "no_artifact", "no_code"]


class ContractCodeOut(Model):
    name: str = Field(description="The contract's name in the deployment file.")
    address: Address
    code_size: int = Field(description="Bytes of code at the address (0: none).")
    code_hash: Hash | None = Field(description="keccak256 of the code on chain; null without code.")
    artifact: str | None = Field(
        description="The build it is compared with: a contract of this repository's `ape "
        "compile` output, or `npm:<name>` for published reference bytecode."
    )
    artifact_code_hash: Hash | None = Field(description="keccak256 of the build's runtime code.")
    match: CodeMatch = Field(
        description="`exact`: the same bytes; `immutables_only`: the same bytes except inside "
        "the build's zero placeholders of immutables (32 bytes after a PUSH32, which the "
        "constructor fills); `differs`; `no_artifact`: nothing to compare with; `no_code`."
    )


class ContractsOut(Model):
    chain_id: int
    block_number: int = Field(description="The block the code was read at.")
    contracts: list[ContractCodeOut]


class GasSnapshotOut(Model):
    about: str | None = None
    anvil: str | None = Field(None, description="The anvil version the figures were measured on.")
    hardfork: str | None = None
    figures: dict[str, dict[str, int]] = Field(
        description="Figure name -> its numbers (`gas`, `gas_limit`, `count`)."
    )


class SlitherFinding(Model):
    detector: str
    impact: str
    confidence: str
    location: str | None
    description: str


class SlitherReportOut(Model):
    generated_at: datetime = Field(description="When `make slither` wrote the report.")
    counts: dict[str, int] = Field(description="Findings by impact (High, Medium, Low, ...).")
    findings: list[SlitherFinding]
    markdown: str = Field(description="reports/slither.md: the gate's verdict and every triage.")


class DocumentOut(Model):
    name: str
    markdown: str


def intent_submission_body(message: eip712.TradeIntent, signature: bytes) -> dict[str, Any]:
    """The JSON body of POST /v1/intents for a signed intent (what clients send)."""
    return {
        "leader": message.leader,
        "venue": message.venue,
        "token_in": message.token_in,
        "token_out": message.token_out,
        "fraction_bps": message.fraction_bps,
        "min_price": str(message.min_price),
        "nonce": str(message.nonce),
        "deadline": message.deadline,
        "signature": "0x" + bytes(signature).hex(),
    }
