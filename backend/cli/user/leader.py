"""`copyvault leader ...`: a leader's entry in the LeaderRegistry: register, appoint and revoke
delegates (keys that may sign intents for the leader), cancel intent nonces."""

from __future__ import annotations

from typing import Any

import click

from backend.cli.user.common import Env, command
from backend.cli.user.transact import public, transact, tx_line
from backend.cli.user.units import UserError, parse_duration

NONCES_PER_WORD = 256  # the registry keeps nonces in 256-bit bitmap words (docs/protocol.md)


@click.group()
def leader() -> None:
    """A leader's registry entry: register, delegate, revoke, cancel-nonce."""


def _registry_call(env: Env, fn: str, *args: Any, action: str, extra: dict[str, Any]) -> None:
    registry = env.deployment.registry
    data = env.abi("LeaderRegistry").call_data(fn, *args)
    result = transact(env, registry, data, action=action)
    verb = "would" if env.dry_run else "done:"
    env.emit(public(result) | extra, f"{verb} {action}" + tx_line(result))


@leader.command()
@click.option("--profile-uri", required=True, help="Where followers read about you (https/ipfs).")
@command(signs=True, sends=True)
def register(env: Env, profile_uri: str) -> None:
    """Register the account as a leader (again: update the profile URI)."""
    _registry_call(
        env,
        "register",
        profile_uri,
        action=f"register {env.wallet.address} as a leader",
        extra={"leader": env.wallet.address, "profile_uri": profile_uri},
    )


@leader.command()
@click.argument("delegate_address", metavar="DELEGATE")
@click.option("--for", "valid_for", default="30d", show_default=True, help="How long it may sign.")
@command(signs=True, sends=True)
def delegate(env: Env, delegate_address: str, valid_for: str) -> None:
    """Let DELEGATE sign intents for the account (a bot's key) until the expiry."""
    address = env.address(delegate_address, "DELEGATE")
    expiry = env.timestamp() + parse_duration(valid_for)
    _registry_call(
        env,
        "setDelegate",
        address,
        expiry,
        action=f"appoint delegate {address} until {expiry} (unix time)",
        extra={"leader": env.wallet.address, "delegate": address, "expiry": expiry},
    )


@leader.command()
@click.argument("delegate_address", metavar="DELEGATE")
@command(signs=True, sends=True)
def revoke(env: Env, delegate_address: str) -> None:
    """Revoke DELEGATE at once: its signatures stop counting, also on intents not yet mirrored."""
    address = env.address(delegate_address, "DELEGATE")
    _registry_call(
        env,
        "revokeDelegate",
        address,
        action=f"revoke delegate {address}",
        extra={"leader": env.wallet.address, "delegate": address},
    )


@leader.command(name="cancel-nonce")
@click.argument("nonces", nargs=-1, type=int, required=True)
@command(signs=True, sends=True)
def cancel_nonce(env: Env, nonces: tuple[int, ...]) -> None:
    """Cancel intent NONCES (signed or not): an intent with one of them can never be mirrored."""
    if any(n < 0 for n in nonces):
        raise UserError("nonces are whole numbers from 0")
    masks: dict[int, int] = {}
    for n in nonces:
        word, bit = divmod(n, NONCES_PER_WORD)
        masks[word] = masks.get(word, 0) | 1 << bit
    if len(masks) > 1:
        raise UserError(
            "these nonces lie in different 256-nonce words: cancel each word's nonces in its own "
            f"command (words {sorted(masks)})"
        )
    ((word, mask),) = masks.items()
    listed = ", ".join(str(n) for n in sorted(set(nonces)))
    _registry_call(
        env,
        "invalidateNonces",
        word,
        mask,
        action=f"cancel nonce(s) {listed}",
        extra={"leader": env.wallet.address, "nonces": sorted(set(nonces))},
    )
