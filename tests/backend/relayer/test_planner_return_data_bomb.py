"""The relayer's planner against the real router (audit finding 1): vaults whose owners chose an
oracle that reverts with 208 kB no longer make every batch holding them run out of gas. The router
skips them within their fixed call gas, so the planner keeps the intent in one batch, under the
budget, instead of halving it and losing the others' batch price; the simulation names the bombed
vaults among the router's skips."""

from __future__ import annotations

from backend.chain.abi import ContractAbi
from backend.chain.artifacts import load as load_artifacts
from backend.chain.tx import wait_for_receipt
from backend.relayer.planner import plan_batches
from backend.relayer.simulate import MirrorSimulator
from tests.backend.relayer.conftest import WETH

# PUSH3 0x033000 PUSH1 0 REVERT: reverts with 208 kB of zeros whatever it is asked (as audited).
BOMB_RUNTIME = bytes.fromhex("62033000" + "6000" + "fd")
BOMBED, HONEST = 14, 2
BUDGET = 2**24


def _deploy_runtime(chain, runtime: bytes) -> str:
    """Deploy `runtime` as a contract's code (copy it to memory, return it)."""
    initcode = bytes.fromhex(f"60{len(runtime):02x}80600b6000396000f3") + runtime
    tx_hash = chain.client.request(
        "eth_sendTransaction", [{"from": chain.deployer.address, "data": "0x" + initcode.hex()}]
    )
    # Mined at once by anvil, but its receipt can lag the answer on a busy machine: wait for it.
    return wait_for_receipt(chain.client, tx_hash)["contractAddress"]


def test_plan__vaults_whose_oracle_reverts_with_huge_data__skipped_in_one_batch_not_split(
    anvil_chain,
):
    chain, a = anvil_chain, anvil_chain.actions
    owner = chain.owners[0]
    bomb = _deploy_runtime(chain, BOMB_RUNTIME)
    vaults = []
    for salt in range(1, BOMBED + HONEST + 1):
        vault = a.create_vault([owner], leader=chain.leader.address, salt=salt)
        a.deposit(vault, a.token("WETH"), WETH, owner)
        vaults.append(vault)
    for vault in vaults[:BOMBED]:
        a.execute_config(vault, a.config_call("setOracle", bomb), [owner], relayer=chain.relayer)
    intent, signature = a.intent(chain.leader, nonce=0)
    artifacts = load_artifacts()
    simulator = MirrorSimulator(
        chain.client,
        router=chain.deployment.router,
        router_abi=ContractAbi(artifacts.get("CopyRouter")),
        sender=chain.relayer.address,
        error_names=artifacts.error_names(),
    )

    batches, left_out = plan_batches(
        vaults,
        lambda chunk, gas: simulator.simulate(intent, signature, chunk, gas=gas),
        max_batch=BOMBED + HONEST,
        budget=BUDGET,
    )

    assert left_out == []
    (batch,) = batches
    assert batch.vaults == vaults
    assert batch.gas_limit <= BUDGET
    assert batch.simulation.mirrored == HONEST
