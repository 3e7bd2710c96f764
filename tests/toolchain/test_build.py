"""toolchain/build.py compiles exactly when the sources or compiler settings changed.

A fake project in a temporary folder and a recording compile command stand in for `ape compile
--force` (minutes of via-IR): what is tested is the decision and the stamp, which the real command
does not change.
"""

from __future__ import annotations

import importlib.util
import json
import shlex
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("copyvault_build", ROOT / "toolchain" / "build.py")
build_tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build_tool)


@pytest.fixture
def scratch_project(tmp_path):
    """A project with the build's inputs, and a compile command that records each run."""
    (tmp_path / "contracts" / "interfaces").mkdir(parents=True)
    (tmp_path / "contracts" / "Vault.sol").write_text("contract Vault {}\n")
    (tmp_path / "contracts" / "interfaces" / "IVault.sol").write_text("interface IVault {}\n")
    (tmp_path / "ape-config.yaml").write_text("solidity:\n  optimization_runs: 10000\n")
    (tmp_path / "package-lock.json").write_text(json.dumps({"solc": "0.8.30"}))
    (tmp_path / "toolchain").mkdir()
    (tmp_path / "toolchain" / "solc-native.js").write_text("// adapter\n")
    return tmp_path


def compile_runs(scratch_project: Path) -> int:
    log = scratch_project / "compiles.log"
    return len(log.read_text().splitlines()) if log.exists() else 0


def run_build(scratch_project: Path, succeed: bool = True) -> int:
    """build.py's main with a compile that writes the artefacts (or fails) and logs itself."""
    script = (
        "import pathlib, sys; p = pathlib.Path('.build'); p.mkdir(exist_ok=True);"
        "(p / '__local__.json').write_text('{}');"
        "open('compiles.log', 'a').write('compiled\\n');"
        f"sys.exit({0 if succeed else 3})"
    )
    command = shlex.join([sys.executable, "-c", script])
    return build_tool.main(["--root", str(scratch_project), "--compile-command", command])


def test_build__first_run__compiles_and_then_not_again(scratch_project):
    assert run_build(scratch_project) == 0
    assert run_build(scratch_project) == 0
    assert compile_runs(scratch_project) == 1
    assert build_tool.main(["--root", str(scratch_project), "--check"]) == 0


@pytest.mark.parametrize(
    "change",
    [
        lambda p: (p / "contracts" / "Vault.sol").write_text("contract Vault { uint x; }\n"),
        lambda p: (p / "contracts" / "interfaces" / "IVault.sol").write_text("interface I {}\n"),
        lambda p: (p / "contracts" / "New.sol").write_text("contract New {}\n"),
        lambda p: (p / "contracts" / "Vault.sol").unlink(),
        lambda p: (p / "contracts" / "Vault.sol").rename(p / "contracts" / "Renamed.sol"),
        lambda p: (p / "ape-config.yaml").write_text("solidity:\n  optimization_runs: 200\n"),
        lambda p: (p / "package-lock.json").write_text(json.dumps({"solc": "0.8.31"})),
        lambda p: (p / "toolchain" / "solc-native.js").write_text("// adapter v2\n"),
        lambda p: (p / ".build" / "__local__.json").unlink(),
    ],
    ids=[
        "source-edited",
        "imported-file-edited",
        "source-added",
        "source-deleted",
        "source-renamed",
        "compiler-settings",
        "npm-lock",
        "solc-adapter",
        "artefacts-deleted",
    ],
)
def test_build__a_change__recompiles_once(scratch_project, change):
    run_build(scratch_project)
    change(scratch_project)
    assert build_tool.main(["--root", str(scratch_project), "--check"]) == 1
    assert run_build(scratch_project) == 0
    assert run_build(scratch_project) == 0
    assert compile_runs(scratch_project) == 2


def test_build__unchanged_content_touched__no_compile(scratch_project):
    run_build(scratch_project)
    vault = scratch_project / "contracts" / "Vault.sol"
    vault.write_text(vault.read_text())
    (scratch_project / "contracts" / ".cache").mkdir()
    (scratch_project / "contracts" / ".cache" / "dependency.json").write_text("{}")
    run_build(scratch_project)
    assert compile_runs(scratch_project) == 1


def test_build__failed_compile__leaves_no_stamp_so_it_is_retried(scratch_project):
    run_build(scratch_project)
    (scratch_project / "contracts" / "Vault.sol").write_text("contract Vault { broken\n")
    assert run_build(scratch_project, succeed=False) == 3
    assert build_tool.main(["--root", str(scratch_project), "--check"]) == 1
    assert run_build(scratch_project) == 0
    assert compile_runs(scratch_project) == 3


def test_build__the_repositorys_inputs_include_every_contract():
    files = {p.as_posix() for p in build_tool.input_files(ROOT)}
    contracts = {p.relative_to(ROOT).as_posix() for p in (ROOT / "contracts").rglob("*.sol")}
    assert contracts and contracts <= files
    assert {"ape-config.yaml", "package-lock.json"} <= files
