"""toolchain/lanes.py: `make test` runs every test file, in exactly one lane."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # `toolchain` is not a package the venv installs

from toolchain.lanes import LANES, lane_arguments  # noqa: E402


def _selects(arguments: list[str], test_file: Path) -> bool:
    """Whether `ape test arguments` collects `test_file` (paths and --ignore, as pytest reads
    them: a path selects itself and everything under it)."""
    relative = test_file.relative_to(ROOT)
    ignored = [Path(a.removeprefix("--ignore=")) for a in arguments if a.startswith("--ignore=")]
    selected = [Path(a) for a in arguments if not a.startswith("-")]
    under = lambda folder: relative == folder or folder in relative.parents  # noqa: E731
    return any(map(under, selected)) and not any(map(under, ignored))


def test_lanes__every_test_file_in_exactly_one_lane():
    test_files = sorted((ROOT / "tests").rglob("test_*.py"))
    assert len(test_files) > 100
    lanes_of = {f: [n for n in LANES if _selects(lane_arguments(n), f)] for f in test_files}
    assert {str(f.relative_to(ROOT)): n for f, n in lanes_of.items() if len(n) != 1} == {}


def test_lanes__every_path_a_lane_names_exists():
    for name in LANES:
        for argument in lane_arguments(name):
            assert (ROOT / argument.removeprefix("--ignore=")).exists(), (name, argument)


def test_lanes__contract_tests_first_in_their_lane_and_in_no_other():
    lanes = {name: lane_arguments(name) for name in LANES}
    assert lanes["contracts"][0] == "tests/contracts"
    contract_test = next((ROOT / "tests" / "contracts").rglob("test_*.py"))
    assert [n for n in LANES if _selects(lanes[n], contract_test)] == ["contracts"]
