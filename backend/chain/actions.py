"""Acting on a deployment from Python without Ape: create vaults, deposit, pause, sign and execute
withdrawals and configuration changes, register leaders, mirror signed intents.

Used by the backend tests, the indexer benchmark and the demo. Owner approvals and intents are
signed through `backend.chain.eip712`, exactly as wallets and the relayer sign them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Final

from eth_account import Account
from eth_utils import to_checksum_address

from backend.chain import eip712
from backend.chain.abi import ContractAbi
from backend.chain.artifacts import Artifacts, event_topic
from backend.chain.artifacts import load as load_artifacts
from backend.chain.client import ChainClient
from backend.chain.deploy import DEFAULT_POLICY, Deployment
from backend.chain.tx import Sender, UnlockedSender

# anvil's default dev accounts come from this mnemonic (public test keys: never use them for value).
ANVIL_MNEMONIC: Final = "test test test test test test test test test test test junk"
HOUR: Final = 3_600

Account.enable_unaudited_hdwallet_features()


def anvil_key(index: int) -> str:
    """The private key of anvil's dev account `index` (0x-hex)."""
    account = Account.from_mnemonic(ANVIL_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")
    return "0x" + bytes(account.key).hex()


@dataclass(frozen=True)
class Key:
    """An account that can sign (and, through the node, send)."""

    address: str
    private_key: str

    @classmethod
    def anvil(cls, index: int) -> Key:
        key = anvil_key(index)
        return cls(Account.from_key(key).address, key)


def sort_keys(keys: Sequence[Key]) -> list[Key]:
    """Approvals go in strictly ascending signer order (what vaults require)."""
    return sorted(keys, key=lambda k: int(k.address, 16))


class Actions:
    """Typed helpers over one deployment on one node."""

    def __init__(
        self, client: ChainClient, deployment: Deployment, artifacts: Artifacts | None = None
    ):
        self.client = client
        self.d = deployment
        self.artifacts = artifacts or load_artifacts()

    @cached_property
    def vault_abi(self) -> ContractAbi:
        return ContractAbi(self.artifacts.get("CopyVault"))

    @cached_property
    def factory_abi(self) -> ContractAbi:
        return ContractAbi(self.artifacts.get("VaultFactory"))

    @cached_property
    def registry_abi(self) -> ContractAbi:
        return ContractAbi(self.artifacts.get("LeaderRegistry"))

    @cached_property
    def router_abi(self) -> ContractAbi:
        return ContractAbi(self.artifacts.get("CopyRouter"))

    @cached_property
    def token_abi(self) -> ContractAbi:
        return ContractAbi(self.artifacts.get("TestToken"))

    @cached_property
    def feed_abi(self) -> ContractAbi:
        return ContractAbi(self.artifacts.get("MockAggregator"))

    def sender(self, who: Key | str) -> Sender:
        return UnlockedSender(self.client, who.address if isinstance(who, Key) else who)

    def token(self, symbol: str) -> str:
        """A deployed token's address by symbol; an address passes through unchanged."""
        if symbol.startswith("0x"):
            return symbol
        return self.d.tokens[symbol].address

    @property
    def venue(self) -> str:
        return self.d.contracts["UniswapV2Venue"]

    def view(self, abi: ContractAbi, to: str, fn: str, *args: Any) -> Any:
        f = abi.fn(fn)
        return f.decode(self.client.call(to, f.encode(*args)))

    def timestamp(self) -> int:
        header = self.client.header("latest")
        assert header is not None
        return header.timestamp

    # ------------------------------------------------------------------ vaults

    def create_vault(
        self,
        owners: Sequence[Key],
        *,
        threshold: int | None = None,
        leader: str,
        policy: tuple[int, int, int, int, int] = DEFAULT_POLICY,
        assets: Sequence[str] | None = None,
        venues: Sequence[str] | None = None,
        accept_guardian: bool = True,
        salt: int = 0,
        sender: Key | str | None = None,
        oracle: str | None = None,
    ) -> str:
        """Create a vault (default: WETH and USDC allowed, the Uniswap venue allowed). `oracle` is
        the oracle the creator expects (default: the factory's default oracle as read now); the
        factory refuses to create the vault if its default is another one by then."""
        owner_addresses = [o.address for o in owners]
        if oracle is None:
            oracle = self.view(self.factory_abi, self.d.factory, "defaultOracle")
        receipt = self.sender(sender or owners[0]).send(
            self.d.factory,
            self.factory_abi.call_data(
                "createVault",
                owner_addresses,
                threshold if threshold is not None else len(owners),
                leader,
                policy,
                oracle,
                list(assets) if assets is not None else [self.token("WETH"), self.token("USDC")],
                list(venues) if venues is not None else [self.venue],
                accept_guardian,
                salt.to_bytes(32, "big"),
            ),
        )
        return self.created_vaults(receipt)[0]

    def created_vaults(self, receipt: dict[str, Any]) -> list[str]:
        """Vault addresses from the VaultCreated logs of a receipt."""
        item = next(
            e for e in self.artifacts.get("VaultFactory").events() if e["name"] == "VaultCreated"
        )
        topic = "0x" + event_topic(item).hex()
        return [
            to_checksum_address("0x" + entry["topics"][1][-40:])
            for entry in receipt["logs"]
            if entry["topics"] and entry["topics"][0].lower() == topic
        ]

    def mint(self, token: str, to: str, amount: int, sender: Key | str) -> None:
        self.sender(sender).send(token, self.token_abi.call_data("mint", to, amount))

    def deposit(self, vault: str, token: str, amount: int, depositor: Key | str) -> None:
        """Mint `amount` to the depositor, approve the vault and deposit."""
        who = depositor.address if isinstance(depositor, Key) else depositor
        self.mint(token, who, amount, depositor)
        self.sender(depositor).send(token, self.token_abi.call_data("approve", vault, amount))
        self.sender(depositor).send(vault, self.vault_abi.call_data("deposit", token, amount))

    def transfer(self, token: str, to: str, amount: int, sender: Key | str) -> None:
        self.sender(sender).send(token, self.token_abi.call_data("transfer", to, amount))

    def pause(self, vault: str, owner: Key | str) -> None:
        self.sender(owner).send(vault, self.vault_abi.call_data("pause"))

    def stop_copying(self, vault: str, owner: Key | str) -> None:
        self.sender(owner).send(vault, self.vault_abi.call_data("stopCopying"))

    def vault_nonce(self, vault: str) -> int:
        return self.view(self.vault_abi, vault, "nonce")

    def domain(self, verifying_contract: str) -> eip712.Domain:
        return eip712.Domain(chain_id=self.d.chain_id, verifying_contract=verifying_contract)

    def withdraw(
        self,
        vault: str,
        token: str,
        amount: int,
        to: str,
        signers: Sequence[Key],
        *,
        relayer: Key | str,
    ) -> None:
        deadline = self.timestamp() + HOUR
        message = eip712.Withdrawal(
            token=token, amount=amount, to=to, nonce=self.vault_nonce(vault), deadline=deadline
        )
        keys = sort_keys(signers)
        signatures = [eip712.sign(k.private_key, self.domain(vault), message) for k in keys]
        self.sender(relayer).send(
            vault,
            self.vault_abi.call_data(
                "withdraw", token, amount, to, deadline, [k.address for k in keys], signatures
            ),
        )

    def execute_config(
        self, vault: str, data: bytes, signers: Sequence[Key], *, relayer: Key | str
    ) -> None:
        deadline = self.timestamp() + HOUR
        message = eip712.ConfigChange(data=data, nonce=self.vault_nonce(vault), deadline=deadline)
        keys = sort_keys(signers)
        signatures = [eip712.sign(k.private_key, self.domain(vault), message) for k in keys]
        self.sender(relayer).send(
            vault,
            self.vault_abi.call_data(
                "executeConfig", data, deadline, [k.address for k in keys], signatures
            ),
        )

    def config_call(self, fn: str, *args: Any) -> bytes:
        """The data of a vault configuration call, for `execute_config`."""
        return self.vault_abi.call_data(fn, *args)

    # ------------------------------------------------------------------ leaders and intents

    def register(self, leader: Key | str, profile_uri: str) -> None:
        self.sender(leader).send(
            self.d.registry, self.registry_abi.call_data("register", profile_uri)
        )

    def set_delegate(self, leader: Key | str, delegate: str, expiry: int) -> None:
        self.sender(leader).send(
            self.d.registry, self.registry_abi.call_data("setDelegate", delegate, expiry)
        )

    def revoke_delegate(self, leader: Key | str, delegate: str) -> None:
        self.sender(leader).send(
            self.d.registry, self.registry_abi.call_data("revokeDelegate", delegate)
        )

    def invalidate_nonces(self, leader: Key | str, word_pos: int, mask: int) -> None:
        self.sender(leader).send(
            self.d.registry, self.registry_abi.call_data("invalidateNonces", word_pos, mask)
        )

    def intent(
        self,
        leader: Key,
        *,
        nonce: int,
        token_in: str = "WETH",
        token_out: str = "USDC",
        fraction_bps: int = 1_000,
        min_price: int = 0,
    ) -> tuple[tuple, bytes]:
        """(ABI tuple, signature) of a TradeIntent signed by `leader`."""
        message = eip712.TradeIntent(
            leader=leader.address,
            venue=self.venue,
            token_in=self.token(token_in),
            token_out=self.token(token_out),
            fraction_bps=fraction_bps,
            min_price=min_price,
            nonce=nonce,
            deadline=self.timestamp() + HOUR,
        )
        signature = eip712.sign(leader.private_key, self.domain(self.d.registry), message)
        return message.values(), signature

    def mirror_batch(
        self,
        intent: tuple,
        signature: bytes,
        vaults: Sequence[str],
        *,
        relayer: Key | str,
        aggregated: bool = False,
    ) -> dict[str, Any]:
        fn = "mirrorAggregated" if aggregated else "mirrorBatch"
        return self.sender(relayer).send(
            self.d.router, self.router_abi.call_data(fn, intent, signature, list(vaults))
        )

    def refresh_feeds(self, sender: Key | str) -> None:
        """Re-post the mock feeds' answers (so they are not stale after time travel)."""
        for token in self.d.tokens.values():
            if token.feed is None:
                continue
            answer = self.view(self.feed_abi, token.feed, "answer")
            self.sender(sender).send(token.feed, self.feed_abi.call_data("setAnswer", answer))
