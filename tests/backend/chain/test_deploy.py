"""backend/chain/deploy.py, the one deploy path: the deployed system, idempotent re-runs, a missing
step completed, the single-key admin refused off local chains, the admin Safe's Transaction Builder
batch (executed by a real Safe 1.4.1), and the code check."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_abi import encode
from eth_utils import keccak, to_checksum_address

from backend.chain import deploy as web3_deploy
from backend.chain import npm_artifacts
from backend.chain.abi import ContractAbi
from backend.chain.actions import Actions, Key
from backend.chain.artifacts import load as load_artifacts
from backend.chain.client import ChainClient
from backend.chain.deploy import Deployment, deploy_system, npm_abi
from backend.chain.deploy_run import run_deploy, safe_batch_file
from backend.chain.node import AnvilNode, anvil, start_anvil
from backend.chain.safe_tx_builder import checksum
from backend.chain.tx import UnlockedSender
from backend.exceptions import DeploymentError
from tests.utils.safe import deploy_safe

REPO_ROOT = Path(__file__).resolve().parents[3]
# A chain id that is not a development chain's: anvil run as "a real network".
TESTNET_ID = 11_155_111
TESTNET_FILE = """
networks:
  11155111:
    name: testnet (anvil with a public chain id)
    local: false
    test_assets: true
    venues:
      - {name: UniswapV2Venue, kind: uniswap_v2, factory: test-assets}
"""
ZERO = "0x" + "00" * 20


def test_deploy__the_system_is_wired(anvil_chain):
    a, d = anvil_chain.actions, anvil_chain.deployment
    factory = a.factory_abi
    assert a.view(factory, d.factory, "registry").lower() == d.registry.lower()
    assert a.view(factory, d.factory, "router").lower() == d.router.lower()
    assert a.view(factory, d.factory, "defaultOracle").lower() == d.oracle.lower()
    assert a.view(factory, d.factory, "isVenueAllowed", d.contracts["UniswapV2Venue"])
    pair = d.pairs["WETH/USDC"]
    weth_in_pair = a.view(a.token_abi, d.tokens["WETH"].address, "balanceOf", pair)
    usdc_in_pair = a.view(a.token_abi, d.tokens["USDC"].address, "balanceOf", pair)
    assert (weth_in_pair, usdc_in_pair) == (web3_deploy.POOL_WETH, web3_deploy.POOL_USDC)
    assert d.start_block == 1


def test_deploy__json_round_trip(anvil_chain, tmp_path):
    path = tmp_path / "deployment.json"
    anvil_chain.deployment.save(path)
    assert Deployment.load(path) == anvil_chain.deployment
    data = json.loads(path.read_text())
    assert data["chain_id"] == 31_337 and data["contracts"]["VaultFactory"]


def test_deploy__admin_holds_every_role_from_construction__deployer_none():
    with anvil() as node:
        client = ChainClient(node.url)
        deployer, admin = Key.anvil(0), Key.anvil(1)
        d = deploy_system(
            client,
            UnlockedSender(client, deployer.address),
            admin=admin.address,
            admin_sender=UnlockedSender(client, admin.address),
        )
        a = Actions(client, d)
        oracle = ContractAbi(a.artifacts.get("PriceOracle"))
        for role in (b"\0" * 32, keccak(text="VENUE_ADMIN_ROLE")):
            assert a.view(a.factory_abi, d.factory, "hasRole", role, admin.address)
            assert not a.view(a.factory_abi, d.factory, "hasRole", role, deployer.address)
        assert not a.view(
            oracle, d.oracle, "hasRole", keccak(text="FEED_ADMIN_ROLE"), deployer.address
        )
        # The admin took the admin actions: feeds set, venue allowed.
        weth = d.tokens["WETH"]
        assert to_checksum_address(a.view(oracle, d.oracle, "feedOf", weth.address)[0]) == weth.feed
        assert a.view(a.factory_abi, d.factory, "isVenueAllowed", d.contracts["UniswapV2Venue"])
        assert d.admin == admin.address and d.deployer == deployer.address


def test_deployment__wrong_chain_or_missing_code_refused(anvil_chain, tmp_path):
    d = anvil_chain.deployment
    with pytest.raises(DeploymentError, match="is chain 31337"):
        Deployment(**{**d.__dict__, "chain_id": 1}).check_chain(anvil_chain.client)
    moved = {**d.contracts, "VaultFactory": "0x" + "12" * 20}
    with pytest.raises(DeploymentError, match="no contract at the VaultFactory"):
        Deployment(**{**d.__dict__, "contracts": moved}).check_chain(anvil_chain.client)
    with pytest.raises(DeploymentError, match="copyvault deploy"):
        Deployment.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text('{"format": 1}')
    with pytest.raises(DeploymentError, match="not a copyvault deployment"):
        Deployment.load(tmp_path / "bad.json")


# ----------------------------------------------------------------------------- runs on a testnet


@pytest.fixture(scope="module")
def testnet() -> Iterator[AnvilNode]:
    node = start_anvil(extra=["--chain-id", str(TESTNET_ID)])
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture
def testnet_client(testnet: AnvilNode) -> Iterator[ChainClient]:
    """The testnet, reverted to its start after each test."""
    client = ChainClient(testnet.url)
    snapshot = client.request("evm_snapshot")
    yield client
    client.request("evm_revert", [snapshot])


@pytest.fixture
def networks_file(tmp_path: Path) -> Path:
    path = tmp_path / "networks.yaml"
    path.write_text(TESTNET_FILE)
    return path


def _sender(client: ChainClient, index: int) -> UnlockedSender:
    return UnlockedSender(client, Key.anvil(index).address)


def _execute_batch(client: ChainClient, safe: str, owner: Key, batch: dict) -> None:
    """Each transaction of a Transaction Builder batch, encoded from its own contractMethod and
    contractInputsValues (as the app does) and executed by the Safe on its owner's approval."""
    for tx in batch["transactions"]:
        method = tx["contractMethod"]
        types = [p["type"] for p in method["inputs"]]
        values = [
            _typed(t, tx["contractInputsValues"][p["name"]])
            for t, p in zip(types, method["inputs"], strict=True)
        ]
        selector = keccak(text=f"{method['name']}({','.join(types)})")[:4]
        data = selector + encode(types, values)
        # A pre-validated signature: r = the owner, v = 1, valid when the owner sends the call.
        approval = bytes(12) + bytes.fromhex(owner.address[2:]) + bytes(32) + b"\x01"
        call = npm_abi("Safe").call_data(
            "execTransaction", tx["to"], int(tx["value"]), data, 0, 0, 0, 0, ZERO, ZERO, approval
        )
        _sender(client, 1).send(safe, call)


def _typed(kind: str, value: str):
    if kind == "bool":
        return value == "true"
    if kind.startswith("uint"):
        return int(value)
    return value


def _js_checksum(batch: dict) -> str:
    """The Transaction Builder's own checksum code (safe-react-apps apps/tx-builder/src/lib/
    checksum.ts), run by node over the batch file."""
    script = """
const { keccak256 } = require('ethereum-cryptography/keccak');
const replacer = (_, v) => (v === undefined ? null : v);
const ser = (j) => {
  if (Array.isArray(j)) return `[${j.map((e) => ser(e)).join(',')}]`;
  if (typeof j === 'object' && j !== null) {
    const keys = Object.keys(j).sort();
    let acc = `{${JSON.stringify(keys, replacer)}`;
    for (const k of keys) acc += `${ser(j[k])},`;
    return `${acc}}`;
  }
  return `${JSON.stringify(j, replacer)}`;
};
const batch = JSON.parse(require('fs').readFileSync(0, 'utf8'));
delete batch.meta.checksum;
const text = ser({ ...batch, meta: { ...batch.meta, name: null } });
process.stdout.write('0x' + Buffer.from(keccak256(Buffer.from(text, 'utf8'))).toString('hex'));
"""
    result = subprocess.run(
        ["node", "-e", script],
        input=json.dumps(batch),
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        check=True,
    )
    return result.stdout


def test_deploy__single_key_admin_on_public_chain_id__refused_before_any_transaction(
    testnet_client, networks_file, tmp_path
):
    head = testnet_client.block_number()
    with pytest.raises(DeploymentError, match="has no code on testnet .* a single key"):
        run_deploy(
            testnet_client,
            _sender(testnet_client, 0),
            out=tmp_path / "d.json",
            networks_file=networks_file,
        )
    with pytest.raises(DeploymentError, match="has no code"):
        run_deploy(
            testnet_client,
            _sender(testnet_client, 0),
            admin=Key.anvil(1).address,
            out=tmp_path / "d.json",
            networks_file=networks_file,
        )
    assert testnet_client.block_number() == head and not (tmp_path / "d.json").exists()


def test_deploy__single_key_admin_forced__deploys_and_takes_the_actions(
    testnet_client, networks_file, tmp_path
):
    report, _ = run_deploy(
        testnet_client,
        _sender(testnet_client, 0),
        out=tmp_path / "d.json",
        networks_file=networks_file,
        force=True,
    )
    assert report.pending == [] and report.steps[-1] == "admin actions"
    assert report.deployment.admin == Key.anvil(0).address


def test_deploy__safe_admin__batch_for_the_safe__executed__rerun_finds_nothing_to_do(
    testnet_client, networks_file, tmp_path
):
    owner = Key.anvil(1)
    safe = deploy_safe(testnet_client, Key.anvil(9), [owner], threshold=1)
    out = tmp_path / "deployments" / f"{TESTNET_ID}.json"
    report, path = run_deploy(
        testnet_client, _sender(testnet_client, 0), admin=safe, out=out, networks_file=networks_file
    )
    assert path == out and Deployment.load(out) == report.deployment
    assert report.steps == ["core contracts", "audit anchor", "test assets", "venue UniswapV2Venue"]

    batch = json.loads(safe_batch_file(out).read_text())
    d = report.deployment
    assert batch["version"] == "1.0" and batch["chainId"] == str(TESTNET_ID)
    assert batch["meta"]["createdFromSafeAddress"] == safe
    assert isinstance(batch["createdAt"], int)
    assert [(t["to"], t["contractMethod"]["name"]) for t in batch["transactions"]] == [
        (d.oracle, "setFeed"),
        (d.oracle, "setFeed"),
        (d.factory, "setVenueAllowed"),
    ]
    allow = batch["transactions"][2]
    assert allow["value"] == "0" and allow["data"] is None
    assert allow["contractInputsValues"] == {
        "venue": d.contracts["UniswapV2Venue"],
        "allowed": "true",
    }
    assert allow["contractMethod"]["inputs"] == [
        {"internalType": "address", "name": "venue", "type": "address"},
        {"internalType": "bool", "name": "allowed", "type": "bool"},
    ]
    assert batch["meta"]["checksum"] == checksum(batch) == _js_checksum(batch)

    _execute_batch(testnet_client, safe, owner, batch)
    head = testnet_client.block_number()
    again, _ = run_deploy(
        testnet_client, _sender(testnet_client, 0), out=out, networks_file=networks_file
    )
    assert again.steps == [] and again.pending == [] and again.deployment == d
    assert testnet_client.block_number() == head, "a re-run sends nothing"
    assert not safe_batch_file(out).exists()


def test_deploy__a_missing_step__only_that_step_is_done(testnet_client, networks_file, tmp_path):
    out = tmp_path / "d.json"
    first, _ = run_deploy(
        testnet_client, _sender(testnet_client, 0), out=out, networks_file=networks_file, force=True
    )
    data = json.loads(out.read_text())
    del data["contracts"]["UniswapV2Venue"]  # as if the run had stopped before the venue
    out.write_text(json.dumps(data))
    second, _ = run_deploy(
        testnet_client, _sender(testnet_client, 0), out=out, networks_file=networks_file
    )
    assert second.steps == ["venue UniswapV2Venue", "admin actions"]
    kept = {k: v for k, v in first.deployment.contracts.items() if k != "UniswapV2Venue"}
    assert {k: v for k, v in second.deployment.contracts.items() if k != "UniswapV2Venue"} == kept
    assert (
        second.deployment.contracts["UniswapV2Venue"]
        != first.deployment.contracts["UniswapV2Venue"]
    )


def test_deploy__code_differs_from_the_build__refused_naming_the_contract(
    testnet_client, networks_file, tmp_path
):
    out = tmp_path / "d.json"
    report, _ = run_deploy(
        testnet_client, _sender(testnet_client, 0), out=out, networks_file=networks_file, force=True
    )
    router = report.deployment.router
    code = bytearray(bytes.fromhex(testnet_client.request("eth_getCode", [router, "latest"])[2:]))
    code[10] ^= 0xFF
    testnet_client.request("anvil_setCode", [router, "0x" + code.hex()])
    with pytest.raises(
        DeploymentError, match=f"CopyRouter at {router}: differs from the build at byte 10"
    ):
        run_deploy(testnet_client, _sender(testnet_client, 0), out=out, networks_file=networks_file)
    # Another contract's code at the address: caught by its length.
    registry = testnet_client.request("eth_getCode", [report.deployment.registry, "latest"])
    testnet_client.request("anvil_setCode", [router, registry])
    with pytest.raises(DeploymentError, match="CopyRouter .* bytes of code, the build has"):
        run_deploy(testnet_client, _sender(testnet_client, 0), out=out, networks_file=networks_file)


def test_deploy__wrong_pair_init_code_hash__refused_before_the_venue(testnet_client, tmp_path):
    """A Uniswap V2 factory whose pairs the given hash does not derive (a fork's hash, here the
    Safe's creation code hash): refused, no adapter deployed."""
    networks = tmp_path / "networks.yaml"
    networks.write_text(TESTNET_FILE)
    out = tmp_path / "d.json"
    report, _ = run_deploy(
        testnet_client, _sender(testnet_client, 0), out=out, networks_file=networks, force=True
    )
    factory = report.deployment.contracts["UniswapV2Factory"]
    wrong_hash = keccak(npm_abi("Safe").contract.bytecode).hex()
    networks.write_text(
        TESTNET_FILE + f"      - {{name: OtherVenue, kind: uniswap_v2, factory: '{factory}', "
        f"pair_init_code_hash: '0x{wrong_hash}'}}\n"
    )
    with pytest.raises(DeploymentError, match="OtherVenue: pair_init_code_hash .* does not derive"):
        run_deploy(testnet_client, _sender(testnet_client, 0), out=out, networks_file=networks)
    assert "OtherVenue" not in Deployment.load(out).contracts


def test_deploy__network_not_in_the_file__error_names_the_file(tmp_path):
    with anvil(extra=["--chain-id", "424242"]) as node:
        client = ChainClient(node.url)
        with pytest.raises(DeploymentError, match="chain 424242 is not in .*networks.yaml"):
            run_deploy(client, _sender(client, 0), out=tmp_path / "d.json")


def test_networks_file__committed_data_is_well_formed():
    from backend.chain.networks import load_networks

    networks = load_networks()
    assert networks[31_337].local and networks[31_337].test_assets
    mainnet = networks[1]
    assert not mainnet.local and {t.symbol for t in mainnet.tokens} == {"WETH", "USDC"}
    assert [v.kind for v in mainnet.venues] == ["uniswap_v2"]
    # The documented mainnet pair hash is the npm pair's: the bytecode tests trade against is real.
    npm_pair_hash = "0x" + npm_artifacts.load("UniswapV2Pair").init_code_hash.hex()
    assert mainnet.venues[0].params["pair_init_code_hash"] == npm_pair_hash
    assert load_artifacts().names()  # the build the code check compares with is present
