"""Sending transactions for deployments, the demo, tests and benchmarks (not the relayer, which
manages nonces and fee bumping on its own).

Two kinds of sender: `UnlockedSender` asks the node to sign (`eth_sendTransaction`: anvil's dev
accounts), `KeySender` signs locally with a private key (any network). Both wait for the receipt
and raise `DeploymentError` when a transaction reverts.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from eth_account import Account
from eth_utils import to_checksum_address

from backend.chain.client import ChainClient
from backend.exceptions import DeploymentError, RpcError

RECEIPT_TIMEOUT = 300.0


class Sender(Protocol):
    address: str

    def send(
        self, to: str | None, data: bytes | str, *, value: int = 0, gas: int | None = None
    ) -> dict[str, Any]: ...


def padded_gas(estimate: int) -> int:
    """Gas limit for an estimate. Calls that catch failures (the router's try/catch) or forward
    63/64 of their gas can need more than eth_estimateGas's smallest passing limit suggests."""
    return estimate * 3 // 2 + 50_000


def _hex(data: bytes | str) -> str:
    return data if isinstance(data, str) else "0x" + data.hex()


def wait_for_receipt(client: ChainClient, tx_hash: str, timeout: float = RECEIPT_TIMEOUT) -> dict:
    end = time.monotonic() + timeout
    delay = 0.005
    while True:
        receipt = client.request("eth_getTransactionReceipt", [tx_hash])
        if receipt is not None:
            return receipt
        if time.monotonic() > end:
            raise DeploymentError(
                f"transaction {tx_hash} was not mined within {timeout:.0f}s: check that the node "
                "mines blocks (anvil: automine or --block-time) and that the fee is high enough"
            )
        time.sleep(delay)
        delay = min(delay * 2, 1.0)


def _checked(receipt: dict[str, Any], what: str) -> dict[str, Any]:
    if int(receipt["status"], 16) != 1:
        raise DeploymentError(
            f"{what} reverted in transaction {receipt['transactionHash']} (block "
            f"{int(receipt['blockNumber'], 16)}); check the arguments and the sender's roles"
        )
    return receipt


class UnlockedSender:
    """An account the node signs for (anvil's dev accounts)."""

    def __init__(self, client: ChainClient, address: str):
        self.client = client
        self.address = to_checksum_address(address)

    def submit(
        self, to: str | None, data: bytes | str, *, value: int = 0, gas: int | None = None
    ) -> str:
        """Send without waiting; the transaction hash."""
        tx: dict[str, Any] = {"from": self.address, "data": _hex(data), "value": hex(value)}
        if to is not None:
            tx["to"] = to
        if gas is None:
            gas = padded_gas(int(self.client.request("eth_estimateGas", [tx]), 16))
        tx["gas"] = hex(gas)
        return self.client.request("eth_sendTransaction", [tx])

    def send(
        self, to: str | None, data: bytes | str, *, value: int = 0, gas: int | None = None
    ) -> dict[str, Any]:
        tx_hash = self.submit(to, data, value=value, gas=gas)
        return _checked(wait_for_receipt(self.client, tx_hash), f"transaction to {to or 'create'}")


class KeySender:
    """An account whose key signs locally (EIP-1559 transactions)."""

    def __init__(self, client: ChainClient, private_key: str | bytes):
        self.client = client
        self._account = Account.from_key(private_key)
        self.address = self._account.address

    def send(
        self, to: str | None, data: bytes | str, *, value: int = 0, gas: int | None = None
    ) -> dict[str, Any]:
        client = self.client
        payload = _hex(data)
        call: dict[str, Any] = {"from": self.address, "data": payload, "value": hex(value)}
        if to is not None:
            call["to"] = to
        if gas is None:
            gas = padded_gas(int(client.request("eth_estimateGas", [call]), 16))
        try:
            tip = int(client.request("eth_maxPriorityFeePerGas"), 16)
        except RpcError:  # not every node implements it
            tip = 10**9
        block = client.request("eth_getBlockByNumber", ["latest", False]) or {}
        base_fee = int(block.get("baseFeePerGas") or "0x0", 16)
        tx = {
            "type": 2,
            "chainId": client.chain_id(),
            "nonce": int(client.request("eth_getTransactionCount", [self.address, "pending"]), 16),
            "to": to_checksum_address(to) if to is not None else "",
            "value": value,
            "data": payload,
            "gas": gas,
            "maxPriorityFeePerGas": tip,
            "maxFeePerGas": 2 * base_fee + tip,
        }
        if to is None:
            del tx["to"]
        tx_hash = client.request("eth_sendRawTransaction", [self._sign(tx)])
        return _checked(wait_for_receipt(client, tx_hash), f"transaction to {to or 'create'}")

    def _sign(self, tx: dict[str, Any]) -> str:
        return "0x" + self._account.sign_transaction(tx).raw_transaction.hex()


class SignerSender(KeySender):
    """A `KeySender` over a signer that keeps its key to itself (backend/security: the relayer's
    and the guardian's encrypted keys): it asks the signer to sign, never for the key."""

    def __init__(self, client: ChainClient, signer: Any):
        self.client = client
        self._signer = signer
        self.address = signer.address

    def _sign(self, tx: dict[str, Any]) -> str:
        return self._signer.sign_transaction(tx).raw


def created_address(receipt: dict[str, Any]) -> str:
    address = receipt.get("contractAddress")
    if not address:
        raise DeploymentError(f"transaction {receipt['transactionHash']} created no contract")
    return to_checksum_address(address)
