"""A real Safe 1.4.1 (npm bytecode) for tests that need a contract owner answering EIP-1271."""

from __future__ import annotations

from collections.abc import Sequence

from eth_utils import to_checksum_address

from backend.chain.actions import Key
from backend.chain.client import ChainClient
from backend.chain.deploy import npm_abi
from backend.chain.tx import UnlockedSender, created_address

ZERO = "0x" + "00" * 20


def deploy_safe(client: ChainClient, deployer: Key, owners: Sequence[Key], threshold: int) -> str:
    """A Safe proxy owned by `owners` (`threshold` of them), with the CompatibilityFallbackHandler
    that answers `isValidSignature` for it; singleton, factory and handler deployed fresh from
    `deployer` (an account the node holds unlocked)."""
    sender = UnlockedSender(client, deployer.address)
    singleton, factory, handler = (
        created_address(sender.send(None, npm_abi(name).deploy_data()))
        for name in ("Safe", "SafeProxyFactory", "CompatibilityFallbackHandler")
    )
    initializer = npm_abi("Safe").call_data(
        "setup", [o.address for o in owners], threshold, ZERO, b"", handler, ZERO, 0, ZERO
    )
    create = npm_abi("SafeProxyFactory").call_data(
        "createProxyWithNonce", singleton, initializer, 0
    )
    proxy = to_checksum_address(client.call(factory, create)[-20:])
    sender.send(factory, create)
    return proxy
