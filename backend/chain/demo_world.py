"""The demo's world on a local chain: a registered leader, six followers' vaults of different shapes
and one vault following someone else, all funded; and which anvil dev account plays which role.
`make demo` (scripts/demo.py) runs its journey over it and `copyvault serve --local` seeds it, so
the web app opens on vaults to look at."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from backend.chain.actions import Actions, Key
from backend.chain.deploy import DEFAULT_POLICY

WETH: Final = 10**18
USDC: Final = 10**6
# anvil dev accounts (its default mnemonic) by role; anvil must start with ACCOUNTS of them.
DEPLOYER, LEADER, STRANGER, DEPOSITOR, RELAYER = 0, 2, 4, 5, 9
OWNERS: Final = (6, 7, 8, 10, 11)
ACCOUNTS: Final = 12
OWNER_NAMES: Final = ("alice", "bob", "carol", "dan", "erin")


@dataclass
class Follower:
    name: str
    vault: str
    owners: list[Key]
    expect: str  # "mirrored", or the reason the vault skips the leader's first intent


@dataclass
class DemoWorld:
    leader: Key
    followers: list[Follower]
    outsider: str  # a vault following another leader


def _policy(max_fraction_bps: int) -> tuple[int, int, int, int, int]:
    return (max_fraction_bps, *DEFAULT_POLICY[1:])


def create_followers(a: Actions, leader: str) -> list[Follower]:
    """Six vaults following `leader`: 1-of-1, 2-of-3, 3-of-5, one capping trades at 5 %, one
    paused, one that stopped copying; each holds WETH and 1,000 USDC."""
    owners = [Key.anvil(i) for i in OWNERS]
    depositor = Key.anvil(DEPOSITOR)
    shapes = [
        ("alice (1-of-1)", owners[:1], 1, DEFAULT_POLICY, 2 * WETH, "mirrored"),
        ("bob, carol, dan (2-of-3)", owners[:3], 2, DEFAULT_POLICY, 5 * WETH, "mirrored"),
        ("a club (3-of-5)", owners[:5], 3, DEFAULT_POLICY, WETH, "mirrored"),
        ("erin, caps trades at 5 %", owners[1:2], 1, _policy(500), WETH, "FractionTooLarge"),
        ("frank, paused", owners[2:3], 1, DEFAULT_POLICY, WETH, "VaultPaused"),
        ("grace, stopped copying", owners[3:4], 1, DEFAULT_POLICY, WETH, "CopyingStopped"),
    ]
    followers = []
    for salt, (name, keys, threshold, policy, weth, expect) in enumerate(shapes, start=1):
        vault = a.create_vault(keys, threshold=threshold, leader=leader, policy=policy, salt=salt)
        a.deposit(vault, a.token("WETH"), weth, depositor)
        a.deposit(vault, a.token("USDC"), 1_000 * USDC, depositor)
        followers.append(Follower(name, vault, keys, expect))
    a.pause(followers[4].vault, followers[4].owners[0])
    a.stop_copying(followers[5].vault, followers[5].owners[0])
    return followers


def seed(a: Actions) -> DemoWorld:
    """Register the leader, create the followers and the outsider's vault."""
    leader = Key.anvil(LEADER)
    a.register(leader, "ipfs://demo-leader")
    followers = create_followers(a, leader.address)
    outsider = a.create_vault([Key.anvil(OWNERS[4])], leader=Key.anvil(STRANGER).address, salt=99)
    a.deposit(outsider, a.token("WETH"), WETH, Key.anvil(DEPOSITOR))
    return DemoWorld(leader, followers, outsider)


def account_roles() -> list[tuple[str, str]]:
    """(address, role in the demo) of every funded dev account it uses."""
    roles = [
        (DEPLOYER, "deployer and platform admin"),
        (LEADER, "the leader (registered; signs intents)"),
        (STRANGER, "a stranger (unregistered; leads the outsider vault)"),
        (DEPOSITOR, "depositor (funds the vaults)"),
        (RELAYER, "the relayer's key (the server signs with it)"),
    ]
    roles += [(index, f"owner {name}") for index, name in zip(OWNERS, OWNER_NAMES, strict=True)]
    return [(Key.anvil(index).address, role) for index, role in roles]


def describe_accounts() -> str:
    """The funded accounts as printed lines (anvil's default mnemonic: import them in a wallet)."""
    lines = ["funded dev accounts (anvil's default mnemonic; 10,000 ETH each):"]
    lines += [f"  {address}  {role}" for address, role in account_roles()]
    return "\n".join(lines)
