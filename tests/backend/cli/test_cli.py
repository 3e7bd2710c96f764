"""The `copyvault` command: instant help, deploy, db, clear errors."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from backend.chain.deploy import Deployment
from backend.chain.node import anvil

REPO_ROOT = Path(__file__).resolve().parents[3]


def _run(*args: str, env: dict[str, str] | None = None, cwd: Path = REPO_ROOT):
    return subprocess.run(
        [sys.executable, "-m", "backend.cli", *args],
        cwd=cwd,
        env=os.environ | (env or {}),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli__help_is_instant_and_imports_nothing_heavy():
    code = (
        "import sys, time\n"
        "t = time.perf_counter()\n"
        "from backend.cli import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = [m for m in ('sqlalchemy', 'web3', 'fastapi', 'eth_abi', 'alembic', 'uvicorn')\n"
        "         if m in sys.modules]\n"
        "print(heavy, time.perf_counter() - t)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
    )
    assert "Commands:" in result.stdout
    heavy, seconds = result.stdout.strip().splitlines()[-1].rsplit(" ", 1)
    assert heavy == "[]"
    assert float(seconds) < 1.0
    for command in ("node", "deploy", "serve", "index", "reindex", "db"):
        assert f"  {command} " in result.stdout


def test_cli__deploy_writes_a_deployment_file(tmp_path):
    out = tmp_path / "deployment.json"
    with anvil() as node:
        result = _run("deploy", "--rpc", node.url, "--out", str(out))
        assert result.returncode == 0, result.stderr
        deployment = Deployment.load(out)
        assert deployment.chain_id == 31_337
        assert set(deployment.tokens) == {"WETH", "USDC"}
    assert "deployment written to" in result.stdout


def test_cli__db_upgrade(tmp_path):
    env = {"COPYVAULT_DATABASE_URL": f"sqlite:///{tmp_path / 's.db'}"}
    result = _run("db", "upgrade", env=env)
    assert result.returncode == 0, result.stderr
    assert "store at migration" in result.stdout


def test_cli__errors_are_one_clear_line(tmp_path):
    result = _run(
        "index",
        "--once",
        env={
            "COPYVAULT_DEPLOYMENT_FILE": str(tmp_path / "no.json"),
            "COPYVAULT_DATA_DIR": str(tmp_path),
        },
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: deployment file"), result.stderr
    assert "Traceback" not in result.stderr
    bad = _run("index", "--once", env={"COPYVAULT_RPC_URL": "https://x.io/v3/changeme"})
    assert bad.returncode == 1 and "COPYVAULT_RPC_URL" in bad.stderr


def test_cli__deploy_with_an_ape_keystore_account__signs_locally_on_a_node_without_accounts(
    tmp_path,
):
    """`--account ALIAS` takes the deployer from Ape's encrypted keystore: Ape shows each
    transaction, asks to sign it and for the passphrase (answered on stdin here). The node manages
    no account, so only the keystore's own signatures can deploy."""
    from backend.chain.actions import Key, anvil_key
    from backend.chain.client import ChainClient

    ape_data = {"APE_DATA_FOLDER": str(tmp_path / "ape")}
    code = (
        "import sys\n"
        "from ape_accounts import import_account_from_private_key as imp\n"
        "imp('deployer', 'pass-phrase-1', sys.argv[1])\n"
    )
    imported = subprocess.run(
        [sys.executable, "-c", code, anvil_key(5)],
        env=os.environ | ape_data,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert imported.returncode == 0, imported.stderr
    # Sign the first transaction, its passphrase, keep the key unlocked, then sign every other.
    answers = "y\npass-phrase-1\ny\n" + "y\n" * 40
    out = tmp_path / "d.json"
    with anvil(accounts=0) as node:
        deployer = Key.anvil(5).address
        ChainClient(node.url).request("anvil_setBalance", [deployer, hex(10**20)])
        result = subprocess.run(
            [sys.executable, "-m", "backend.cli", "deploy", "--rpc", node.url,
             "--account", "deployer", "--out", str(out)],
            cwd=REPO_ROOT, env=os.environ | ape_data, input=answers,
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert Deployment.load(out).deployer == deployer
    assert "deployment written to" in result.stdout


def test_cli__deploy_to_a_node_without_accounts_needs_a_key(tmp_path):
    started = time.monotonic()
    with anvil(accounts=0) as node:
        result = _run("deploy", "--rpc", node.url, "--out", str(tmp_path / "d.json"))
    assert result.returncode == 1
    assert "COPYVAULT_DEPLOYER_KEY" in result.stderr
    assert time.monotonic() - started < 60
    assert not (tmp_path / "d.json").exists()
