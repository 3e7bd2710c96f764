"""Owner signature checks, by the same rules as the vault's `_isValidSignature`.

ECDSA first: a 65-byte r||s||v signature (low s, v in {27, 28}, as OpenZeppelin's ECDSA accepts)
that recovers the signer is valid whatever code the signer has. Otherwise, when the signer has
code (eth_getCode), it is an EIP-1271 owner (a Safe, a smart wallet): `isValidSignature(digest,
signature)` is called with eth_call and must return the magic value 0x1626ba7e in a full 32-byte
word, as OpenZeppelin's SignatureChecker requires. A revert counts as "not valid" (a Safe reverts
on a bad signature).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from eth_abi import encode
from eth_utils import function_signature_to_4byte_selector

from backend.api.errors import InvalidSignatureError, MalformedSignatureError
from backend.api.schemas import checksum
from backend.chain import eip712
from backend.chain.client import ChainClient
from backend.exceptions import RpcError

IS_VALID_SIGNATURE: Final = function_signature_to_4byte_selector("isValidSignature(bytes32,bytes)")
MAGIC_VALUE: Final = bytes.fromhex("1626ba7e")
_NO_CODE: Final = ("0x", "0x0", "", None)

Method = Literal["ecdsa", "eip1271"]


def has_code(client: ChainClient, address: str) -> bool:
    return client.request("eth_getCode", [checksum(address), "latest"]) not in _NO_CODE


def eip1271_approves(client: ChainClient, owner: str, digest: bytes, signature: bytes) -> bool:
    data = IS_VALID_SIGNATURE + encode(["bytes32", "bytes"], [digest, signature])
    try:
        result = client.call(checksum(owner), data)
    except RpcError:  # reverted: not a valid signature
        return False
    return len(result) >= 32 and result[:32] == MAGIC_VALUE + bytes(28)


@dataclass(frozen=True)
class Wording:
    """How refusals name what was signed and say how to sign it (a proposal, a sign-in message)."""

    contract_subject: str  # "for this proposal's digest"
    contract_remedy: str
    malformed_remedy: str
    mismatch_remedy: str


PROPOSAL_WORDING: Final = Wording(
    contract_subject="this proposal's digest",
    contract_remedy="sign the proposal's typed data (its `typed_data`) with the contract's own "
    "signing scheme",
    malformed_remedy="an owner account signs with eth_signTypedData_v4, which yields 65 bytes",
    mismatch_remedy="sign exactly this proposal's `typed_data` with the signer's key",
)


def verify_signature(
    *,
    client: ChainClient,
    digest: bytes,
    signer: str,
    signature: bytes,
    wording: Wording,
) -> Method:
    """How `signer` (lowercase) validly signed the 32-byte `digest` (an EIP-712 digest, or the
    EIP-191 hash of a sign-in message): ECDSA, else EIP-1271 when `signer` has code; an ApiError
    saying why not. The one verifier of proposals and sign-in. Chain failures (ChainError)
    propagate: the caller answers 503, not "invalid"."""
    malformed: str | None = None
    recovered: str | None = None
    try:
        recovered = eip712.recover_digest(digest, signature).lower()
        if recovered == signer:
            return "ecdsa"
    except eip712.InvalidSignatureError as exc:
        malformed = str(exc)
    if has_code(client, signer):
        if eip1271_approves(client, signer, digest, signature):
            return "eip1271"
        raise InvalidSignatureError(
            f"{checksum(signer)} is a contract and its isValidSignature(digest, signature) did not "
            f"return 0x1626ba7e for {wording.contract_subject}: {wording.contract_remedy}"
        )
    if malformed is not None:
        raise MalformedSignatureError(f"{malformed}: {wording.malformed_remedy}")
    assert recovered is not None
    raise InvalidSignatureError(
        f"the signature recovers {checksum(recovered)}, not {checksum(signer)}: it was made by "
        f"another key or over other data; {wording.mismatch_remedy}"
    )


def verify_owner_signature(
    *,
    client: ChainClient,
    domain: eip712.Domain,
    message: eip712.Message,
    signer: str,
    signature: bytes,
) -> Method:
    """How `signer` (lowercase) validly signed the proposal `message` (see `verify_signature`)."""
    return verify_signature(
        client=client,
        digest=eip712.digest(domain, message),
        signer=signer,
        signature=signature,
        wording=PROPOSAL_WORDING,
    )
