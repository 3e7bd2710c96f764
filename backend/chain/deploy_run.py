"""One deployment run with its files, for `ape run deploy` and `copyvault deploy` alike.

Reads the earlier run's deployment file (so the run only does what is missing), takes the network's
tokens, feeds and venues from the networks file, saves the deployment file after every step, and
writes the admin Safe's pending actions as a Safe Transaction Builder batch beside it
(`<file stem>.safe-tx.json`; removed once nothing is pending).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Final

from backend.chain.client import ChainClient
from backend.chain.deploy import Deployment, DeployReport, deploy
from backend.chain.networks import network_for
from backend.chain.tx import Sender

DEPLOYMENTS_DIR: Final = Path("deployments")


def default_deployment_file(chain_id: int) -> Path:
    """deployments/<chain-id>.json, relative to the working directory (the project root)."""
    return DEPLOYMENTS_DIR / f"{chain_id}.json"


def safe_batch_file(deployment_file: Path) -> Path:
    return deployment_file.with_name(deployment_file.stem + ".safe-tx.json")


def run_deploy(
    client: ChainClient,
    sender: Sender,
    *,
    out: Path | None = None,
    admin: str | None = None,
    force: bool = False,
    fresh: bool = False,
    networks_file: Path | None = None,
    test_assets: bool | None = None,
    anchorer: str | None = None,
    log: Callable[[str], None] = lambda _: None,
) -> tuple[DeployReport, Path]:
    """Deploy or complete copyvault on the node of `client`: (the report, the deployment file).

    `fresh`: ignore an existing deployment file (a node that was reset). `test_assets`: override
    the networks file (False deploys a local chain without test tokens and venues).
    """
    chain_id = client.chain_id()
    network = network_for(chain_id, networks_file)
    if test_assets is not None and test_assets != network.test_assets:
        venues = network.venues if test_assets else ()
        network = replace(network, test_assets=test_assets, venues=venues)
    path = Path(out) if out is not None else default_deployment_file(chain_id)
    existing = None if fresh or not path.is_file() else Deployment.load(path)
    if existing is not None:
        log(f"found {path}: doing only what it lacks")
    report = deploy(
        client,
        sender,
        network=network,
        admin=admin,
        anchorer=anchorer,
        existing=existing,
        force=force,
        log=log,
        progress=lambda deployment: deployment.save(path),
    )
    report.deployment.save(path)
    _write_safe_batch(report, safe_batch_file(path))
    return report, path


def _write_safe_batch(report: DeployReport, path: Path) -> None:
    batch = report.safe_batch()
    if batch is None:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(batch, indent=2) + "\n")


def summary(report: DeployReport, path: Path) -> list[str]:
    """What to tell the person who ran the deploy."""
    d = report.deployment
    lines = [
        f"deployment written to {path} (chain {d.chain_id}, start block {d.start_block})"
        if report.steps
        else f"nothing to do: {path} is deployed and matches the build (chain {d.chain_id})"
    ]
    if report.pending:
        lines.append(
            f"{len(report.pending)} action(s) for the admin Safe {d.admin}: import "
            f"{safe_batch_file(path)} in Safe{{Wallet}} > Apps > Transaction Builder, then run "
            "this deploy again to check them"
        )
    return lines
