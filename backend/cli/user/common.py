"""What every user command shares: the node, the deployment, the API and the signing account; the
`--json` and `--dry-run` switches; reading contracts and tokens; printing results."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import click

from backend.cli.user.units import UserError, format_amount

DEFAULT_RPC: Final = "http://127.0.0.1:8545"
DEFAULT_API: Final = "http://127.0.0.1:8000"


@dataclass(frozen=True)
class TokenInfo:
    address: str
    symbol: str
    decimals: int

    def amount(self, raw: int) -> str:
        return f"{format_amount(raw, self.decimals)} {self.symbol}"


@dataclass
class Env:
    """One command's view of the system. Chain, deployment and account open on first use, so a
    command that needs only the API never touches the node."""

    rpc_url: str
    deployment_file: Path
    api_url: str
    as_json: bool
    dry_run: bool
    account_alias: str | None
    _cache: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ lazily opened parts

    def _once(self, key: str, make: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    @property
    def client(self) -> Any:
        from backend.chain.client import ChainClient

        return self._once("client", lambda: ChainClient(self.rpc_url, retries=2))

    @property
    def deployment(self) -> Any:
        return self._once("deployment", self._load_deployment)

    def _load_deployment(self) -> Any:
        """The deployment file, refused when it belongs to another chain than the node's."""
        from backend.chain.deploy import Deployment

        if not self.deployment_file.is_file():
            raise UserError(
                f"no deployment file at {self.deployment_file}: pass --deployment FILE "
                "(or set COPYVAULT_DEPLOYMENT_FILE) to the file `copyvault deploy` wrote"
            )
        deployment = Deployment.load(self.deployment_file)
        chain_id = self.client.chain_id()
        if deployment.chain_id != chain_id:
            raise UserError(
                f"{self.deployment_file} is for chain {deployment.chain_id}, but the node at "
                f"{self.client.display_url} is chain {chain_id}: check --rpc and --deployment"
            )
        return deployment

    @property
    def wallet(self) -> Any:
        from backend.cli.user.wallet import load_wallet

        if not self.account_alias:
            raise UserError("this command signs: pass --account ALIAS (an Ape account)")
        return self._once("wallet", lambda: load_wallet(self.account_alias, self.client.chain_id()))

    def abi(self, contract: str) -> Any:
        from backend.chain.abi import ContractAbi
        from backend.chain.artifacts import load

        return self._once(f"abi:{contract}", lambda: ContractAbi(load().get(contract)))

    def api(self) -> Any:
        from backend.cli.user.api_client import ApiClient

        return self._once("api", lambda: ApiClient(self.api_url))

    # ------------------------------------------------------------------ reading the chain

    def view(self, contract: str, to: str, fn: str, *args: Any) -> Any:
        from backend.cli.user.transact import call

        f = self.abi(contract).fn(fn)
        return checksummed(f.decode(call(self, to, f.encode(*args))))

    def timestamp(self) -> int:
        header = self.client.header("latest")
        return header.timestamp if header is not None else 0

    def token(self, symbol_or_address: str) -> TokenInfo:
        """A token by the deployment's symbol (WETH, USDC) or by address."""
        return self._once(
            f"token:{symbol_or_address.lower()}", lambda: self._token(symbol_or_address)
        )

    def _token(self, name: str) -> TokenInfo:
        from eth_utils import is_address, to_checksum_address

        for token in self.deployment.tokens.values():
            if name.upper() == token.symbol.upper() or name.lower() == token.address.lower():
                return TokenInfo(token.address, token.symbol, token.decimals)
        if not is_address(name):
            known = ", ".join(self.deployment.tokens) or "none"
            raise UserError(f"unknown token {name!r}: give its address (deployment has: {known})")
        address = to_checksum_address(name)
        symbol = self.view("TestToken", address, "symbol")
        return TokenInfo(address, symbol, self.view("TestToken", address, "decimals"))

    def address(self, text: str, what: str) -> str:
        """An address argument: checked (a mixed-case typo is refused), then checksummed."""
        from eth_utils import is_address, is_checksum_address, to_checksum_address

        if not is_address(text.lower()) or (
            text != text.lower() and text[2:] != text[2:].upper() and not is_checksum_address(text)
        ):
            raise UserError(
                f"{what} {text!r} is not an address (0x and 40 hex digits, checksummed)"
            )
        return to_checksum_address(text)

    # ------------------------------------------------------------------ output

    def emit(self, result: dict[str, Any], text: str) -> None:
        """`result` as JSON with --json, else `text` for people."""
        if self.as_json:
            click.echo(json.dumps(result, indent=2, default=str))
        else:
            click.echo(text)

    def note(self, text: str) -> None:
        """Progress for people, on stderr (never mixed into --json output)."""
        if not self.as_json:
            click.echo(text, err=True)


def checksummed(value: Any) -> Any:
    """Decoded return values with every address EIP-55 checksummed (eth-abi gives lowercase)."""
    from eth_utils import is_hex_address, to_checksum_address

    if isinstance(value, str) and is_hex_address(value):
        return to_checksum_address(value)
    if isinstance(value, list | tuple):
        return type(value)(checksummed(v) for v in value)
    return value


# ----------------------------------------------------------------------------- options

_rpc = click.option(
    "--rpc",
    "rpc_url",
    envvar="COPYVAULT_RPC_URL",
    default=DEFAULT_RPC,
    show_default=True,
    help="JSON-RPC URL of the node (env COPYVAULT_RPC_URL).",
)
_deployment = click.option(
    "--deployment",
    "deployment_file",
    envvar="COPYVAULT_DEPLOYMENT_FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("deployment.json"),
    show_default=True,
    help="Deployment JSON written by `copyvault deploy` (env COPYVAULT_DEPLOYMENT_FILE).",
)
_json = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
_account = click.option(
    "--account",
    "account_alias",
    required=True,
    help="Ape account that signs: an alias from `ape accounts list` (passphrase prompted, or "
    "env APE_ACCOUNTS_<alias>_PASSPHRASE), or TEST::N on a local network.",
)
_dry_run = click.option(
    "--dry-run",
    is_flag=True,
    help="Simulate the transaction (eth_call, gas estimate), print its effect, send nothing.",
)
_api = click.option(
    "--api",
    "api_url",
    envvar="COPYVAULT_API_URL",
    default=DEFAULT_API,
    show_default=True,
    help="Base URL of the copyvault API, `copyvault serve` (env COPYVAULT_API_URL).",
)


def command(*, signs: bool = False, sends: bool = False, api: bool = False) -> Callable:
    """Decorate a command body `f(env, ...)` with the shared options: --rpc, --deployment and
    --json always; --account when it `signs`; --dry-run when it `sends` a transaction; --api when
    it talks to the API."""

    def decorate(f: Callable) -> Callable:
        @functools.wraps(f)
        def run(
            *args: Any,
            rpc_url: str,
            deployment_file: Path,
            as_json: bool,
            account_alias: str | None = None,
            dry_run: bool = False,
            api_url: str = DEFAULT_API,
            **kwargs: Any,
        ) -> Any:
            env = Env(
                rpc_url, deployment_file, api_url.rstrip("/"), as_json, dry_run, account_alias
            )
            return f(env, *args, **kwargs)

        options = [_rpc, _deployment, _json]
        options += [_account] if signs else []
        options += [_dry_run] if sends else []
        options += [_api] if api else []
        for option in reversed(options):
            run = option(run)
        return run

    return decorate


def read_json_input(source: str) -> Any:
    """JSON from a file, or standard input for "-"."""
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text()
        return json.loads(text)
    except OSError as exc:
        raise UserError(f"cannot read {source}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise UserError(f"{source} is not JSON ({exc.msg}, line {exc.lineno})") from None
