"""Reading current vault state straight from the chain (for the API, next to the indexed state).

The store's `vault_balances` are balances *as accounted by vault events*; tokens sent to a vault by
a plain ERC-20 transfer are invisible there. `token_balances` reads what the vault really holds.
All reads of one call go in one JSON-RPC batch, at one block.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from eth_abi import decode
from eth_utils import function_signature_to_4byte_selector

from backend.chain.client import ChainClient

_BALANCE_OF = function_signature_to_4byte_selector("balanceOf(address)")


def _balance_call(token: str, holder: str, block: str) -> tuple[str, list]:
    data = "0x" + _BALANCE_OF.hex() + holder.lower().removeprefix("0x").rjust(64, "0")
    return ("eth_call", [{"to": token, "data": data}, block])


def token_balances(
    client: ChainClient, holder: str, tokens: Sequence[str], block: int | str = "latest"
) -> dict[str, int]:
    """ERC-20 `balanceOf(holder)` of each token (lowercase token address -> raw amount)."""
    tag = hex(block) if isinstance(block, int) else block
    results = client.batch([_balance_call(t, holder, tag) for t in tokens])
    return {
        t.lower(): int.from_bytes(bytes.fromhex(r[2:]).rjust(32, b"\0")[-32:], "big")
        for t, r in zip(tokens, results, strict=True)
    }


@dataclass(frozen=True)
class VaultView:
    """A vault's configuration as its view functions report it now."""

    owners: list[str]
    threshold: int
    leader: str
    nonce: int
    paused: bool
    copying: bool
    guardian_accepted: bool
    oracle: str
    policy: tuple[int, int, int, int, int]


@cache
def _selector(signature: str) -> str:
    return "0x" + function_signature_to_4byte_selector(signature).hex()


def vault_view(client: ChainClient, vault: str, block: int | str = "latest") -> VaultView:
    """Read a vault's owners, threshold, leader, nonce, flags, oracle and policy in one batch."""
    tag = hex(block) if isinstance(block, int) else block
    calls = {
        "getOwners()": "address[]",
        "threshold()": "uint256",
        "leader()": "address",
        "nonce()": "uint256",
        "paused()": "bool",
        "copying()": "bool",
        "guardianAccepted()": "bool",
        "oracle()": "address",
        "policy()": "(uint16,uint16,uint32,uint16,uint16)",
    }
    results = client.batch(
        [("eth_call", [{"to": vault, "data": _selector(sig)}, tag]) for sig in calls]
    )
    values = [
        decode([kind], bytes.fromhex(raw[2:]))[0]
        for kind, raw in zip(calls.values(), results, strict=True)
    ]
    owners, threshold, leader, nonce, paused, copying, guardian, oracle, policy = values
    return VaultView(
        owners=[o.lower() for o in owners],
        threshold=threshold,
        leader=leader.lower(),
        nonce=nonce,
        paused=paused,
        copying=copying,
        guardian_accepted=guardian,
        oracle=oracle.lower(),
        policy=tuple(policy),
    )
