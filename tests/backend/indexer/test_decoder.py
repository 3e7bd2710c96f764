"""The fast decoder against web3's own event decoding, on every log of the scenario."""

from __future__ import annotations

from typing import Any

from web3 import Web3

from backend.chain.artifacts import load
from backend.indexer.decoder import JSON_SAFE_BITS, KIND_CONTRACTS, LogDecoder
from tests.backend.helpers import run_scenario


def _json_form(param: dict[str, Any], value: Any) -> Any:
    """web3's decoded value in the decoder's documented JSON form."""
    kind = param["type"]
    if kind.endswith("]"):
        inner = dict(param, type=kind[: kind.rindex("[")])
        return [_json_form(inner, v) for v in value]
    if kind == "tuple":
        return {c["name"]: _json_form(c, value[c["name"]]) for c in param["components"]}
    if kind == "address":
        return value.lower()
    if kind.startswith("bytes"):
        return "0x" + bytes(value).hex()
    if kind.startswith(("uint", "int")):
        bits = int(kind.lstrip("uint") or 256)
        return value if bits <= JSON_SAFE_BITS else str(value)
    return value


def test_decoder__agrees_with_web3_on_every_scenario_log(anvil_chain):
    run_scenario(anvil_chain)
    artifacts = load()
    decoder = LogDecoder(artifacts)
    d = anvil_chain.deployment
    kinds = {
        d.factory.lower(): "factory",
        d.registry.lower(): "registry",
        d.router.lower(): "router",
        d.oracle.lower(): "oracle",
    }
    w3 = Web3()
    contracts = {
        kind: w3.eth.contract(abi=artifacts.get(name).abi) for kind, name in KIND_CONTRACTS.items()
    }
    raws = anvil_chain.client.get_logs(d.start_block, anvil_chain.head())
    vault_topic = next(t for t, e in decoder.by_kind["factory"].items() if e.name == "VaultCreated")
    for raw in raws:
        if raw["topics"][0] == vault_topic:
            kinds["0x" + raw["topics"][1][-40:]] = "vault"
    checked = set()
    for raw in raws:
        kind = kinds.get(raw["address"].lower())
        if kind is None:
            continue  # tokens, Uniswap: not followed
        ours = decoder.decode(raw, kind)
        event = decoder.by_kind[kind][raw["topics"][0]]
        abi_event = next(e for e in contracts[kind].events if e.event_name == event.name)
        theirs = abi_event().process_log(
            {
                "address": Web3.to_checksum_address(raw["address"]),
                "topics": [bytes.fromhex(t[2:]) for t in raw["topics"]],
                "data": bytes.fromhex(raw["data"][2:]),
                "blockNumber": int(raw["blockNumber"], 16),
                "transactionHash": bytes.fromhex(raw["transactionHash"][2:]),
                "transactionIndex": int(raw["transactionIndex"], 16),
                "blockHash": bytes.fromhex(raw["blockHash"][2:]),
                "logIndex": int(raw["logIndex"], 16),
            }
        )
        inputs = {p["name"]: p for p in abi_event.abi["inputs"]}
        expected = {name: _json_form(inputs[name], value) for name, value in theirs["args"].items()}
        assert ours.name == event.name
        assert ours.args == expected, event.name
        assert list(ours.args) == list(inputs)  # the ABI's argument order
        checked.add(event.name)
    assert {
        "VaultCreated",
        "PolicyChanged",
        "ConfigExecuted",
        "Mirrored",
        "MirrorSkipped",
        "LeaderRegistered",
        "NoncesInvalidated",
        "FeedSet",
    } <= checked


def test_decoder__unknown_topic_is_kept_raw():
    decoder = LogDecoder(load())
    raw = {
        "address": "0x" + "11" * 20,
        "topics": ["0x" + "ab" * 32],
        "data": "0x1234",
        "blockNumber": "0x5",
        "blockHash": "0x" + "cd" * 32,
        "transactionHash": "0x" + "ef" * 32,
        "transactionIndex": "0x0",
        "logIndex": "0x2",
    }
    log = decoder.decode(raw, "vault")
    assert log.name is None
    assert log.args == {"topics": ["0x" + "ab" * 32], "data": "0x1234"}
    assert log.block_timestamp is None


def test_decoder__reason_names_come_from_every_compiled_abi():
    decoder = LogDecoder(load())
    from eth_utils import function_signature_to_4byte_selector as sel

    def name(signature: str) -> str:
        return decoder.reason_name("0x" + sel(signature).hex())

    assert name("VaultPaused()") == "VaultPaused()"
    # Raised by the registry or the oracle inside a vault's mirror: still named.
    assert name("NonceCancelled(address,uint256)") == "NonceCancelled(address,uint256)"
    assert name("StaleOraclePrice(address,uint256,uint256)") == (
        "StaleOraclePrice(address,uint256,uint256)"
    )
    assert name("Error(string)") == "Error(string)"
    assert decoder.reason_name("0x00000000").startswith("empty revert")
    assert decoder.reason_name("0xdeadbeef") == "unknown error 0xdeadbeef"
