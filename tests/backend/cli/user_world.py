"""The world the user command line is tested in: a fresh anvil with copyvault deployed, the real
server (`copyvault serve` with its indexer and relayer), and Ape keystore accounts in a folder of
their own (the machine's ~/.ape is never touched), unlocked the way scripts unlock them
(APE_ACCOUNTS_<alias>_PASSPHRASE). Commands run in-process through `backend.cli.main`, exactly as
the `copyvault` script runs them, so a journey costs no interpreter start-ups."""

from __future__ import annotations

import io
import json
import os
import shlex
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import httpx
from eth_account import Account

from backend.chain.actions import Key
from backend.cli import main
from tests.backend.conftest import Chain
from tests.utils.server_process import indexed_through, poll_until, running_server

PASSPHRASE: Final = "correct horse battery staple"
# Keystore aliases -> anvil dev account index (roles as in tests/backend/conftest.py's Chain).
KEYSTORES: Final = {"cv-alice": 6, "cv-bob": 7, "cv-leader": 2}
CAROL: Final = "TEST::8"  # the third owner signs with Ape's test account (a local chain)
STRANGER: Final = "TEST::5"  # owns nothing
INDEX_SECONDS: Final = 60


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        assert self.code == 0, self.err
        return json.loads(self.out)


@dataclass
class World:
    chain: Chain
    deployment_file: Path
    api_url: str
    api: httpx.Client

    def run(self, *args: str, account: str | None = None, api: bool = False) -> Result:
        """`copyvault ARGS... --rpc .. --deployment ..` (plus --account, --api) in-process."""
        argv = [*args, "--rpc", self.chain.node.url, "--deployment", str(self.deployment_file)]
        argv += ["--account", account] if account else []
        argv += ["--api", self.api_url] if api else []
        return run_cli(*argv)

    def type(self, line: str, account: str | None = None, api: bool = False) -> Result:
        """A command line as a user types it (after `copyvault`)."""
        return self.run(*shlex.split(line), account=account, api=api)

    def address(self, alias: str) -> str:
        index = KEYSTORES.get(alias)
        return Key.anvil(index if index is not None else int(alias.removeprefix("TEST::"))).address

    def indexed(self) -> None:
        """Wait until the server's index holds the chain's head (proposals need it)."""
        head = self.chain.head()
        if not poll_until(lambda: indexed_through(self.api, head), INDEX_SECONDS):
            raise AssertionError(f"the server did not index block {head}")


def run_cli(*argv: str) -> Result:
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with redirect_stdout(out), redirect_stderr(err):
        try:
            answer = main(list(argv))
            code = answer if isinstance(answer, int) else 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return Result(code, out.getvalue(), err.getvalue())


@contextmanager
def keystores(folder: Path) -> Iterator[None]:
    """Ape keystore accounts for KEYSTORES in `folder`, found by Ape's account manager."""
    from ape import accounts

    container = accounts.containers["accounts"]
    previous = container.__dict__.get("data_folder")
    container.__dict__["data_folder"] = folder  # Ape's data_folder is a cached property
    for alias, index in KEYSTORES.items():
        # A light scrypt (n = 2^10) keeps the test fast; real keystores use Ape's default.
        keyfile = Account.encrypt(Key.anvil(index).private_key, PASSPHRASE, iterations=2**10)
        (folder / f"{alias}.json").write_text(json.dumps(keyfile))
        os.environ[f"APE_ACCOUNTS_{alias}_PASSPHRASE"] = PASSPHRASE
    try:
        yield
    finally:
        for alias in KEYSTORES:
            os.environ.pop(f"APE_ACCOUNTS_{alias}_PASSPHRASE", None)
        if previous is None:
            container.__dict__.pop("data_folder", None)
        else:
            container.__dict__["data_folder"] = previous


@contextmanager
def open_world(chain: Chain, folder: Path) -> Iterator[World]:
    accounts_folder = folder / "ape-accounts"
    accounts_folder.mkdir()
    with (
        keystores(accounts_folder),
        running_server(
            chain.node.url,
            chain.deployment,
            folder,
            f"sqlite:///{folder / 'store.db'}",
            relayer=chain.relayer,
        ) as (api, server),
    ):
        yield World(chain, folder / "deployment.json", server["url"], api)
