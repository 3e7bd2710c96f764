"""Signing with Ape's accounts: keystores made with `ape accounts generate|import`, accounts of Ape
plugins (a hardware wallet, where its plugin installs), and on local networks Ape's test accounts.

A private key is never an argument. A keystore's passphrase is prompted for, or, for scripts, read
by Ape itself from `APE_ACCOUNTS_<alias>_PASSPHRASE` (Ape's own non-interactive mechanism). Test
accounts (`TEST::0` ... from the test mnemonic in ape-config.yaml, anvil's dev accounts) hold
publicly known keys, so they are refused on any chain but a local one.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass
from typing import Any, Final

from backend.cli.user.units import UserError

TEST_PREFIX: Final = "TEST::"
# anvil and Hardhat (31337), Ganache and geth --dev (1337).
LOCAL_CHAIN_IDS: Final = frozenset({31_337, 1_337})


@dataclass(frozen=True)
class SignedTransaction:
    raw: str  # 0x-hex, for eth_sendRawTransaction


class Wallet:
    """One Ape account: signs EIP-712 documents and EIP-1559 transactions."""

    def __init__(self, account: Any, alias: str):
        self._account = account
        self.alias = alias
        self.address: str = str(account.address)

    def sign_typed_data(self, document: Mapping[str, Any]) -> bytes:
        """65-byte r||s||v signature of an eth_signTypedData_v4 document."""
        from eth_account.messages import encode_typed_data

        with _ape_warnings_hidden():
            signature = self._account.sign_message(encode_typed_data(full_message=dict(document)))
        if signature is None:
            raise UserError(f"account {self.alias} did not sign")
        return bytes(signature.encode_rsv())

    def sign_transaction(self, tx: Mapping[str, Any]) -> SignedTransaction:
        """An EIP-1559 transaction dict (web3 field names) signed; what `SignerSender` sends."""
        from ape_ethereum.transactions import DynamicFeeTransaction

        txn = DynamicFeeTransaction(
            chainId=tx["chainId"],
            nonce=tx["nonce"],
            receiver=tx["to"],
            value=tx["value"],
            data=tx["data"],
            gas=tx["gas"],
            maxFeePerGas=tx["maxFeePerGas"],
            maxPriorityFeePerGas=tx["maxPriorityFeePerGas"],
        )
        with _ape_warnings_hidden():
            signed = self._account.sign_transaction(txn)
        if signed is None or not signed.signature:
            raise UserError(f"account {self.alias} did not sign the transaction")
        return SignedTransaction("0x" + bytes(signed.serialize_transaction()).hex())


def load_wallet(alias: str, chain_id: int) -> Wallet:
    """The Ape account `alias` (unlocked for this command), or `TEST::N` on a local chain."""
    from ape import accounts

    if alias.startswith(TEST_PREFIX):
        return Wallet(_test_account(accounts, alias, chain_id), alias)
    try:
        account = accounts.load(alias)
    except KeyError:
        raise UserError(
            f"no Ape account {alias!r}: `ape accounts list` shows yours, "
            f"`ape accounts import {alias}` adds one"
        ) from None
    _unlock(account, alias)
    return Wallet(account, alias)


def _test_account(accounts: Any, alias: str, chain_id: int) -> Any:
    index = alias.removeprefix(TEST_PREFIX)
    if chain_id not in LOCAL_CHAIN_IDS:
        raise UserError(
            f"{alias} is a test account with a public key; chain {chain_id} is not a local "
            "network: use an account of your own (`ape accounts list`)"
        )
    if not index.isdigit():
        raise UserError(f"{alias}: write test accounts as TEST::0, TEST::1, ...")
    try:
        return accounts.test_accounts[int(index)]
    except IndexError:
        raise UserError(f"{alias}: there is no test account {index}") from None


def _unlock(account: Any, alias: str) -> None:
    """Let a keystore account sign this command's messages without asking once per signature:
    the passphrase comes from APE_ACCOUNTS_<alias>_PASSPHRASE or one prompt. Other accounts
    (hardware wallets) confirm on their device."""
    from ape.exceptions import AccountsError

    if not hasattr(account, "set_autosign"):
        return
    try:
        # The passphrase prompt goes to stderr: stdout carries the result (JSON, a signed intent).
        with _ape_warnings_hidden(), redirect_stdout(sys.stderr):
            account.set_autosign(True)
    except AccountsError as exc:
        raise UserError(
            f"could not unlock account {alias} ({exc}); check the passphrase "
            f"(or APE_ACCOUNTS_{alias}_PASSPHRASE)"
        ) from None


@contextmanager
def _ape_warnings_hidden() -> Iterator[None]:
    """Ape warns that an auto-signing account signs anything and that it reuses the unlocked key;
    here the account signs only what this one command shows, so the warnings would only alarm."""
    from ape.logging import LogLevel, logger

    with logger.at_level(LogLevel.ERROR):
        yield
