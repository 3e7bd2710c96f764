"""What an auditor checks without trusting the operator's word: the code at every deployed address
against the build, the gas figures, the Slither report and the written security model. Read-only;
files are read at request time (a regenerated report shows at once) and bounded in size."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from eth_utils import keccak

from backend.api.errors import DependencyUnavailableError, ReportNotGeneratedError
from backend.api.schemas import (
    CodeMatch,
    ContractCodeOut,
    ContractsOut,
    DocumentOut,
    GasSnapshotOut,
    SlitherFinding,
    SlitherReportOut,
)
from backend.chain import code_check, npm_artifacts
from backend.chain.artifacts import REPO_ROOT, Artifacts
from backend.chain.client import ChainClient
from backend.chain.deploy import Deployment
from backend.exceptions import ChainUnavailableError

# Deployment names whose build has another name.
ARTIFACT_NAMES: Final = {"CopyVaultImplementation": "CopyVault"}
PUSH32: Final = 0x7F
# What an auditor may read of docs/ through the API (name -> file).
DOCUMENTS: Final = {
    "security-model": "security-model.md",
    "protocol": "protocol.md",
    "slither-triage": "slither-triage.md",
    "errors": "errors.md",
    "tokens": "tokens.md",
}
MAX_FINDINGS: Final = 500
MAX_DESCRIPTION: Final = 2_000
MAX_FILE_BYTES: Final = 4 * 1024 * 1024


# ----------------------------------------------------------------------------- contracts


def deployed_contracts(
    client: ChainClient, deployment: Deployment, artifacts: Artifacts | None
) -> ContractsOut:
    """Every contract of the deployment file, its code on chain (at one block) against its build."""
    try:
        block = client.block_number()
        codes = {
            name: _code(client, address, block) for name, address in deployment.contracts.items()
        }
    except ChainUnavailableError as exc:
        raise DependencyUnavailableError(
            f"the node is needed to read the deployed code and did not answer: {exc}"
        ) from None
    return ContractsOut(
        chain_id=deployment.chain_id,
        block_number=block,
        contracts=[
            _compare(name, address, codes[name], artifacts)
            for name, address in deployment.contracts.items()
        ],
    )


def _code(client: ChainClient, address: str, block: int) -> bytes:
    answer = client.request("eth_getCode", [address, hex(block)])
    return bytes.fromhex(str(answer).removeprefix("0x"))


def _built_runtime(artifacts: Artifacts | None, build_name: str) -> bytes | None:
    if artifacts is None or build_name not in artifacts.names():
        return None
    return artifacts.runtime_code(build_name)


def _expected(name: str, artifacts: Artifacts | None) -> tuple[str, bytes] | None:
    """(which build, its runtime code) for a deployment name, or None when there is none."""
    build_name = ARTIFACT_NAMES.get(name, name)
    runtime = _built_runtime(artifacts, build_name)
    if runtime:
        return build_name, runtime
    try:
        published = npm_artifacts.load(build_name).runtime
    except (KeyError, FileNotFoundError):
        return None
    return (f"npm:{build_name}", published) if published else None


def _compare(name: str, address: str, code: bytes, artifacts: Artifacts | None) -> ContractCodeOut:
    expected = _expected(name, artifacts)
    return ContractCodeOut(
        name=name,
        address=address,
        code_size=len(code),
        code_hash="0x" + keccak(code).hex() if code else None,
        artifact=expected[0] if expected else None,
        artifact_code_hash="0x" + keccak(expected[1]).hex() if expected else None,
        match=code_match(code, expected[1] if expected else None),
    )


def code_match(code: bytes, build: bytes | None) -> CodeMatch:
    """How the code on chain compares with the build's runtime code (the deploy's own check,
    backend/chain/code_check.py: equal once the build's blank immutables are masked)."""
    if not code:
        return "no_code"
    if build is None:
        return "no_artifact"
    if code == build:
        return "exact"
    return "differs" if code_check.compare("", "", code, build) else "immutables_only"


# ----------------------------------------------------------------------------- files


def _read(path: Path, what: str, how: str) -> bytes:
    if not path.is_file():
        raise ReportNotGeneratedError(f"{what} was not generated on this server yet: {how}")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ReportNotGeneratedError(f"{what} at {path.name} is larger than this API serves")
    return path.read_bytes()


def gas_snapshot(path: Path) -> GasSnapshotOut:
    raw = _read(path, "the gas snapshot", "run `make gas-check` (python -m bench.gas_snapshot)")
    return GasSnapshotOut.model_validate_json(raw)


def slither_report(reports: Path) -> SlitherReportOut:
    how = "run `make slither` (it writes reports/slither.md and reports/slither.json)"
    markdown = _read(reports / "slither.md", "the Slither report", how)
    report = json.loads(_read(reports / "slither.json", "the Slither report", how))
    findings = [_finding(item) for item in report.get("results", {}).get("detectors", [])]
    counts: dict[str, int] = {}
    for finding in findings:
        counts[finding.impact] = counts.get(finding.impact, 0) + 1
    moment = (reports / "slither.md").stat().st_mtime
    return SlitherReportOut(
        generated_at=datetime.fromtimestamp(moment, UTC),
        counts=counts,
        findings=findings[:MAX_FINDINGS],
        markdown=markdown.decode(errors="replace"),
    )


def _finding(item: dict) -> SlitherFinding:
    return SlitherFinding(
        detector=str(item.get("check", "")),
        impact=str(item.get("impact", "")),
        confidence=str(item.get("confidence", "")),
        location=item.get("first_markdown_element"),
        description=str(item.get("description", ""))[:MAX_DESCRIPTION],
    )


def document(name: str) -> DocumentOut:
    """One of the repository's design documents (the names of DOCUMENTS only)."""
    path = REPO_ROOT / "docs" / DOCUMENTS[name]
    return DocumentOut(name=name, markdown=_read(path, f"docs/{DOCUMENTS[name]}", "").decode())
