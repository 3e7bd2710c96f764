"""Helpers of the attack suite: strict reverts, "nothing moved" snapshots, signature tampering.

Every attack asserts two things: the exact custom error (with its arguments where they matter) and
that no balance, nonce, flag or executed-intent bit changed. `blocked(...)` does both in one `with`
block.

Why not plain `ape.reverts(contract.Error)`: when an error bubbles up from another contract (the
registry's `UnauthorizedSigner`, the oracle's `StaleOraclePrice`, a vault error raised during
`factory.createVault`), Ape cannot decode it and raises a bare `ContractLogicError`, which
`ape.reverts(SomeError)` then accepts without checking anything. The strict `reverts` of
tests/utils/reverts.py matches the revert data's selector and arguments itself, whether or not Ape
decoded them; `blocked` is that plus the "nothing moved" check.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from backend.chain import eip712
from tests.utils.reverts import reverts

WETH = 10**18
USDC = 10**6

# ----------------------------------------------------------------------------- nothing moved


def vault_nonce(vault) -> int:
    """The vault's operation nonce. `vault.nonce()` does not work in Ape: every address object has a
    `nonce` property (its transaction count) that shadows the contract's view."""
    return vault.call_view_method("nonce")


class Watch:
    """What an attack must leave untouched: every token balance of the vaults and the extra
    holders, and each vault's nonce, pause/copy flags, owners, threshold, leader, policy, oracle,
    trades today and the executed flags of the given intents; plus any named `checks` (zero-argument
    views such as `factory.vaultCount`)."""

    def __init__(
        self,
        vaults,
        tokens,
        holders: Iterable = (),
        intents: Iterable = (),
        checks: dict[str, Callable[[], Any]] | None = None,
    ):
        self.vaults = list(vaults)
        self.tokens = list(tokens)
        self.holders = [*self.vaults, *holders]
        self.intents = list(intents)
        self.checks = dict(checks or {})

    def also(
        self, *, vaults: Iterable = (), tokens: Iterable = (), holders: Iterable = (), intents=()
    ):
        """This watch plus more vaults, tokens, holders or intents."""
        return Watch(
            [*self.vaults, *vaults],
            [*self.tokens, *tokens],
            [*self.holders[len(self.vaults) :], *holders],
            [*self.intents, *intents],
            self.checks,
        )

    def read(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            f"{t.address}@{getattr(h, 'address', h)}": t.balanceOf(h)
            for t in self.tokens
            for h in self.holders
        }
        for v in self.vaults:
            state[f"{v.address}.config"] = (
                vault_nonce(v),
                v.paused(),
                v.copying(),
                tuple(v.getOwners()),
                v.threshold(),
                v.leader(),
                tuple(v.policy()),
                v.oracle(),
                v.tradesToday(),
            )
            for intent in self.intents:
                state[f"{v.address}.executed{intent[6]}"] = v.isIntentExecuted(intent[0], intent[6])
        state.update({name: view() for name, view in self.checks.items()})
        return state


@contextmanager
def blocked(error, watch: Watch, **expected: Any) -> Iterator[None]:
    """The body reverts with exactly `error` (and `expected` inputs), and nothing watched moved."""
    before = watch.read()
    with reverts(error, **expected):
        yield
    after = watch.read()
    moved = {k: (before[k], after[k]) for k in before if before[k] != after[k]}
    assert not moved, f"state moved despite the revert: {moved}"


# ----------------------------------------------------------------------------- signatures


def malleate(signature: bytes) -> bytes:
    """The other valid ECDSA signature of the same digest: s' = n - s (high s), v flipped."""
    r, s, v = signature[:32], int.from_bytes(signature[32:64], "big"), signature[64]
    return r + (eip712.SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])


def compact(signature: bytes) -> bytes:
    """The EIP-2098 64-byte form of a signature (r, yParity·2^255 | s): same key, other encoding."""
    s = int.from_bytes(signature[32:64], "big") | ((signature[64] - 27) << 255)
    return signature[:32] + s.to_bytes(32, "big")


def tamper_intent(intent: tuple, **changes: Any) -> tuple:
    """The intent ABI tuple with some fields replaced (by TradeIntent field name)."""
    fields = [
        "leader",
        "venue",
        "token_in",
        "token_out",
        "fraction_bps",
        "min_price",
        "nonce",
        "deadline",
    ]
    values = dict(zip(fields, intent, strict=True)) | changes
    return tuple(values[f] for f in fields)


# ----------------------------------------------------------------------------- configuration calls


CONFIG_FUNCTIONS = [
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
]


def call_directly(vault, data: bytes, sender):
    """Send raw calldata to the vault (a configuration function called from outside)."""
    return sender.transfer(vault, 0, data=data)
