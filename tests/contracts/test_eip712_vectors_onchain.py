"""The contracts' digest views reproduce every EIP-712 test vector (docs/protocol.md §1).

The vectors (``tests/vectors/eip712.json``) name fixed verifying
contracts (0xaAaA… a registry, 0xbBbB… a vault) and chain ids 31337, 1 and 8453. The deployed
code is placed at those addresses with ``anvil_setCode`` (the registry's runtime code; for the
vault, the EIP-1167 clone proxy copied from a real clone, so it runs the real implementation with
``address(this)`` = 0xbBbB…), and ``anvil_setChainId`` switches ``block.chainid`` for the other
chains. The backend's Python digests are held to the same file in
tests/backend/test_eip712_vectors.py.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any

import pytest
from eth_utils import keccak

from backend.chain import eip712
from tests.utils.reverts import reverts
from tests.utils.signing import intent_tuple
from tests.utils.vectors import load_vectors

REGISTRY_AT = "0xaAaAaAaaAaAaAaaAaAAAAAAAAaaaAaAaAaaAaaAa"
VAULT_AT = "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB"
PUSH32 = b"\x7f"
EIP1167_PREFIX = bytes.fromhex("363d3d373d3d3d363d73")
EIP1167_SUFFIX = bytes.fromhex("5af43d82803e903d91602b57fd5bf3")


def _load_vectors() -> list[dict[str, Any]]:
    return load_vectors()


VECTORS = _load_vectors()
IDS = [f"{i}-{v['primaryType']}-chain{v['domain']['chainId']}" for i, v in enumerate(VECTORS)]
INTENT_VECTORS = [v for v in VECTORS if v["primaryType"] == "TradeIntent"]
INTENT_IDS = [i for i, v in zip(IDS, VECTORS, strict=True) if v["primaryType"] == "TradeIntent"]


def _bytes32(hex_str: str) -> bytes:
    return bytes.fromhex(hex_str.removeprefix("0x"))


def _message(vector: dict[str, Any]) -> eip712.Message:
    return eip712.MESSAGE_TYPES[vector["primaryType"]].from_json(vector["message"])


@pytest.fixture(params=VECTORS, ids=IDS)
def vector(request) -> dict[str, Any]:
    return request.param


@pytest.fixture
def placed(chain, project, registry, vault):
    """(registry, vault) running the deployed code at the vectors' verifying-contract addresses."""
    web3 = chain.provider.web3
    for target, source in ((REGISTRY_AT, registry.address), (VAULT_AT, vault.address)):
        code = bytes(web3.eth.get_code(source))
        chain.provider.make_request("anvil_setCode", [target, "0x" + code.hex()])
    return project.LeaderRegistry.at(REGISTRY_AT), project.CopyVault.at(VAULT_AT)


@contextmanager
def chain_id_set_to(chain, chain_id: int):
    """Run with block.chainid = `chain_id`, restoring the node's own id afterwards, whatever
    happens. Ape caches the chain id, so the node is asked directly.
    """
    provider = chain.provider
    original = int(provider.make_request("eth_chainId", []), 16)
    provider.make_request("anvil_setChainId", [chain_id])
    try:
        assert int(provider.make_request("eth_chainId", []), 16) == chain_id
        yield
    finally:
        provider.make_request("anvil_setChainId", [original])


def _onchain(placed, vector) -> tuple[bytes, bytes]:
    """(domainSeparator, digest) as the vector's verifying contract computes them."""
    registry, vault = placed
    message = _message(vector)
    if isinstance(message, eip712.TradeIntent):
        return registry.domainSeparator(), registry.intentDigest(intent_tuple(message))
    if isinstance(message, eip712.Withdrawal):
        return vault.domainSeparator(), vault.withdrawalDigest(*message.values())
    return vault.domainSeparator(), vault.configDigest(*message.values())


def test_vectors__name_the_placed_addresses_and_cover_every_type():
    assert {v["domain"]["verifyingContract"] for v in VECTORS} == {REGISTRY_AT, VAULT_AT}
    assert {v["primaryType"] for v in VECTORS} == set(eip712.MESSAGE_TYPES)
    assert {v["domain"]["chainId"] for v in VECTORS} == {31337, 1, 8453}


def test_placed_vault__is_an_eip1167_clone_of_the_vault_implementation(placed, chain, factory):
    code = bytes(chain.provider.web3.eth.get_code(VAULT_AT))
    implementation = bytes.fromhex(factory.vaultImplementation().removeprefix("0x"))
    assert code == EIP1167_PREFIX + implementation + EIP1167_SUFFIX


def test_onchain_domain_separator__matches_vector(placed, chain, vector):
    with chain_id_set_to(chain, vector["domain"]["chainId"]):
        domain_separator, _ = _onchain(placed, vector)
    assert domain_separator == _bytes32(vector["domainSeparator"])


def test_onchain_digest__matches_vector(placed, chain, vector):
    with chain_id_set_to(chain, vector["domain"]["chainId"]):
        _, digest = _onchain(placed, vector)
    assert digest == _bytes32(vector["digest"])


def test_onchain_struct_hash__is_the_vectors(placed, chain, vector):
    """The contracts expose no struct hash, but digest = keccak(0x1901 ‖ domainSeparator ‖
    structHash): with both outer values read on chain, only the vector's struct hash fits
    (keccak preimage).
    """
    with chain_id_set_to(chain, vector["domain"]["chainId"]):
        domain_separator, digest = _onchain(placed, vector)
    assert digest == keccak(b"\x19\x01" + domain_separator + _bytes32(vector["structHash"]))


def test_onchain_type_hash__is_the_constant_the_contract_hashes_with(
    chain, registry, factory, vector
):
    """The type hashes are private constants; the compiler inlines each as a PUSH32 in the
    runtime code of the contract that verifies that type (the registry for intents, the vault
    implementation for owner approvals). The vector's type hash is there, and is the keccak of
    the type string docs/protocol.md §1 gives.
    """
    verifier = (
        registry.address
        if vector["primaryType"] == "TradeIntent"
        else factory.vaultImplementation()
    )
    code = bytes(chain.provider.web3.eth.get_code(verifier))
    type_hash = _bytes32(vector["typeHash"])
    assert type_hash == keccak(text=vector["typeString"]) == _message(vector).TYPEHASH
    assert PUSH32 + type_hash in code


@pytest.mark.parametrize("vector", INTENT_VECTORS, ids=INTENT_IDS)
def test_vector_signature__verifies_on_chain_as_the_leaders(placed, chain, vector):
    registry, _ = placed
    message = _message(vector)
    assert message.leader == vector["signer"]  # the leader signed its own intent
    with chain_id_set_to(chain, vector["domain"]["chainId"]):
        digest = registry.verifyIntent(intent_tuple(message), _bytes32(vector["signature"]))
    assert digest == _bytes32(vector["digest"])


@pytest.mark.parametrize("vector", INTENT_VECTORS, ids=INTENT_IDS)
def test_vector_signature__on_another_chain__reverts_unauthorized_signer(placed, chain, vector):
    registry, _ = placed
    message = _message(vector)
    other_chain = 10 if vector["domain"]["chainId"] != 10 else 137
    with chain_id_set_to(chain, other_chain):
        with reverts(registry.UnauthorizedSigner, leader=message.leader):
            registry.verifyIntent(intent_tuple(message), _bytes32(vector["signature"]))


def test_chain_id__is_restored_after_the_switches(chain):
    assert int(chain.provider.make_request("eth_chainId", []), 16) == chain.chain_id == 31337
