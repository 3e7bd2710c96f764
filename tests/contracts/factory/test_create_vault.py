"""VaultFactory.createVault / predictVault: clones at CREATE2 addresses bound to their creator
(docs/protocol.md §1.4).
"""

from __future__ import annotations

import pytest

from tests.utils.reverts import reverts

from .conftest import STRICT_POLICY

EIP1167_PREFIX = bytes.fromhex("363d3d373d3d3d363d73")
EIP1167_SUFFIX = bytes.fromhex("5af43d82803e903d91602b57fd5bf3")


def test_create_vault__fresh_parameters__emits_vault_created_with_every_field(
    factory, vault_args, create, follower, owners, leader, oracle
):
    args = vault_args()

    vault, receipt = create(args, follower)

    event = receipt.decode_logs(factory.VaultCreated)[0]
    assert event.vault == vault.address
    assert event.creator == follower.address
    assert event.leader == leader.address
    assert list(event.owners) == [o.address for o in owners[:3]]
    assert event.threshold == 2
    assert event.oracle == oracle.address
    assert event.salt == b"\x07" * 32


def test_create_vault__fresh_parameters__records_the_vault(
    factory, vault_args, create, follower, attacker
):
    count = factory.vaultCount()

    vault, _ = create(vault_args(), follower)

    assert factory.vaultCount() == count + 1
    assert factory.vaultAt(count) == vault.address
    assert factory.isVault(vault)
    assert not factory.isVault(attacker)


def test_create_vault__fresh_parameters__is_an_eip1167_clone_of_the_implementation(
    factory, vault_args, create, follower, chain
):
    vault, _ = create(vault_args(), follower)
    implementation = bytes.fromhex(factory.vaultImplementation().removeprefix("0x"))
    code = bytes(chain.provider.web3.eth.get_code(vault.address))
    assert code == EIP1167_PREFIX + implementation + EIP1167_SUFFIX


@pytest.mark.parametrize("accept_guardian", [True, False])
def test_create_vault__fresh_parameters__vault_state_matches_them(
    factory,
    registry,
    system,
    vault_args,
    create,
    follower,
    owners,
    leader,
    attacker,
    accept_guardian,
):
    vault, _ = create(vault_args(accept_guardian=accept_guardian), follower)

    assert list(vault.getOwners()) == [o.address for o in owners[:3]]
    assert all(vault.isOwner(o) for o in owners[:3]) and not vault.isOwner(owners[3])
    assert vault.threshold() == 2
    assert vault.leader() == leader.address
    assert tuple(vault.policy()) == STRICT_POLICY
    assert vault.oracle() == factory.defaultOracle() == system.oracle.address
    assert vault.isAssetAllowed(system.weth) and vault.isAssetAllowed(system.usdc)
    assert not vault.isAssetAllowed(attacker)
    assert vault.isVenueAllowed(system.venue) and not vault.isVenueAllowed(attacker)
    assert not vault.isVenueAllowed(system.weth)  # asset and venue permissions are separate bits
    assert vault.guardianAccepted() is accept_guardian
    assert vault.copying() is True
    assert vault.paused() is False
    # `vault.nonce` would be Ape's account nonce of the address: call the view by name.
    assert vault.call_view_method("nonce") == 0
    assert vault.tradesToday() == 0
    assert vault.factory() == factory.address and vault.registry() == registry.address


def test_create_vault__created__cannot_be_initialised_again(
    factory, vault_args, create, follower, attacker, project
):
    vault, _ = create(vault_args(), follower)
    params = (
        [attacker.address],
        1,
        attacker.address,
        STRICT_POLICY,
        attacker.address,
        [],
        [],
        False,
    )
    with reverts(vault.NotFactory, caller=attacker):
        vault.initialize(params, sender=attacker)
    assert vault.leader() != attacker.address


# ----------------------------------------------------------------------------- addresses


def test_predict_vault__by_the_creator__equals_the_created_address(
    factory, vault_args, create, follower
):
    args = vault_args()
    predicted = factory.predictVault(*args, sender=follower)

    vault, _ = create(args, follower)

    assert vault.address == predicted


def test_predict_vault__same_parameters_other_creator__gives_another_address(
    factory, vault_args, follower, attacker
):
    args = vault_args()
    assert factory.predictVault(*args, sender=attacker) != factory.predictVault(
        *args, sender=follower
    )


def test_create_vault__copied_parameters_by_another_creator__cannot_squat_the_address(
    factory, vault_args, create, follower, attacker
):
    args = vault_args()
    predicted = factory.predictVault(*args, sender=follower)

    squatter, _ = create(args, attacker)
    vault, _ = create(args, follower)

    assert squatter.address != predicted
    assert vault.address == predicted


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(dict(salt=b"\x08" * 32), id="salt"),
        pytest.param(dict(threshold=1), id="threshold"),
        pytest.param(dict(accept_guardian=False), id="guardian"),
        pytest.param(dict(policy=(2_500, 50, 600, 3, 201)), id="policy"),
        pytest.param(dict(oracle="0x" + "11" * 20), id="oracle"),
    ],
)
def test_predict_vault__any_parameter_changed__gives_another_address(
    factory, vault_args, follower, change
):
    base = factory.predictVault(*vault_args(), sender=follower)
    assert factory.predictVault(*vault_args(**change), sender=follower) != base


def test_create_vault__same_creator_parameters_and_salt_twice__reverts_failed_deployment(
    factory, vault_args, create, follower
):
    args = vault_args()
    create(args, follower)
    count = factory.vaultCount()

    with reverts(factory.FailedDeployment):
        factory.createVault(*args, sender=follower)

    assert factory.vaultCount() == count


def test_create_vault__invalid_parameters__reverts_with_the_vaults_error_and_records_nothing(
    factory, project, vault_args, follower, owners
):
    count = factory.vaultCount()
    args = vault_args(threshold=4)
    predicted = factory.predictVault(*args, sender=follower)

    with reverts(project.CopyVault.InvalidThreshold, threshold=4, owners=3):
        factory.createVault(*args, sender=follower)

    assert factory.vaultCount() == count
    assert not factory.isVault(predicted)


def test_create_vault__default_oracle_swapped_in_front__reverts_oracle_mismatch_creates_nothing(
    factory, project, vault_args, follower, admin, oracle, deployer
):
    """Audit finding 2: the creator states the oracle it expects (it read the default when it
    signed the transaction); the oracle admin swaps the default for a lying oracle just before.
    Before the fix createVault took no oracle and built the vault on the lying one (which let a
    dumped pool pass the vault's bounds); now the creation reverts and nothing is created."""
    args = vault_args()  # expects the default read now: the platform oracle
    predicted = factory.predictVault(*args, sender=follower)
    lying = deployer.deploy(project.PriceOracle, admin)
    count = factory.vaultCount()
    factory.setDefaultOracle(lying, sender=admin)  # lands first

    with reverts(factory.OracleMismatch, expected=oracle.address, current=lying.address):
        factory.createVault(*args, sender=follower)

    assert factory.vaultCount() == count
    assert not factory.isVault(predicted)
