"""Read-only views for auditors: deployed code against the build, gas figures, the Slither report
and the security model (under /v1/auditor; not the operators' hash-chained audit log)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter
from fastapi import Path as PathParam

from backend.api.deps import StateDep, run_blocking
from backend.api.errors import error_responses
from backend.api.schemas import ContractsOut, DocumentOut, GasSnapshotOut, SlitherReportOut
from backend.chain.artifacts import REPO_ROOT, Artifacts, load
from backend.exceptions import ArtifactError
from backend.services import auditor

router = APIRouter(tags=["auditor"], prefix="/auditor")

DocumentName = Literal["security-model", "protocol", "slither-triage", "errors", "tokens"]


@router.get("/contracts", response_model=ContractsOut, responses=error_responses(503))
async def contracts(state: StateDep) -> ContractsOut:
    """Every contract of the deployment with its address, the keccak256 of its code on chain, and
    whether that code is the build's (this repository's compiled contracts, or the published npm
    bytecode of reference systems)."""
    return await run_blocking(
        auditor.deployed_contracts,
        state.quick_client,
        state.deployment,
        _artifacts(state.settings.artifacts_file),
    )


def _artifacts(path: Path | None) -> Artifacts | None:
    """The build, or None when this server has none (every contract then reads `no_artifact`,
    unless npm publishes its bytecode)."""
    try:
        return load(path)
    except ArtifactError:
        return None


@router.get("/gas", response_model=GasSnapshotOut, responses=error_responses(404))
async def gas(state: StateDep) -> GasSnapshotOut:
    """The gas snapshot CI checks every change against (bench/gas-snapshot.json)."""
    default = REPO_ROOT / "bench" / "gas-snapshot.json"
    return auditor.gas_snapshot(Path(state.settings.gas_snapshot_file or default))


@router.get("/slither", response_model=SlitherReportOut, responses=error_responses(404))
async def slither(state: StateDep) -> SlitherReportOut:
    """The Slither report `make slither` wrote (404 `report_not_generated` before it ran)."""
    return auditor.slither_report(Path(state.settings.reports_dir or REPO_ROOT / "reports"))


@router.get("/documents/{name}", response_model=DocumentOut, responses=error_responses(404))
async def document(
    name: Annotated[DocumentName, PathParam(description="Which design document.")],
) -> DocumentOut:
    """A design document of this repository as markdown: the security model, the protocol, the
    Slither triage, the contract errors, the token support."""
    return auditor.document(name)
