"""Encoding calls and decoding returns from an ABI with eth-abi directly (no web3 Contract objects,
which cost about a millisecond per call to encode)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any

from eth_abi import decode, encode
from eth_utils import function_signature_to_4byte_selector

from backend.chain.artifacts import CompiledContract, canonical_type, signature


class Function:
    """One ABI function: its selector, argument types and return types."""

    def __init__(self, item: dict[str, Any]):
        self.item = item
        self.name: str = item["name"]
        self.signature = signature(item)
        self.selector = function_signature_to_4byte_selector(self.signature)
        self.input_types = [canonical_type(p) for p in item.get("inputs", [])]
        self.output_types = [canonical_type(p) for p in item.get("outputs", [])]

    def encode(self, *args: Any) -> bytes:
        return self.selector + encode(self.input_types, list(args))

    def decode(self, data: bytes) -> Any:
        values = decode(self.output_types, data)
        return values[0] if len(values) == 1 else values


class ContractAbi:
    """Functions of a compiled contract by name, plus constructor encoding."""

    def __init__(self, contract: CompiledContract):
        self.contract = contract

    @cached_property
    def _functions(self) -> dict[str, list[Function]]:
        table: dict[str, list[Function]] = {}
        for item in self.contract.abi:
            if item.get("type") == "function":
                table.setdefault(item["name"], []).append(Function(item))
        return table

    def fn(self, name: str) -> Function:
        """The function `name`, or by full signature when it is overloaded."""
        if "(" in name:
            for overloads in self._functions.values():
                for f in overloads:
                    if f.signature == name:
                        return f
            raise KeyError(f"{self.contract.name} has no function {name}")
        overloads = self._functions.get(name)
        if not overloads:
            raise KeyError(f"{self.contract.name} has no function {name}")
        if len(overloads) > 1:
            options = ", ".join(f.signature for f in overloads)
            raise KeyError(f"{self.contract.name}.{name} is overloaded; say which: {options}")
        return overloads[0]

    def call_data(self, name: str, *args: Any) -> bytes:
        return self.fn(name).encode(*args)

    def deploy_data(self, *args: Sequence[Any] | Any) -> bytes:
        ctor = next((i for i in self.contract.abi if i.get("type") == "constructor"), None)
        types = [canonical_type(p) for p in ctor.get("inputs", [])] if ctor else []
        return self.contract.bytecode + (encode(types, list(args)) if types else b"")
