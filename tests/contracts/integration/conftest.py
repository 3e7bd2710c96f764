"""Integration fixtures: a real Safe 1.4.1 (the npm bytecode) as a vault owner, and approvals
that mix EOA owners (ECDSA) with Safe owners (EIP-1271, checked by the Safe's
CompatibilityFallbackHandler)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from ape.contracts.base import ContractCall
from eth_abi import encode
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak

from backend.chain import eip712
from tests.conftest import fund
from tests.utils.deploy import npm_container
from tests.utils.signing import key_of, vault_domain

ZERO_ADDRESS = "0x" + "00" * 20
HOUR = 3_600
# bytes4(keccak256("isValidSignature(bytes32,bytes)")): EIP-1271's "valid" answer.
EIP1271_MAGIC_VALUE = bytes.fromhex("1626ba7e")
# The Safe's EIP-712 type for off-chain messages (CompatibilityFallbackHandler.SAFE_MSG_TYPEHASH).
SAFE_MESSAGE_TYPES = {"SafeMessage": [{"name": "message", "type": "bytes"}]}


def op_nonce(contract) -> int:
    """A contract's own `nonce()` view (Ape's `contract.nonce` is the account nonce: it shadows
    the ABI method)."""
    return contract.call_view_method("nonce")


def by_address(accounts) -> list:
    """Accounts (or contracts) ordered by address, as both the vault and the Safe require."""
    return sorted(accounts, key=lambda a: int(str(a.address), 16))


@dataclass
class SafeWallet:
    """A Safe proxy with the accounts that own it; signs the way Safe's own tooling does."""

    contract: Any  # Safe ABI at the proxy
    handler: (
        Any  # CompatibilityFallbackHandler ABI at the proxy (reached through the Safe's fallback)
    )
    safe_owners: list
    chain_id: int

    @property
    def address(self) -> str:
        return str(self.contract.address)

    def safe_message(self, digest: bytes) -> dict[str, Any]:
        """The EIP-712 SafeMessage wrapping of `digest` that the fallback handler checks for
        isValidSignature(bytes32 digest, bytes): message = abi.encode(digest), domain =
        {chainId, verifyingContract: safe}."""
        return {
            "domain_data": {"chainId": self.chain_id, "verifyingContract": self.address},
            "message_types": SAFE_MESSAGE_TYPES,
            "message_data": {"message": encode(["bytes32"], [digest])},
        }

    def safe_message_hash(self, digest: bytes) -> bytes:
        signable = encode_typed_data(**self.safe_message(digest))
        return keccak(b"\x19\x01" + signable.header + signable.body)

    def is_valid_signature(self, digest: bytes, signature: bytes) -> bytes:
        """The Safe's answer to EIP-1271 `isValidSignature(bytes32,bytes)` (the handler's ABI
        overloads it with the legacy `(bytes,bytes)`, so the bytes32 one is picked explicitly)."""
        (abi,) = [a for a in self.handler.isValidSignature.abis if a.inputs[0].type == "bytes32"]
        return ContractCall(abi, self.contract.address)(digest, signature)

    def approve(self, digest: bytes, signers=None, *, ordered: bool = True) -> bytes:
        """The Safe's EIP-1271 signature of `digest`: its owners' ECDSA signatures over the
        SafeMessage, 65 bytes each, concatenated in ascending owner order (Safe's GS026 rule;
        `ordered=False` keeps the given order, to show that rule)."""
        signers = self.safe_owners[:2] if signers is None else signers
        signers = by_address(signers) if ordered else signers
        return b"".join(
            bytes(
                Account.sign_typed_data(
                    key_of(s).private_key, **self.safe_message(digest)
                ).signature
            )
            for s in signers
        )

    def sign_transaction(self, to, data: bytes, signers=None) -> bytes:
        """Owners' raw ECDSA signatures (v = 27/28) over a Safe transaction hash at its nonce."""
        signers = by_address(self.safe_owners[:2] if signers is None else signers)
        tx_hash = self.contract.getTransactionHash(
            to, 0, data, 0, 0, 0, 0, ZERO_ADDRESS, ZERO_ADDRESS, op_nonce(self.contract)
        )
        return b"".join(
            bytes(Account.unsafe_sign_hash(bytes(tx_hash), key_of(s).private_key).signature)
            for s in signers
        )

    def exec_transaction(self, to, data: bytes, sender, signers=None):
        """Run `data` on `to` from the Safe (a CALL, no refund), approved by `signers`."""
        signatures = self.sign_transaction(to, data, signers)
        return self.contract.execTransaction(
            to, 0, data, 0, 0, 0, 0, ZERO_ADDRESS, ZERO_ADDRESS, signatures, sender=sender
        )


@dataclass(frozen=True)
class SafeApproval:
    """An approval by a Safe owner of the vault, given by (some of) the Safe's own owners."""

    safe: SafeWallet
    signers: tuple = ()

    @property
    def address(self) -> str:
        return self.safe.address


# ----------------------------------------------------------------------------- actors


@pytest.fixture(scope="session")
def safe_owners(accounts):
    """The three keys that own the Safe, ordered by address (index 0 signs before index 1)."""
    return by_address([accounts[i] for i in range(11, 14)])


@pytest.fixture(scope="session")
def recipient(accounts):
    return accounts[14]


# ----------------------------------------------------------------------------- Safe 1.4.1


@pytest.fixture(scope="session")
def safe_deployment(deployer):
    """Safe singleton, proxy factory and CompatibilityFallbackHandler, from npm bytecode."""
    singleton = deployer.deploy(npm_container("Safe"))
    proxy_factory = deployer.deploy(npm_container("SafeProxyFactory"))
    handler = deployer.deploy(npm_container("CompatibilityFallbackHandler"))
    return singleton, proxy_factory, handler


@pytest.fixture(scope="session")
def safe(safe_deployment, safe_owners, deployer, chain_id):
    """A 2-of-3 Safe proxy from createProxyWithNonce, its fallback handler set in setup."""
    singleton, proxy_factory, handler = safe_deployment
    initializer = singleton.setup.encode_input(
        [o.address for o in safe_owners],
        2,
        ZERO_ADDRESS,
        b"",
        handler,
        ZERO_ADDRESS,
        0,
        ZERO_ADDRESS,
    )
    receipt = proxy_factory.createProxyWithNonce(singleton, initializer, 0, sender=deployer)
    proxy = receipt.decode_logs(proxy_factory.ProxyCreation)[0].proxy
    return SafeWallet(
        contract=npm_container("Safe").at(proxy),
        handler=npm_container("CompatibilityFallbackHandler").at(proxy),
        safe_owners=list(safe_owners),
        chain_id=chain_id,
    )


# ----------------------------------------------------------------------------- approvals


@pytest.fixture
def approvals(chain_id):
    """(signers, signatures) for `message` on `vault`: EOAs sign EIP-712 directly; a SafeApproval
    contributes its Safe's EIP-1271 signature. Ordered by approver address, as vaults require."""

    def _approve(vault, message, approvers) -> tuple[list[str], list[bytes]]:
        domain = vault_domain(vault, chain_id)
        digest = eip712.digest(domain, message)
        ordered = by_address(approvers)
        signatures = [
            a.safe.approve(digest, a.signers or None)
            if isinstance(a, SafeApproval)
            else eip712.sign(key_of(a).private_key, domain, message)
            for a in ordered
        ]
        return [str(a.address) for a in ordered], signatures

    return _approve


@pytest.fixture
def withdrawal(chain):
    """A Withdrawal message at the vault's current nonce, valid for an hour."""

    def _withdrawal(vault, token, amount: int, to, nonce=None) -> eip712.Withdrawal:
        return eip712.Withdrawal(
            token=str(token.address),
            amount=amount,
            to=str(to.address),
            nonce=op_nonce(vault) if nonce is None else nonce,
            deadline=chain.pending_timestamp + HOUR,
        )

    return _withdrawal


@pytest.fixture
def safe_vault(create_vault, safe, follower, co_owner, weth, deployer):
    """A 2-of-3 vault owned by {Safe, follower, co_owner}, holding 10 WETH."""
    vault = create_vault(owners_=[safe, follower, co_owner], threshold=2, sender=follower)
    fund(vault, weth, 10 * 10**18, deployer)
    return vault
