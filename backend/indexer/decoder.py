"""Decoding raw logs of the followed contracts into JSON-ready rows.

The event ABIs come from the compiled artifacts (`backend.chain.artifacts`), one table per contract
kind (factory, registry, router, oracle, vault), so a topic is always read with the ABI of the
contract that emitted it. For speed, static arguments (addresses, integers, booleans, fixed bytes
and static tuples such as `Policy`) are sliced straight out of the 32-byte words; anything dynamic
(arrays, bytes, strings) goes through eth-abi.

JSON form of the values: addresses as lowercase 0x-hex; `uintN`/`intN` as JSON numbers when N <= 53
and as decimal strings above (JavaScript reads JSON numbers as doubles); `bool` as booleans;
`bytesN` and `bytes` as 0x-hex; strings as strings; tuples as objects keyed by component name;
arrays as lists. Indexed dynamic values (their topic is a hash) are the topic as 0x-hex.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final

from eth_abi import decode as abi_decode
from eth_utils import keccak

from backend.chain.artifacts import Artifacts, canonical_type, signature

# Contract kinds, and the compiled contract whose ABI decodes each.
KIND_CONTRACTS: Final = {
    "factory": "VaultFactory",
    "registry": "LeaderRegistry",
    "router": "CopyRouter",
    "oracle": "PriceOracle",
    "vault": "CopyVault",
}
# JSON numbers up to this many bits; wider integers are strings.
JSON_SAFE_BITS: Final = 53

Converter = Callable[[bytes], Any]


@dataclass(slots=True)
class DecodedLog:
    """One log, decoded, with everything the events table and the projector need."""

    block_number: int
    block_hash: str
    block_timestamp: int | None
    tx_hash: str
    tx_index: int
    log_index: int
    address: str
    contract: str
    name: str | None
    args: dict[str, Any]
    vault: str | None = None
    leader: str | None = None

    def row(self, chain_id: int) -> dict[str, Any]:
        return {
            "chain_id": chain_id,
            "block_number": self.block_number,
            "block_hash": self.block_hash,
            "block_timestamp": self.block_timestamp,
            "tx_hash": self.tx_hash,
            "tx_index": self.tx_index,
            "log_index": self.log_index,
            "address": self.address,
            "contract": self.contract,
            "name": self.name,
            "vault": self.vault,
            "leader": self.leader,
            "args": self.args,
        }

    @property
    def key(self) -> tuple[int, int]:
        return (self.block_number, self.log_index)


# ----------------------------------------------------------------------------- word converters


def _address(word: bytes) -> str:
    return "0x" + word[12:].hex()


def _bool(word: bytes) -> bool:
    return word[31] != 0


def _uint_json(word: bytes) -> int:
    return int.from_bytes(word, "big")


def _uint_str(word: bytes) -> str:
    return str(int.from_bytes(word, "big"))


def _int_json(word: bytes) -> int:
    return int.from_bytes(word, "big", signed=True)


def _int_str(word: bytes) -> str:
    return str(int.from_bytes(word, "big", signed=True))


def _fixed_bytes(size: int) -> Converter:
    return lambda word: "0x" + word[:size].hex()


def _word_hex(word: bytes) -> str:
    return "0x" + word.hex()


def _is_static(param: dict[str, Any]) -> bool:
    kind = param["type"]
    if kind.endswith("]") or kind in ("bytes", "string"):
        return False
    if kind == "tuple":
        return all(_is_static(c) for c in param["components"])
    return True


def _word_converter(kind: str) -> Converter:
    """How one static elementary type is read from its 32-byte word."""
    if kind == "address":
        return _address
    if kind == "bool":
        return _bool
    if kind.startswith("uint"):
        return _uint_json if int(kind[4:] or 256) <= JSON_SAFE_BITS else _uint_str
    if kind.startswith("int"):
        return _int_json if int(kind[3:] or 256) <= JSON_SAFE_BITS else _int_str
    if kind.startswith("bytes"):
        return _fixed_bytes(int(kind[5:]))
    raise ValueError(f"not a static elementary type: {kind}")


def _static_words(param: dict[str, Any]) -> int:
    if param["type"] == "tuple":
        return sum(_static_words(c) for c in param["components"])
    return 1


def _static_reader(param: dict[str, Any]) -> Callable[[bytes, int], Any]:
    """(data, offset) -> value, for a static parameter (elementary or a static tuple)."""
    if param["type"] == "tuple":
        parts = []
        offset = 0
        for component in param["components"]:
            parts.append((component["name"], offset, _static_reader(component)))
            offset += _static_words(component) * 32

        def read_tuple(data: bytes, at: int) -> dict[str, Any]:
            return {name: reader(data, at + rel) for name, rel, reader in parts}

        return read_tuple
    convert = _word_converter(param["type"])
    return lambda data, at: convert(data[at : at + 32])


def to_json_value(param: dict[str, Any], value: Any) -> Any:
    """A value eth-abi decoded, in the JSON form described in the module docstring."""
    kind = param["type"]
    if kind.endswith("]"):
        inner = dict(param, type=kind[: kind.rindex("[")])
        return [to_json_value(inner, v) for v in value]
    if kind == "tuple":
        return {
            c["name"]: to_json_value(c, v) for c, v in zip(param["components"], value, strict=True)
        }
    if kind == "address":
        return value.lower()
    if kind in ("bytes",) or kind.startswith("bytes"):
        return "0x" + bytes(value).hex()
    if kind.startswith("uint"):
        return value if int(kind[4:] or 256) <= JSON_SAFE_BITS else str(value)
    if kind.startswith("int"):
        return value if int(kind[3:] or 256) <= JSON_SAFE_BITS else str(value)
    return value  # bool, string


class EventDecoder:
    """Decodes the data and topics of one event ABI."""

    def __init__(self, item: dict[str, Any]):
        self.name: str = item["name"]
        self.signature = signature(item)
        self.topic = "0x" + keccak(text=self.signature).hex()
        inputs = item.get("inputs", [])
        self.indexed: list[tuple[str, Converter]] = []
        for p in (p for p in inputs if p.get("indexed")):
            static_elementary = _is_static(p) and p["type"] != "tuple"
            convert = _word_converter(p["type"]) if static_elementary else _word_hex
            self.indexed.append((p["name"], convert))
        self.data_params = [p for p in inputs if not p.get("indexed")]
        self.static_data = all(_is_static(p) for p in self.data_params)
        if self.static_data:
            self._readers = []
            offset = 0
            for p in self.data_params:
                self._readers.append((p["name"], offset, _static_reader(p)))
                offset += _static_words(p) * 32
            self.data_size = offset
        else:
            self._types = [canonical_type(p) for p in self.data_params]
        self.order = [p["name"] for p in inputs]

    def decode(self, topics: list[str], data: bytes) -> dict[str, Any]:
        if len(topics) != len(self.indexed) + 1:
            raise ValueError(
                f"{self.signature}: {len(topics) - 1} indexed topics, expected {len(self.indexed)}"
            )
        args: dict[str, Any] = {}
        for (name, convert), topic in zip(self.indexed, topics[1:], strict=True):
            args[name] = convert(bytes.fromhex(topic[2:]))
        if self.static_data:
            if len(data) < self.data_size:
                raise ValueError(
                    f"{self.signature}: {len(data)} data bytes, expected {self.data_size}"
                )
            for name, at, reader in self._readers:
                args[name] = reader(data, at)
        else:
            values = abi_decode(self._types, data)
            for p, value in zip(self.data_params, values, strict=True):
                args[p["name"]] = to_json_value(p, value)
        # Keep the ABI's argument order, as readers of the JSON expect.
        return {name: args[name] for name in self.order}


class LogDecoder:
    """Decodes raw `eth_getLogs` entries of the followed contracts."""

    def __init__(self, artifacts: Artifacts):
        self.by_kind: dict[str, dict[str, EventDecoder]] = {}
        for kind, contract in KIND_CONTRACTS.items():
            table = {}
            for item in artifacts.get(contract).events():
                decoder = EventDecoder(item)
                table[decoder.topic] = decoder
            self.by_kind[kind] = table
        self.error_names = artifacts.error_names()
        vault_abi = artifacts.get("CopyVault").abi
        self.vault_functions = {
            "0x" + keccak(text=signature(i))[:4].hex(): signature(i)
            for i in vault_abi
            if i.get("type") == "function"
        }

    def topic_of(self, kind: str, event: str) -> str:
        """The topic0 of `event` of the contract of `kind` (for eth_getLogs filters)."""
        return next(topic for topic, d in self.by_kind[kind].items() if d.name == event)

    def reason_name(self, selector: str) -> str:
        """The error a 4-byte selector names, from every compiled ABI."""
        raw = bytes.fromhex(selector[2:])
        if raw == b"\x00\x00\x00\x00":
            return "empty revert (no error data, e.g. out of gas)"
        return self.error_names.get(raw, f"unknown error {selector}")

    def decode(self, raw: dict[str, Any], kind: str) -> DecodedLog:
        topics = raw["topics"]
        data_hex = raw["data"]
        decoder = self.by_kind[kind].get(topics[0].lower()) if topics else None
        timestamp = raw.get("blockTimestamp")
        name: str | None = None
        if decoder is None:
            args: dict[str, Any] = {"topics": [t.lower() for t in topics], "data": data_hex.lower()}
        else:
            name = decoder.name
            try:
                args = decoder.decode(topics, bytes.fromhex(data_hex[2:]))
            except Exception as exc:  # an ABI mismatch must not stop the index: keep it raw
                name = None
                args = {
                    "topics": [t.lower() for t in topics],
                    "data": data_hex.lower(),
                    "error": f"{decoder.signature}: {exc}",
                }
        address = raw["address"].lower()
        log = DecodedLog(
            block_number=int(raw["blockNumber"], 16),
            block_hash=raw["blockHash"].lower(),
            block_timestamp=int(timestamp, 16) if timestamp else None,
            tx_hash=raw["transactionHash"].lower(),
            tx_index=int(raw["transactionIndex"], 16),
            log_index=int(raw["logIndex"], 16),
            address=address,
            contract=kind,
            name=name,
            args=args,
        )
        _attach_subjects(log)
        return log

    def decode_all(
        self, raws: Iterable[dict[str, Any]], kind_of: Callable[[str], str]
    ) -> list[DecodedLog]:
        return [self.decode(raw, kind_of(raw["address"].lower())) for raw in raws]


def _attach_subjects(log: DecodedLog) -> None:
    """Fill `vault` and `leader`: which vault and which leader the event is about."""
    args = log.args
    if log.contract == "vault":
        log.vault = log.address
        if log.name in ("Mirrored", "LeaderChanged"):
            log.leader = args["leader"]
    elif log.contract == "factory" and log.name == "VaultCreated":
        log.vault = args["vault"]
        log.leader = args["leader"]
    elif log.contract == "router" and log.name == "MirrorSkipped":
        log.vault = args["vault"]
    elif log.contract == "registry" and log.name is not None:
        log.leader = args.get("leader")
