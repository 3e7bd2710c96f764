"""Deploy with an Ape account: keystores (`ape accounts import/generate`), a hardware wallet through
Ape's plugin, or Ape's test accounts. Ape asks for the passphrase (or the device) when it signs;
the key never passes through copyvault.

The backend imports Ape only here, and only when a command asks for an Ape account (Ape takes
seconds to import).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from backend.chain.client import ChainClient
from backend.chain.tx import SignerSender
from backend.exceptions import DeploymentError


class ApeAccountSigner:
    """The signer a `SignerSender` asks: builds Ape's transaction from the fields the sender
    chose (nonce, gas, fees) and lets the Ape account sign it."""

    def __init__(self, account: Any):
        self.account = account
        self.address = account.address

    def sign_transaction(self, tx: dict[str, Any]) -> _Signed:
        from ape import networks

        txn = networks.ethereum.create_transaction(
            chain_id=tx["chainId"],
            nonce=tx["nonce"],
            receiver=tx.get("to") or None,
            value=tx["value"],
            data=tx["data"],
            gas_limit=tx["gas"],
            max_fee=tx["maxFeePerGas"],
            max_priority_fee=tx["maxPriorityFeePerGas"],
            type=2,
        )
        signed = self.account.sign_transaction(txn)
        if signed is None or not signed.signature:
            raise DeploymentError(f"the Ape account {self.address} did not sign the transaction")
        return _Signed("0x" + signed.serialize_transaction().hex())


class _Signed:
    def __init__(self, raw: str):
        self.raw = raw


def load_account(alias: str) -> Any:
    """An Ape account by alias (`ape accounts list`), or a test account as `TEST::<index>`."""
    from ape import accounts

    if alias.startswith("TEST::"):
        return accounts.test_accounts[int(alias.removeprefix("TEST::"))]
    try:
        return accounts.load(alias)
    except Exception as exc:  # Ape raises its own AccountsError subclasses
        raise DeploymentError(
            f"no Ape account {alias!r} ({exc}): list them with `ape accounts list`, add one with "
            "`ape accounts import ALIAS`"
        ) from None


def ape_sender(client: ChainClient, account: Any) -> SignerSender:
    """A sender over `client` that signs with the Ape `account`."""
    return SignerSender(client, ApeAccountSigner(account))


@contextmanager
def connected(rpc_url: str) -> Iterator[None]:
    """Ape connected to the node at `rpc_url` for the block: keystore accounts show each
    transaction (decoded through the provider) before asking to sign it."""
    from ape import networks

    with networks.parse_network_choice(rpc_url):
        yield
