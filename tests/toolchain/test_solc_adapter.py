"""toolchain/solc-native.js behaves like the native solc CLI as far as Ape and Slither need.

The adapter is driven as a subprocess, the way py-solc-x and crytic-compile drive `solc`, both
directly (`node toolchain/solc-native.js`) and through the `solc-v<version>` executable that
toolchain/setup.sh writes into the folder named by SOLCX_BINARY_PATH.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ADAPTER = ROOT / "toolchain" / "solc-native.js"
PINNED = json.loads((ROOT / "package.json").read_text())["dependencies"]["solc"]
OZ_REMAP = "@openzeppelin/contracts=node_modules/@openzeppelin/contracts"
OZ_ECDSA = "@openzeppelin/contracts/utils/cryptography/ECDSA.sol"


def solc(*args: str, stdin: str | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    node = shutil.which("node")
    assert node, "node is not on PATH"
    return subprocess.run(
        [node, str(ADAPTER), *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


def standard_json(sources: dict[str, str], remappings: list[str] | None = None) -> str:
    return json.dumps(
        {
            "language": "Solidity",
            "sources": {name: {"content": text} for name, text in sources.items()},
            "settings": {
                "remappings": remappings or [],
                "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object"]}},
            },
        }
    )


def compile_json(*args: str, stdin: str, cwd: Path = ROOT) -> dict:
    proc = solc("--standard-json", *args, stdin=stdin, cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def errors(output: dict) -> list[dict]:
    return [e for e in output.get("errors", []) if e["severity"] == "error"]


@pytest.fixture(scope="module")
def wrapper() -> Path:
    """The executable from toolchain/setup.sh; the venv's .pth sets SOLCX_BINARY_PATH."""
    folder = os.environ.get("SOLCX_BINARY_PATH")
    assert folder, "SOLCX_BINARY_PATH is unset: run toolchain/setup.sh and use the venv's Python"
    exe = Path(folder) / f"solc-v{PINNED}"
    assert os.access(exe, os.X_OK), f"{exe} missing: run toolchain/setup.sh"
    return exe


def test_version_output_is_what_py_solc_x_and_crytic_compile_parse(wrapper: Path) -> None:
    proc = solc("--version")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "solc, the solidity compiler commandline interface"
    assert lines[1].startswith(f"Version: {PINNED}+commit.")

    import solcx
    from crytic_compile.platform.solc import get_version

    assert str(solcx.wrapper.get_solc_version(wrapper)) == PINNED
    assert str(solcx.wrapper.get_solc_version(wrapper, with_commit_hash=True)).startswith(
        f"{PINNED}+commit."
    )
    assert [str(v) for v in solcx.get_installed_solc_versions()] == [PINNED]
    assert get_version(str(wrapper), None) == PINNED


def test_standard_json_compiles_an_openzeppelin_import_through_a_remapping(wrapper: Path) -> None:
    source = """
        // SPDX-License-Identifier: MIT
        pragma solidity ^0.8.24;
        import {ECDSA} from "@OZ_ECDSA";
        contract Recover {
            function signer(bytes32 h, bytes calldata s) external pure returns (address) {
                return ECDSA.recover(h, s);
            }
        }
    """
    stdin = standard_json({"Recover.sol": source.replace("@OZ_ECDSA", OZ_ECDSA)}, [OZ_REMAP])
    for output in (
        compile_json("--base-path", str(ROOT), stdin=stdin),
        json.loads(
            subprocess.run(
                [str(wrapper), "--standard-json", "--allow-paths", str(ROOT)],
                input=stdin,
                capture_output=True,
                text=True,
                cwd=ROOT,
                check=True,
                timeout=120,
            ).stdout
        ),
    ):
        assert errors(output) == []
        bytecode = output["contracts"]["Recover.sol"]["Recover"]["evm"]["bytecode"]["object"]
        assert len(bytecode) > 100 and all(c in "0123456789abcdef" for c in bytecode)
        # The remapping turns the import into a source unit under node_modules/.
        assert f"node_modules/{OZ_ECDSA}" in output["sources"]


def test_unknown_flag_exits_nonzero_with_a_message() -> None:
    proc = solc("--bin", "Foo.sol")
    assert proc.returncode != 0
    assert "unsupported argument --bin" in proc.stderr


def test_no_mode_prints_usage_and_exits_nonzero() -> None:
    proc = solc()
    assert proc.returncode != 0
    assert "usage:" in proc.stderr


def test_missing_import_is_a_compiler_error_naming_the_file(tmp_path: Path) -> None:
    stdin = standard_json(
        {"A.sol": 'pragma solidity ^0.8.0; import "lib/Missing.sol"; contract A {}'}
    )
    output = compile_json("--base-path", str(tmp_path), stdin=stdin, cwd=tmp_path)
    messages = [e["message"] for e in errors(output)]
    assert messages and any("lib/Missing.sol" in m for m in messages), messages
    assert "contracts" not in output or not output["contracts"]


def test_import_outside_the_allowed_paths_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "Secret.sol"
    secret.write_text("pragma solidity ^0.8.0; contract Secret {}")
    project = tmp_path / "project"
    project.mkdir()
    stdin = standard_json({"A.sol": f'pragma solidity ^0.8.0; import "{secret}"; contract A {{}}'})

    output = compile_json("--base-path", str(project), stdin=stdin, cwd=project)
    messages = [e["message"] for e in errors(output)]
    assert any(str(secret) in m and "outside the allowed paths" in m for m in messages), messages

    # --allow-paths lifts the restriction, as with the native CLI.
    allowed = compile_json(
        "--base-path", str(project), "--allow-paths", str(outside), stdin=stdin, cwd=project
    )
    assert errors(allowed) == []


def test_invalid_json_gives_a_json_error() -> None:
    proc = solc("--standard-json", stdin="{ this is not json")
    assert proc.returncode == 0, proc.stderr  # native solc reports input errors in the output
    output = json.loads(proc.stdout)
    assert [e["type"] for e in output["errors"]] == ["JSONError"]
    assert output["errors"][0]["severity"] == "error"
