"""backend/chain/eip712_types.json (what the web app imports) is exactly what eip712.py defines:
regenerate it with `python -m backend.chain.eip712` when a type changes."""

from __future__ import annotations

import subprocess
import sys

from backend.chain import eip712


def test_committed_file__equals_the_python_types():
    assert eip712.TYPES_FILE.read_text() == eip712.types_json(), (
        "backend/chain/eip712_types.json is stale: run python -m backend.chain.eip712"
    )


def test_each_json_type__spells_its_type_string():
    document = eip712.types_document()
    for name, members in document["types"].items():
        joined = ",".join(member["type"] + " " + member["name"] for member in members)
        spelled = f"{name}({joined})"
        assert spelled == document["type_strings"][name]
    assert set(document["types"]) == {"EIP712Domain", *eip712.MESSAGE_TYPES}


def test_check_command__passes_on_the_committed_file_fails_on_a_stale_one(tmp_path):
    ok = subprocess.run([sys.executable, "-m", "backend.chain.eip712", "--check"], check=False)
    assert ok.returncode == 0
    stale = tmp_path / "eip712_types.json"
    stale.write_text(eip712.types_json().replace("uint256", "uint128", 1))
    assert eip712.main(["--check", str(stale)]) == 1
    assert eip712.main([str(stale)]) == 0  # regenerated
    assert eip712.main(["--check", str(stale)]) == 0
