"""Shared fixtures: actors named for their roles, one deployment, and a vault factory fixture.

Ape snapshots the chain around each fixture scope, so tests start from these deployments untouched.
"""

from __future__ import annotations

import itertools
import os

import argon2
import pytest

from backend.chain import eip712
from backend.config import ENV_FILE_VARIABLE
from backend.services import operators
from tests.utils import gas_report_calls
from tests.utils.deploy import DEFAULT_POLICY, deploy_system
from tests.utils.signing import intent_tuple, registry_domain, sign_approvals, vault_domain

# A developer's own .env must not change what the suite tests (nor leak into the servers it starts).
os.environ[ENV_FILE_VARIABLE] = ""
# `ape test --gas` must not turn a reverting view call into garbage output (see the module).
gas_report_calls.install()


def pytest_collection_finish(session):
    """Fail the run when two fixtures of one name have different scopes anywhere in the suite.

    Ape's chain isolation files each fixture a test uses under the scope of every fixture of that
    name in the session (`FixtureMap.from_test_item` in ape/pytest/fixtures.py reads
    `_arg2fixturedefs[name]`, not the definition that applies to the test). A module-scoped
    `system` in tests/web made the contract tests' session-scoped `system` count as module-scoped
    too: Ape rolled the chain back past its deployment, and 155 contract tests found their
    deployment gone whenever tests/web was collected in the same session."""
    scopes: dict[str, set[str]] = {}
    for name, definitions in session._fixturemanager._arg2fixturedefs.items():
        scopes[name] = {definition.scope for definition in definitions}
    clashes = {name: sorted(found) for name, found in scopes.items() if len(found) > 1}
    if clashes:
        raise pytest.UsageError(
            f"fixtures of one name with different scopes break Ape's isolation: {clashes}; "
            "rename one of each (tests/conftest.py says why)"
        )


DAY = 86_400
HOUR = 3_600
_salts = itertools.count(1)


@pytest.fixture(scope="session", autouse=True)
def _operator_passwords_at_test_cost():
    """Operator passwords hash with argon2id at its lowest cost in the test process. The role
    matrix alone hashes and verifies about 1,400 times, and the production profile (RFC 9106,
    64 MiB) takes 0.1-0.3 s a time on a 2-core machine: minutes of a CI run on cost, not on a rule.
    Every server and command-line process the tests start keeps the production profile, and
    tests/backend/cli/test_operator_cli.py checks that a stored hash carries its parameters."""
    cheap = argon2.Parameters(
        type=argon2.Type.ID, version=19, salt_len=16, hash_len=32, time_cost=1,
        memory_cost=1024, parallelism=1,
    )  # fmt: skip
    patch = pytest.MonkeyPatch()
    patch.setattr(operators, "_hasher", argon2.PasswordHasher.from_parameters(cheap))
    yield
    patch.undo()


@pytest.fixture(scope="session", autouse=True)
def _suite_chain_not_inherited():
    """toolchain/run_tests.py names the suite's anvil in APE_FOUNDRY_HOST for this process's Ape,
    which has connected by now; processes the tests start (ape run, copyvault) must start chains
    of their own rather than change this one under the tests' snapshots."""
    os.environ.pop("APE_FOUNDRY_HOST", None)


# ----------------------------------------------------------------------------- actors


@pytest.fixture(scope="session")
def deployer(accounts):
    return accounts[0]


@pytest.fixture(scope="session")
def admin(accounts):
    """Holds every platform role (in production: a Safe behind a timelock)."""
    return accounts[1]


@pytest.fixture(scope="session")
def leader(accounts):
    return accounts[2]


@pytest.fixture(scope="session")
def relayer(accounts):
    return accounts[3]


@pytest.fixture(scope="session")
def guardian(accounts):
    return accounts[4]


@pytest.fixture(scope="session")
def attacker(accounts):
    return accounts[5]


@pytest.fixture(scope="session")
def owners(accounts):
    """Five owner accounts (with keys, so they can both sign and send)."""
    return [accounts[i] for i in range(6, 11)]


@pytest.fixture(scope="session")
def follower(owners):
    return owners[0]


@pytest.fixture(scope="session")
def co_owner(owners):
    return owners[1]


# ----------------------------------------------------------------------------- deployment


@pytest.fixture(scope="session")
def system(project, deployer, admin, guardian):
    s = deploy_system(project, deployer, admin)
    s.factory.setGuardian(guardian, sender=admin)
    return s


@pytest.fixture(scope="session")
def registry(system):
    return system.registry


@pytest.fixture(scope="session")
def factory(system):
    return system.factory


@pytest.fixture(scope="session")
def router(system):
    return system.router


@pytest.fixture(scope="session")
def oracle(system):
    return system.oracle


@pytest.fixture(scope="session")
def venue(system):
    return system.venue


@pytest.fixture(scope="session")
def weth(system):
    return system.weth


@pytest.fixture(scope="session")
def usdc(system):
    return system.usdc


@pytest.fixture(scope="session")
def chain_id(chain):
    return chain.chain_id


@pytest.fixture(scope="session")
def create_vault(project, factory, system, owners, leader):
    """Create a vault: defaults to a 2-of-3 vault following `leader`, WETH and USDC allowed,
    the Uniswap venue allowed and the guardian accepted, expecting the factory's current default
    oracle (`oracle=` states another expectation)."""

    def _create(
        owners_=None,
        threshold=2,
        leader_=None,
        policy=DEFAULT_POLICY,
        assets=None,
        venues=None,
        accept_guardian=True,
        sender=None,
        salt=None,
        oracle=None,
    ):
        owner_list = owners_ if owners_ is not None else owners[:3]
        args = (
            [o.address for o in owner_list],
            threshold,
            (leader_ or leader).address if hasattr(leader_ or leader, "address") else leader_,
            policy,
            oracle if oracle is not None else factory.defaultOracle(),
            assets if assets is not None else [system.weth.address, system.usdc.address],
            venues if venues is not None else [system.venue.address],
            accept_guardian,
            salt if salt is not None else next(_salts).to_bytes(32, "big"),
        )
        receipt = factory.createVault(*args, sender=sender or owner_list[0])
        vault_address = receipt.decode_logs(factory.VaultCreated)[0].vault
        return project.CopyVault.at(vault_address)

    return _create


@pytest.fixture
def vault(create_vault):
    return create_vault()


@pytest.fixture
def funded_vault(vault, weth, usdc, deployer):
    """The default vault holding 10 WETH and 30,000 USDC."""
    fund(vault, weth, 10 * 10**18, deployer)
    fund(vault, usdc, 30_000 * 10**6, deployer)
    return vault


# ----------------------------------------------------------------------------- helpers


def fund(vault, token, amount: int, depositor) -> None:
    """Mint `amount` to `depositor` and deposit it into `vault`."""
    token.mint(depositor, amount, sender=depositor)
    token.approve(vault, amount, sender=depositor)
    vault.deposit(token, amount, sender=depositor)


@pytest.fixture
def sign_withdrawal(chain_id):
    """Approvals for `vault.withdraw` at the vault's current nonce (unless one is given)."""

    def _sign(vault, signers, token, amount, to, deadline, nonce=None, domain_chain_id=None):
        message = eip712.Withdrawal(
            token=str(token.address if hasattr(token, "address") else token),
            amount=amount,
            to=str(to.address if hasattr(to, "address") else to),
            nonce=vault.call_view_method("nonce") if nonce is None else nonce,
            deadline=deadline,
        )
        return sign_approvals(vault_domain(vault, domain_chain_id or chain_id), message, signers)

    return _sign


@pytest.fixture
def sign_config(chain_id):
    """Approvals for `vault.executeConfig(data, ...)` at the vault's current nonce."""

    def _sign(vault, signers, data: bytes, deadline, nonce=None):
        message = eip712.ConfigChange(
            data=data,
            nonce=vault.call_view_method("nonce") if nonce is None else nonce,
            deadline=deadline,
        )
        return sign_approvals(vault_domain(vault, chain_id), message, signers)

    return _sign


@pytest.fixture
def execute_config(sign_config, chain, relayer):
    """Run one configuration call through `executeConfig` with the given owners' approvals."""

    def _execute(vault, signers, data: bytes, sender=None):
        deadline = chain.pending_timestamp + HOUR
        addrs, sigs = sign_config(vault, signers, data, deadline)
        return vault.executeConfig(data, deadline, addrs, sigs, sender=sender or relayer)

    return _execute


@pytest.fixture
def make_intent(system, leader, chain):
    """A TradeIntent with sensible defaults: sell 10 % WETH for USDC through the Uniswap venue."""
    nonces = itertools.count(0)

    def _make(**overrides):
        fields = dict(
            leader=leader.address,
            venue=system.venue.address,
            token_in=system.weth.address,
            token_out=system.usdc.address,
            fraction_bps=1_000,
            min_price=0,
            nonce=next(nonces),
            deadline=chain.pending_timestamp + HOUR,
        )
        fields.update(overrides)
        return eip712.TradeIntent(**fields)

    return _make


@pytest.fixture
def sign_intent(registry, chain_id, leader):
    """(intent tuple, signature) signed by `signer` (the leader by default)."""

    def _sign(intent: eip712.TradeIntent, signer=None):
        from tests.utils.signing import key_of

        key = key_of(signer or leader)
        signature = eip712.sign(key.private_key, registry_domain(registry, chain_id), intent)
        return intent_tuple(intent), signature

    return _sign
