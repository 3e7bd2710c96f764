"""Platform roles reaching for vault funds: the admin (holding every role) and the guardian.

Invariant 6 (docs/protocol.md §1.5, §1.4): no platform role can move vault funds or change a vault's
owners, leader or policy. The guardian can pause vaults that accepted it, and nothing else.
"""

from __future__ import annotations

import pytest

from tests.contracts.attacks.helpers import (
    CONFIG_FUNCTIONS,
    WETH,
    Watch,
    blocked,
    call_directly,
)

# Every state-changing entry point each platform contract may have. Anything new here needs a review
# of whether it can touch vault funds; none of these takes a vault or moves tokens.
ALLOWED_WRITES = {
    "VaultFactory": {
        "createVault",
        "setVenueAllowed",
        "setDefaultOracle",
        "setGuardian",
        "setSanctionsList",
        "grantRole",
        "revokeRole",
        "renounceRole",
    },
    # quoteCached: anyone; writes nothing but a per-transaction (transient) cache of the public feed
    # answers it reads, gone when the transaction ends. setFeedMaxAge and setSequencerUptimeFeed
    # (FEED_ADMIN_ROLE) move bounds no more than setFeed does: they can only refuse answers.
    "PriceOracle": {
        "setFeed",
        "removeFeed",
        "setFeedMaxAge",
        "setSequencerUptimeFeed",
        "grantRole",
        "revokeRole",
        "renounceRole",
        "quoteCached",
    },
    "CopyRouter": {"mirrorBatch", "mirrorAggregated"},
    "LeaderRegistry": {
        "register",
        "setDelegate",
        "revokeDelegate",
        "invalidateNonces",
        "checkIntent",
    },
}


@pytest.fixture
def init_params(attacker, oracle):
    """InitParams that would hand the vault to the attacker."""
    return (
        [attacker.address],
        1,
        attacker.address,
        (10_000, 9_999, 1, 1_000, 0),
        oracle.address,
        [],
        [],
        False,
    )


@pytest.fixture
def as_factory(accounts, factory, chain):
    """The factory's own address as a sender (anvil impersonation), for calls only it may make."""
    chain.set_balance(factory.address, 10**18)
    return accounts[factory.address]


def test_withdraw__platform_role_cosigns__reverts_signer_not_owner(
    platform_role, vault_under_attack, watch, follower, weth, withdraw
):
    with blocked(
        vault_under_attack.SignerNotOwner, watch.also(holders=[platform_role]), signer=platform_role
    ):
        withdraw(vault_under_attack, [follower, platform_role], weth, WETH, platform_role)


def test_execute_config__platform_role_cosigns__reverts_signer_not_owner(
    platform_role, vault_under_attack, watch, follower, execute_config
):
    data = vault_under_attack.addOwner.encode_input(platform_role)
    with blocked(vault_under_attack.SignerNotOwner, watch, signer=platform_role):
        execute_config(vault_under_attack, [follower, platform_role], data)


def test_config_functions__called_directly_by_platform_role__each_reverts_only_self(
    platform_role, vault_under_attack, watch, config_calls
):
    for function in CONFIG_FUNCTIONS:
        with blocked(vault_under_attack.OnlySelf, watch, caller=platform_role):
            call_directly(vault_under_attack, config_calls[function], platform_role)


def test_initialize__platform_role_reinitialises_vault__reverts_not_factory(
    platform_role, vault_under_attack, watch, init_params
):
    with blocked(vault_under_attack.NotFactory, watch, caller=platform_role):
        vault_under_attack.initialize(init_params, sender=platform_role)


def test_guardian__pauses_but_cannot_unpause_stop_copying_or_withdraw(
    vault_under_attack, watch, guardian, weth, withdraw, config_calls
):
    receipt = vault_under_attack.pause(sender=guardian)
    assert receipt.decode_logs(vault_under_attack.Paused)[0].by == guardian.address
    assert vault_under_attack.paused()

    with blocked(vault_under_attack.OnlySelf, watch, caller=guardian):
        call_directly(vault_under_attack, config_calls["unpause"], guardian)
    with blocked(vault_under_attack.NotOwner, watch, caller=guardian):
        vault_under_attack.stopCopying(sender=guardian)
    with blocked(vault_under_attack.NotEnoughSignatures, watch.also(holders=[guardian])):
        withdraw(vault_under_attack, [guardian], weth, WETH, guardian)


def test_admin__using_every_platform_role__cannot_reach_vault_funds(
    project,
    vault_under_attack,
    watch,
    factory,
    oracle,
    admin,
    follower,
    deployer,
    weth,
    withdraw,
    make_intent,
    sign_intent,
    relayer,
):
    # The admin makes itself guardian, allows its own venue everywhere, swaps the default oracle and
    # installs a sanctions list. None of it gives it the vault's funds or its configuration.
    rogue_venue = deployer.deploy(project.LyingVenue)
    factory.setGuardian(admin, sender=admin)
    factory.setVenueAllowed(rogue_venue, True, sender=admin)
    factory.setDefaultOracle(admin, sender=admin)
    factory.setSanctionsList(deployer.deploy(project.MockSanctionsList), sender=admin)
    watch = watch.also(holders=[admin, rogue_venue])

    assert vault_under_attack.oracle() == oracle.address  # existing vaults keep their oracle
    with blocked(vault_under_attack.SignerNotOwner, watch, signer=admin):
        withdraw(vault_under_attack, [follower, admin], weth, WETH, admin)
    intent, sig = sign_intent(make_intent(venue=rogue_venue.address))
    with blocked(
        vault_under_attack.VenueNotAllowed, watch.also(intents=[intent]), venue=rogue_venue
    ):
        vault_under_attack.mirror(intent, sig, sender=relayer)


@pytest.mark.parametrize("contract", sorted(ALLOWED_WRITES))
def test_platform_contract_abi__state_changing_functions__are_only_the_reviewed_ones(
    contract, project
):
    abi = getattr(project, contract).contract_type.abi
    writes = {
        e.name for e in abi if e.type == "function" and e.stateMutability not in ("view", "pure")
    }
    assert writes == ALLOWED_WRITES[contract]
    assert not [e for e in abi if e.type in ("fallback", "receive")]
    assert not [e for e in abi if e.type == "function" and e.stateMutability == "payable"]


def test_quote_cached__called_by_attacker__writes_no_storage_and_caches_nothing_past_the_call(
    oracle, system, weth, usdc, attacker
):
    """The one non-view oracle function open to anyone: all it writes is a transient cache of the
    public feed answers it reads, gone when the transaction ends. No SSTORE runs (the feeds it
    calls are STATICCALLs, so any would be the oracle's), and a feed update after the attacker's
    call is what the next quote sees. (The trace is the direct witness: since the oracle reads its
    sequencer setting, a slot never written here, the storage root anvil 1.7.1 reports moves after
    this call although no SSTORE runs.)"""
    price = oracle.quote(weth, usdc, WETH, 3_600)

    receipt = oracle.quoteCached(weth, usdc, WETH, 3_600, sender=attacker)

    trace = oracle.provider.web3.provider.make_request(
        "debug_traceTransaction", [receipt.txn_hash, {"disableStorage": True}]
    )
    ops = {step["op"] for step in trace["result"]["structLogs"]}
    assert "TSTORE" in ops and "SSTORE" not in ops
    assert oracle.quoteCached.call(weth, usdc, WETH, 3_600) == price
    system.feeds["WETH"].setAnswer(2_000 * 10**8, sender=attacker)  # WETH from $3,000 to $2,000
    assert oracle.quoteCached.call(weth, usdc, WETH, 3_600) == price * 2 // 3 == 2_000 * 10**6


def test_factory_abi__no_function_takes_a_vault_or_token_amount(project):
    for e in project.VaultFactory.contract_type.abi:
        if e.type != "function" or e.stateMutability in ("view", "pure"):
            continue
        names = {i.name for i in e.inputs}
        assert not names & {"vault", "token", "amount", "to", "data"}, e.name


# ----------------------------------------------------------------------------- initialisation


def test_initialize__clone_called_again_by_factory__reverts_already_initialized(
    vault_under_attack, watch, as_factory, init_params
):
    with blocked(vault_under_attack.AlreadyInitialized, watch):
        vault_under_attack.initialize(init_params, sender=as_factory)


def test_initialize__clone_called_by_attacker__reverts_not_factory(
    vault_under_attack, watch, attacker, init_params
):
    with blocked(vault_under_attack.NotFactory, watch, caller=attacker):
        vault_under_attack.initialize(init_params, sender=attacker)


def test_initialize__implementation_called_by_factory__reverts_already_initialized(
    project, factory, as_factory, init_params
):
    implementation = project.CopyVault.at(factory.vaultImplementation())
    with blocked(implementation.AlreadyInitialized, Watch([implementation], [])):
        implementation.initialize(init_params, sender=as_factory)


def test_initialize__implementation_called_by_attacker__reverts_not_factory(
    project, factory, attacker, init_params
):
    implementation = project.CopyVault.at(factory.vaultImplementation())
    with blocked(implementation.NotFactory, Watch([implementation], []), caller=attacker):
        implementation.initialize(init_params, sender=attacker)


# --------------------------------------------------------------------- the oracle trust assumption


@pytest.fixture
def sandwich(project, deployer, admin, oracle, weth, usdc, weth_usdc_pair, venue, attacker):
    """A compromised feed admin: sets WETH's feed to $300 (a tenth of the truth), then dumps
    1,000 WETH into the real pool so that a vault selling WETH there gets about a quarter of the
    true price."""

    def _run():
        lying_feed = deployer.deploy(project.MockAggregator, 8, 300 * 10**8)
        oracle.setFeed(weth, lying_feed, sender=admin)
        dump = 1_000 * WETH
        out = venue.quote(weth, usdc, dump)
        weth.mint(weth_usdc_pair, dump, sender=attacker)
        first = weth_usdc_pair.token0() == weth.address
        weth_usdc_pair.swap(
            0 if first else out, out if first else 0, attacker, b"", sender=attacker
        )

    return _run


def test_mirror__feed_admin_installs_lying_feed__loosens_existing_vaults_bounds_trust_assumption(
    vault_under_attack, sandwich, make_intent, sign_intent, relayer
):
    # Documents docs/protocol.md §1.4's trust assumption, the one way around invariant 6: whoever
    # holds FEED_ADMIN_ROLE moves every vault's price bound, and with any live intent that signs no
    # limit price (minPrice 0) can sandwich the vaults. Hence the timelock on feed changes.
    sandwich()
    intent, sig = sign_intent(make_intent(min_price=0))
    receipt = vault_under_attack.mirror(intent, sig, sender=relayer)
    event = receipt.decode_logs(vault_under_attack.Mirrored)[0]
    assert event.oracleOut == 300 * 10**6
    assert event.amountOut < 3_000 * 10**6 * 30 // 100  # sold at under 30 % of the true price


def test_mirror__owners_pinned_their_own_oracle__lying_platform_feed_cannot_loosen_bounds(
    project,
    vault_under_attack,
    watch,
    system,
    follower,
    signers,
    execute_config,
    sandwich,
    make_intent,
    sign_intent,
    relayer,
    weth,
    usdc,
):
    # The mitigation owners hold: an oracle of their own (set by threshold) ignores platform feeds.
    own = follower.deploy(project.PriceOracle, follower)
    own.setFeed(weth, system.feeds["WETH"], sender=follower)
    own.setFeed(usdc, system.feeds["USDC"], sender=follower)
    execute_config(vault_under_attack, signers, vault_under_attack.setOracle.encode_input(own))
    sandwich()

    intent, sig = sign_intent(make_intent(min_price=0))
    with blocked(
        vault_under_attack.InsufficientOutput, watch.also(intents=[intent]), minimum=2_970 * 10**6
    ):
        vault_under_attack.mirror(intent, sig, sender=relayer)
