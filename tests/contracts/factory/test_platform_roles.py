"""VaultFactory platform settings: each setter works for its role only, and no role reaches into
vaults.
"""

from __future__ import annotations

import pytest

from tests.utils.reverts import reverts

# setter -> (role, event, view): each takes one address; setVenueAllowed also takes `True`.
SETTERS = {
    "setVenueAllowed": ("VENUE_ADMIN_ROLE", "GlobalVenueSet", "isVenueAllowed"),
    "setDefaultOracle": ("ORACLE_ADMIN_ROLE", "DefaultOracleSet", "defaultOracle"),
    "setGuardian": ("GUARDIAN_ADMIN_ROLE", "GuardianSet", "guardian"),
    "setSanctionsList": ("COMPLIANCE_ROLE", "SanctionsListSet", "sanctionsList"),
}
ZERO_ADDRESS = "0x" + "00" * 20


@pytest.fixture(scope="session")
def new_address(accounts):
    """Stands in for a new venue, oracle, guardian or sanctions list (the setters only store it)."""
    return accounts[14].address


def _set(factory, setter, address, sender):
    args = (address, True) if setter == "setVenueAllowed" else (address,)
    return getattr(factory, setter)(*args, sender=sender)


def _current(factory, setter, address):
    view = getattr(factory, SETTERS[setter][2])
    return view(address) if setter == "setVenueAllowed" else view()


def _expected(setter, address):
    return True if setter == "setVenueAllowed" else address


@pytest.mark.parametrize("setter", SETTERS)
def test_platform_setter__by_admin__updates_and_emits(factory, admin, new_address, setter):
    assert _current(factory, setter, new_address) != _expected(setter, new_address)

    receipt = _set(factory, setter, new_address, admin)

    event = receipt.decode_logs(getattr(factory, SETTERS[setter][1]))[0]
    assert list(event.event_arguments.values())[0] == new_address  # venue/oracle/guardian/list
    if setter == "setVenueAllowed":
        assert event.allowed == 1  # Ape decodes this event's bool as an int
    assert _current(factory, setter, new_address) == _expected(setter, new_address)


@pytest.mark.parametrize("setter", SETTERS)
def test_platform_setter__holder_of_its_role_only__may_call_it_and_no_other(
    factory, admin, role_holder, new_address, setter
):
    role = getattr(factory, SETTERS[setter][0])()
    factory.grantRole(role, role_holder, sender=admin)

    _set(factory, setter, new_address, role_holder)
    assert _current(factory, setter, new_address) == _expected(setter, new_address)

    for other, (other_role, _, _) in SETTERS.items():
        if other == setter:
            continue
        with reverts(
            factory.AccessControlUnauthorizedAccount,
            account=role_holder,
            neededRole=getattr(factory, other_role)(),
        ):
            _set(factory, other, new_address, role_holder)


@pytest.mark.parametrize("setter", SETTERS)
def test_platform_setter__by_stranger__reverts_unauthorized_and_changes_nothing(
    factory, attacker, new_address, setter
):
    before = _current(factory, setter, new_address)
    role = getattr(factory, SETTERS[setter][0])()
    with reverts(factory.AccessControlUnauthorizedAccount, account=attacker, neededRole=role):
        _set(factory, setter, new_address, attacker)
    assert _current(factory, setter, new_address) == before


@pytest.mark.parametrize("setter", ["setVenueAllowed", "setDefaultOracle"])
def test_platform_setter__zero_address__reverts_zero_address(factory, admin, setter):
    with reverts(factory.ZeroAddress):
        _set(factory, setter, ZERO_ADDRESS, admin)


def test_set_venue_allowed__false__disallows_again(factory, admin, venue):
    assert factory.isVenueAllowed(venue)
    receipt = factory.setVenueAllowed(venue, False, sender=admin)
    event = receipt.decode_logs(factory.GlobalVenueSet)[0]
    assert (event.venue, event.allowed) == (venue.address, False)
    assert not factory.isVenueAllowed(venue)


def test_set_default_oracle__existing_vault__keeps_its_oracle(
    factory, admin, oracle, new_address, create_vault
):
    existing = create_vault()

    factory.setDefaultOracle(new_address, sender=admin)

    assert existing.oracle() == oracle.address
    assert create_vault().oracle() == new_address


# ----------------------------------------------------------------------------- fixed for good


def test_factory_abi__has_no_setter_for_router_or_implementation(factory):
    """The state-changing functions are exactly these: none replaces the router or the vault
    code.
    """
    mutating = {m.name for m in factory.contract_type.mutable_methods}
    assert mutating == {
        "createVault",
        "setVenueAllowed",
        "setDefaultOracle",
        "setGuardian",
        "setSanctionsList",
        "grantRole",
        "revokeRole",
        "renounceRole",
    }


def test_factory_build__embeds_the_current_router_and_vault_code(project):
    """The factory deploys the router and the vault implementation with `new`, so its bytecode
    embeds theirs. Ape's incremental compile can rebuild CopyRouter.sol or CopyVault.sol without
    rebuilding VaultFactory.sol; every test would then run the old router or vault. Run
    `ape compile --force` if this fails.
    """
    factory_code = project.VaultFactory.contract_type.deployment_bytecode.bytecode
    for name in ("CopyRouter", "CopyVault"):
        code = getattr(project, name).contract_type.deployment_bytecode.bytecode
        assert code.removeprefix("0x") in factory_code, f"stale build: old {name} in VaultFactory"


def test_router_and_implementation__are_bound_to_this_factory_and_registry(
    factory, registry, router, project
):
    implementation = project.CopyVault.at(factory.vaultImplementation())
    assert factory.router() == router.address
    assert router.factory() == factory.address and router.registry() == registry.address
    assert implementation.factory() == factory.address
    assert implementation.registry() == registry.address
    assert implementation.router() == router.address
    assert factory.registry() == registry.address


def test_vault_implementation__cannot_be_initialised_even_by_the_factory_path(
    factory, project, attacker
):
    implementation = project.CopyVault.at(factory.vaultImplementation())
    with reverts(implementation.NotFactory, caller=attacker):
        implementation.initialize(
            (
                [attacker.address],
                1,
                attacker.address,
                (1, 0, 1, 1, 0),
                attacker.address,
                [],
                [],
                False,
            ),
            sender=attacker,
        )
    assert list(implementation.getOwners()) == []


# ----------------------------------------------------------------------------- no reach into vaults


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda v, a: v.setLeader(a, sender=a), id="setLeader"),
        pytest.param(
            lambda v, a: v.setPolicy((10_000, 9_999, 2**32 - 1, 1, 0), sender=a), id="setPolicy"
        ),
        pytest.param(lambda v, a: v.addOwner(a, sender=a), id="addOwner"),
        pytest.param(lambda v, a: v.setThreshold(1, sender=a), id="setThreshold"),
        pytest.param(lambda v, a: v.setOracle(a, sender=a), id="setOracle"),
        pytest.param(lambda v, a: v.setAssetAllowed(a, True, sender=a), id="setAssetAllowed"),
    ],
)
def test_platform_admin__vault_configuration__reverts_only_self(funded_vault, admin, call):
    leader_before, owners_before = funded_vault.leader(), list(funded_vault.getOwners())
    with reverts(funded_vault.OnlySelf, caller=admin):
        call(funded_vault, admin)
    assert (funded_vault.leader(), list(funded_vault.getOwners())) == (leader_before, owners_before)


def test_platform_admin__withdraw_with_own_signature__reverts_signer_not_owner(
    funded_vault, admin, weth, sign_withdrawal, chain
):
    balance = weth.balanceOf(funded_vault)
    deadline = chain.pending_timestamp + 3_600
    nonce = funded_vault.call_view_method("nonce")
    signers, sigs = sign_withdrawal(
        funded_vault, [admin], weth, balance, admin, deadline, nonce=nonce
    )
    # Two copies meet the 2-of-3 count, so what refuses them is the owner check on the first.
    with reverts(funded_vault.SignerNotOwner, signer=admin):
        funded_vault.withdraw(weth, balance, admin, deadline, signers * 2, sigs * 2, sender=admin)
    assert weth.balanceOf(funded_vault) == balance
