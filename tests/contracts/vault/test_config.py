"""CopyVault.executeConfig: every configuration change takes the threshold of owner approvals,
runs only the vault's configuration functions, and shares the operation nonce with withdrawals
(docs/protocol.md §1.1)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.utils.reverts import reverts

from .helpers import HOUR, SHAPE_IDS, SHAPES, calldata, vault_nonce

ZERO_ADDRESS = "0x" + "00" * 20
NEW_POLICY = (4_000, 50, 600, 3, 25)


@dataclass
class Ctx:
    """What a configuration case needs: the vault (2-of-3 over owners[:3]) and the actors."""

    vault: Any
    owners: list
    other_leader: Any
    new_asset: Any
    venue: Any
    new_oracle: Any


@dataclass
class ConfigCase:
    function: str
    args: Callable[[Ctx], tuple]
    event: str
    event_args: Callable[[Ctx], dict]
    applied: Callable[[Ctx], bool]
    prepare: Callable[[Ctx], None] = lambda ctx: None


CASES = [
    ConfigCase(
        "setLeader",
        lambda c: (c.other_leader.address,),
        "LeaderChanged",
        lambda c: {"leader": c.other_leader.address},
        lambda c: c.vault.leader() == c.other_leader.address,
    ),
    ConfigCase(
        "setPolicy",
        lambda c: (NEW_POLICY,),
        "PolicyChanged",
        lambda c: {"policy": list(NEW_POLICY)},
        lambda c: c.vault.policy() == NEW_POLICY,
    ),
    ConfigCase(
        "setAssetAllowed",
        lambda c: (c.new_asset.address, True),
        "AssetAllowed",
        lambda c: {"asset": c.new_asset.address, "allowed": True},
        lambda c: c.vault.isAssetAllowed(c.new_asset),
    ),
    ConfigCase(
        "setVenueAllowed",
        lambda c: (c.venue.address, False),
        "VenueAllowed",
        lambda c: {"venue": c.venue.address, "allowed": False},
        lambda c: not c.vault.isVenueAllowed(c.venue),
    ),
    ConfigCase(
        "setOracle",
        lambda c: (c.new_oracle.address,),
        "OracleChanged",
        lambda c: {"oracle": c.new_oracle.address},
        lambda c: c.vault.oracle() == c.new_oracle.address,
    ),
    ConfigCase(
        "addOwner",
        lambda c: (c.owners[3].address,),
        "OwnerAdded",
        lambda c: {"owner": c.owners[3].address},
        lambda c: c.vault.isOwner(c.owners[3]) and len(c.vault.getOwners()) == 4,
    ),
    ConfigCase(
        "removeOwner",
        lambda c: (c.owners[2].address,),
        "OwnerRemoved",
        lambda c: {"owner": c.owners[2].address},
        lambda c: not c.vault.isOwner(c.owners[2]) and len(c.vault.getOwners()) == 2,
    ),
    ConfigCase(
        "setThreshold",
        lambda c: (3,),
        "ThresholdChanged",
        lambda c: {"threshold": 3},
        lambda c: c.vault.threshold() == 3,
    ),
    ConfigCase(
        "unpause",
        lambda c: (),
        "Unpaused",
        lambda c: {},
        lambda c: not c.vault.paused(),
        prepare=lambda c: c.vault.pause(sender=c.owners[0]),
    ),
    ConfigCase(
        "startCopying",
        lambda c: (),
        "CopyingStarted",
        lambda c: {},
        lambda c: c.vault.copying(),
        prepare=lambda c: c.vault.stopCopying(sender=c.owners[0]),
    ),
    ConfigCase(
        "setGuardianAccepted",
        lambda c: (False,),
        "GuardianAcceptanceChanged",
        lambda c: {"accepted": False},
        lambda c: not c.vault.guardianAccepted(),
    ),
]
CASE_IDS = [case.function for case in CASES]


@pytest.fixture
def ctx(vault, owners, other_leader, assets, venue, project, deployer, admin):
    new_oracle = deployer.deploy(project.PriceOracle, admin)
    return Ctx(vault, owners, other_leader, assets[18].token, venue, new_oracle)


@pytest.fixture
def submit_config(sign_config, chain, relayer):
    """Sign `data` by `signers` at the vault's nonce (unless given) and submit it."""

    def _submit(vault, signers, data: bytes, nonce=None):
        deadline = chain.pending_timestamp + HOUR
        addrs, sigs = sign_config(vault, signers, data, deadline, nonce=nonce)
        return vault.executeConfig(data, deadline, addrs, sigs, sender=relayer)

    return _submit


# ----------------------------------------------------------------------------- each function


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_execute_config__threshold_approves__applies_change_and_emits(ctx, submit_config, case):
    case.prepare(ctx)
    assert not case.applied(ctx)
    data = calldata(ctx.vault, case.function, *case.args(ctx))

    receipt = submit_config(ctx.vault, ctx.owners[1:3], data)

    assert case.applied(ctx)
    events = receipt.decode_logs(getattr(ctx.vault, case.event))
    assert [dict(e.event_arguments) for e in events] == [case.event_args(ctx)]
    executed = receipt.decode_logs(ctx.vault.ConfigExecuted)
    assert [(e.selector, e.nonce, e.data) for e in executed] == [(data[:4], 0, data)]
    assert vault_nonce(ctx.vault) == 1


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_config_function__called_directly_by_owner__reverts_only_self(ctx, follower, case):
    function = getattr(ctx.vault, case.function)

    with reverts(ctx.vault.OnlySelf, caller=follower.address):
        function(*case.args(ctx), sender=follower)


@pytest.mark.parametrize(("threshold", "count"), SHAPES, ids=SHAPE_IDS)
def test_execute_config__each_owner_shape__threshold_applies_and_one_short_reverts(
    create_vault, owners, other_leader, submit_config, threshold, count
):
    vault = create_vault(owners_=owners[:count], threshold=threshold)
    data = calldata(vault, "setLeader", other_leader.address)
    signers = owners[count - threshold : count]

    with reverts(vault.NotEnoughSignatures, given=threshold - 1, threshold=threshold):
        submit_config(vault, signers[1:], data)
    submit_config(vault, signers, data)

    assert vault.leader() == other_leader.address


# ----------------------------------------------------------------------------- what it refuses


@pytest.fixture
def disallowed_calls(vault, weth, attacker):
    """Calls that are not configuration functions, each with its selector."""
    return {
        "erc20-transfer": bytes(weth.transfer.encode_input(attacker.address, 1)),
        "withdraw": calldata(vault, "withdraw", weth.address, 1, attacker.address, 0, [], []),
        "pause": calldata(vault, "pause"),
        "executeConfig": calldata(vault, "executeConfig", b"", 0, [], []),
        "empty": b"",
        "short": b"\x4f\x1e\xf2",
    }


@pytest.mark.parametrize(
    "name", ["erc20-transfer", "withdraw", "pause", "executeConfig", "empty", "short"]
)
def test_execute_config__not_a_configuration_call__reverts_disallowed_config_call(
    funded_vault, owners, disallowed_calls, submit_config, name
):
    data = disallowed_calls[name]
    selector = data[:4] if len(data) >= 4 else b"\x00" * 4

    with reverts(funded_vault.DisallowedConfigCall, selector=selector):
        submit_config(funded_vault, owners[:3], data)

    assert vault_nonce(funded_vault) == 0


def test_execute_config__deadline_passed__reverts_deadline_expired(
    vault, owners, other_leader, sign_config, chain, relayer
):
    data = calldata(vault, "setLeader", other_leader.address)
    deadline = chain.pending_timestamp + HOUR
    addrs, sigs = sign_config(vault, owners[:2], data, deadline)
    chain.pending_timestamp = deadline + 1

    with reverts(vault.DeadlineExpired, deadline=deadline, timestamp=deadline + 1):
        vault.executeConfig(data, deadline, addrs, sigs, sender=relayer)


@pytest.mark.parametrize(
    ("policy", "error", "inputs"),
    [
        ((0, 100, 3_600, 10, 0), "InvalidMaxFraction", {"maxFractionBps": 0}),
        ((10_001, 100, 3_600, 10, 0), "InvalidMaxFraction", {"maxFractionBps": 10_001}),
        ((5_000, 10_000, 3_600, 10, 0), "InvalidMaxSlippage", {"maxSlippageBps": 10_000}),
        ((5_000, 100, 0, 10, 0), "InvalidMaxOracleAge", {"maxOracleAge": 0}),
        ((5_000, 100, 3_600, 0, 0), "InvalidMaxTradesPerDay", {"maxTradesPerDay": 0}),
        ((5_000, 100, 3_600, 10, 10_001), "InvalidLossBudget", {"lossBudgetBps": 10_001}),
    ],
    ids=[
        "fraction-0",
        "fraction-over-100%",
        "slippage-100%",
        "oracle-age-0",
        "trades-0",
        "loss-over",
    ],
)
def test_execute_config__set_policy_out_of_range__bubbles_the_fields_own_error(
    vault, owners, submit_config, policy, error, inputs
):
    """Each policy field has its own error carrying the refused value (audit finding 8: the
    single InvalidPolicy(string) carried a string)."""
    with reverts(getattr(vault, error), **inputs):
        submit_config(vault, owners[:2], calldata(vault, "setPolicy", policy))

    assert vault.policy() == (5_000, 100, 3_600, 10, 0)
    assert vault_nonce(vault) == 0


@pytest.mark.parametrize("new_threshold", [0, 4], ids=["zero", "above-owner-count"])
def test_execute_config__set_threshold_out_of_range__bubbles_invalid_threshold(
    vault, owners, submit_config, new_threshold
):
    with reverts(vault.InvalidThreshold, threshold=new_threshold, owners=3):
        submit_config(vault, owners[:2], calldata(vault, "setThreshold", new_threshold))

    assert vault.threshold() == 2


def test_execute_config__remove_owner_below_threshold__bubbles_invalid_threshold(
    create_vault, owners, submit_config
):
    vault = create_vault(owners_=owners[:2], threshold=2)

    with reverts(vault.InvalidThreshold, threshold=2, owners=1):
        submit_config(vault, owners[:2], calldata(vault, "removeOwner", owners[1].address))

    assert vault.getOwners() == [o.address for o in owners[:2]]


def test_execute_config__remove_non_owner__bubbles_owner_not_found(
    vault, owners, attacker, submit_config
):
    with reverts(vault.OwnerNotFound, owner=attacker.address):
        submit_config(vault, owners[:2], calldata(vault, "removeOwner", attacker.address))


@pytest.mark.parametrize("who", ["existing-owner", "vault-itself"])
def test_execute_config__add_invalid_owner__bubbles_invalid_owner(
    vault, owners, submit_config, who
):
    new_owner = {"existing-owner": owners[2].address, "vault-itself": vault.address}[who]

    with reverts(vault.InvalidOwner, owner=new_owner):
        submit_config(vault, owners[:2], calldata(vault, "addOwner", new_owner))

    assert len(vault.getOwners()) == 3


@pytest.mark.parametrize("function", ["addOwner", "setLeader", "setOracle"])
def test_execute_config__zero_address__bubbles_zero_address(vault, owners, submit_config, function):
    with reverts(vault.ZeroAddress):
        submit_config(vault, owners[:2], calldata(vault, function, ZERO_ADDRESS))

    assert vault_nonce(vault) == 0


# ----------------------------------------------------------------------------- the shared nonce


def test_execute_config__approval_whose_nonce_a_withdrawal_used__reverts_invalid_owner_signature(
    funded_vault, owners, other_leader, weth, recipient, withdraw, sign_config, chain, relayer
):
    data = calldata(funded_vault, "setLeader", other_leader.address)
    deadline = chain.pending_timestamp + HOUR
    addrs, sigs = sign_config(funded_vault, owners[:2], data, deadline)  # for nonce 0
    withdraw(funded_vault, owners[:2], weth, 10**18, recipient)  # uses nonce 0

    with reverts(funded_vault.InvalidOwnerSignature, signer=addrs[0]):
        funded_vault.executeConfig(data, deadline, addrs, sigs, sender=relayer)

    assert funded_vault.leader() != other_leader.address


def test_withdraw__approval_whose_nonce_a_config_change_used__reverts_invalid_owner_signature(
    funded_vault,
    owners,
    other_leader,
    weth,
    recipient,
    submit_config,
    sign_withdrawal,
    chain,
    relayer,
):
    deadline = chain.pending_timestamp + HOUR
    addrs, sigs = sign_withdrawal(funded_vault, owners[:2], weth, 10**18, recipient, deadline)
    submit_config(
        funded_vault, owners[:2], calldata(funded_vault, "setLeader", other_leader.address)
    )

    with reverts(funded_vault.InvalidOwnerSignature, signer=addrs[0]):
        funded_vault.withdraw(weth, 10**18, recipient, deadline, addrs, sigs, sender=relayer)

    assert weth.balanceOf(recipient) == 0


def test_execute_config__same_approval_twice__second_reverts_invalid_owner_signature(
    vault, owners, other_leader, sign_config, chain, relayer
):
    data = calldata(vault, "setLeader", other_leader.address)
    deadline = chain.pending_timestamp + HOUR
    addrs, sigs = sign_config(vault, owners[:2], data, deadline)
    vault.executeConfig(data, deadline, addrs, sigs, sender=relayer)

    with reverts(vault.InvalidOwnerSignature, signer=addrs[0]):
        vault.executeConfig(data, deadline, addrs, sigs, sender=relayer)

    assert vault_nonce(vault) == 1


def test_execute_config__approval_for_other_data__reverts_invalid_owner_signature(
    vault, owners, other_leader, attacker, sign_config, chain, relayer
):
    deadline = chain.pending_timestamp + HOUR
    approved = calldata(vault, "setLeader", other_leader.address)
    addrs, sigs = sign_config(vault, owners[:2], approved, deadline)
    swapped = calldata(vault, "setLeader", attacker.address)

    with reverts(vault.InvalidOwnerSignature, signer=addrs[0]):
        vault.executeConfig(swapped, deadline, addrs, sigs, sender=relayer)


def test_execute_config__removed_owner__can_no_longer_approve(vault, owners, submit_config):
    submit_config(vault, owners[:2], calldata(vault, "removeOwner", owners[0].address))

    with reverts(vault.SignerNotOwner, signer=owners[0].address):
        submit_config(vault, owners[:2], calldata(vault, "setThreshold", 1))
