"""Signing helpers for tests: owner approvals and leader intents, through backend.chain.eip712."""

from __future__ import annotations

from dataclasses import dataclass

from eth_account import Account

from backend.chain import eip712

MAX_UINT256 = 2**256 - 1


@dataclass(frozen=True)
class Key:
    """An offline key (an owner or leader that only signs)."""

    address: str
    private_key: str

    @classmethod
    def from_seed(cls, seed: str) -> Key:
        from eth_utils import keccak

        pk = "0x" + keccak(text=seed).hex()
        return cls(Account.from_key(pk).address, pk)


def key_of(account) -> Key:
    """The signing key of an Ape test account (or a Key)."""
    if isinstance(account, Key):
        return account
    return Key(account.address, account.private_key)


def vault_domain(vault, chain_id: int) -> eip712.Domain:
    return eip712.Domain(chain_id=chain_id, verifying_contract=str(vault.address))


def registry_domain(registry, chain_id: int) -> eip712.Domain:
    return eip712.Domain(chain_id=chain_id, verifying_contract=str(registry.address))


def sign_approvals(domain: eip712.Domain, message, signers) -> tuple[list[str], list[bytes]]:
    """Signatures by `signers`, ordered by address as vaults require (strictly ascending)."""
    keys = sorted((key_of(s) for s in signers), key=lambda k: int(k.address, 16))
    return [k.address for k in keys], [eip712.sign(k.private_key, domain, message) for k in keys]


def intent_tuple(intent: eip712.TradeIntent) -> tuple:
    """The TradeIntent as the ABI tuple the contracts take."""
    return (
        intent.leader,
        intent.venue,
        intent.token_in,
        intent.token_out,
        intent.fraction_bps,
        intent.min_price,
        intent.nonce,
        intent.deadline,
    )
