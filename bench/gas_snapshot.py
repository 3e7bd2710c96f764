"""The gas snapshot: the key figures of `python -m bench.gas`, committed in bench/gas-snapshot.json,
and a check that fails when a figure gets worse than the snapshot by more than a tolerance (the way
`forge snapshot --check` works, with a tolerance because calldata bytes of signatures and deadlines
may differ by a few gas between runs).

    python -m bench.gas --no-breakdown   # measure (writes reports/bench-gas.json)
    python -m bench.gas_snapshot check   # compare with bench/gas-snapshot.json; 1 on a rise
    python -m bench.gas_snapshot write   # accept the new figures (commit the file)

"Worse" is more gas for gas figures and fewer followers for the "most followers in one
transaction" rows. Improvements and new figures are printed, never fail; a figure that disappeared
fails (a renamed figure needs a new snapshot, written on purpose).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.report import text_table

DEFAULT_REPORT = "reports/bench-gas.json"
DEFAULT_SNAPSHOT = str(Path(__file__).with_name("gas-snapshot.json"))
DEFAULT_TOLERANCE = 0.002  # 0.2 %: far above calldata noise, far below any real change

# What a figure's entry holds, and whether a higher value is the worse one.
MEASURES = {"gas": True, "gas_limit": True, "count": False}


@dataclass(frozen=True)
class Change:
    figure: str
    measure: str
    before: int | None
    after: int | None
    tolerance: float

    @property
    def relative(self) -> float | None:
        if not self.before or self.after is None:
            return None
        return (self.after - self.before) / self.before

    @property
    def verdict(self) -> str:
        if self.after is None:
            return "MISSING"
        if self.before is None:
            return "new"
        rise_is_worse = MEASURES[self.measure]
        worse = self.after > self.before if rise_is_worse else self.after < self.before
        if not worse:
            return "better"
        return "WORSE" if abs(self.relative or 0.0) > self.tolerance else "within tolerance"

    @property
    def fails(self) -> bool:
        return self.verdict in ("WORSE", "MISSING")


def figures_of(report: dict[str, Any]) -> dict[str, dict[str, int]]:
    """The snapshot's view of a bench.gas JSON report: per figure key, its measured numbers."""
    out: dict[str, dict[str, int]] = {}
    for figure in report["figures"]:
        measured = {m: figure[m] for m in MEASURES if figure.get(m) is not None}
        if measured:
            out[figure["key"]] = measured
    return out


def compare(
    snapshot: dict[str, dict[str, int]],
    current: dict[str, dict[str, int]],
    tolerance: float,
) -> list[Change]:
    """Every measure that differs between the snapshot and the current figures."""
    changes = []
    for key in sorted(snapshot.keys() | current.keys()):
        before, after = snapshot.get(key, {}), current.get(key, {})
        for measure in MEASURES:
            old, new = before.get(measure), after.get(measure)
            if old != new and (old is not None or new is not None):
                changes.append(Change(key, measure, old, new, tolerance))
    return changes


def format_changes(changes: Sequence[Change]) -> str:
    if not changes:
        return "gas snapshot: every figure equals the snapshot"
    rows = [("Figure", "Measure", "Snapshot", "Now", "Change", "Verdict")]
    for c in changes:
        rel = c.relative
        rows.append(
            (
                c.figure,
                c.measure,
                f"{c.before:,}" if c.before is not None else "—",
                f"{c.after:,}" if c.after is not None else "—",
                f"{rel:+.3%}" if rel is not None else "",
                c.verdict,
            )
        )
    return "\n".join(text_table(rows))


def _load(path: str) -> dict[str, Any]:
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise SystemExit(
            f"{path} not found: run `python -m bench.gas --no-breakdown` first"
            if path.endswith("bench-gas.json")
            else f"{path} not found: write it with `python -m bench.gas_snapshot write`"
        ) from None


def check(report_path: str, snapshot_path: str, tolerance: float) -> int:
    snapshot = _load(snapshot_path)
    changes = compare(snapshot["figures"], figures_of(_load(report_path)), tolerance)
    print(format_changes(changes))
    failed = [c for c in changes if c.fails]
    if failed:
        print(
            f"\ngas snapshot: {len(failed)} figure(s) worse than {snapshot_path} by more than "
            f"{tolerance:.1%} or missing. If the rise is intended, run "
            "`python -m bench.gas_snapshot write` and commit the snapshot with the reason."
        )
        return 1
    print(f"\ngas snapshot: no figure worse than the snapshot by more than {tolerance:.1%}")
    return 0


def write(report_path: str, snapshot_path: str) -> int:
    report = _load(report_path)
    snapshot = {
        "about": "Key figures of python -m bench.gas, checked by python -m bench.gas_snapshot",
        "anvil": report["meta"].get("anvil"),
        "hardfork": report["meta"].get("hardfork"),
        "figures": figures_of(report),
    }
    Path(snapshot_path).write_text(json.dumps(snapshot, indent=2, sort_keys=False) + "\n")
    print(f"gas snapshot written to {snapshot_path} ({len(snapshot['figures'])} figures)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.gas_snapshot", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("action", choices=("check", "write"))
    parser.add_argument("--report", default=DEFAULT_REPORT, help="bench.gas JSON report")
    parser.add_argument("--snapshot", default=DEFAULT_SNAPSHOT, help="the committed snapshot")
    parser.add_argument(
        "--tolerance",
        type=float,
        default=DEFAULT_TOLERANCE,
        help=f"largest relative rise that passes (default {DEFAULT_TOLERANCE})",
    )
    args = parser.parse_args(argv)
    if args.action == "write":
        return write(args.report, args.snapshot)
    return check(args.report, args.snapshot, args.tolerance)


if __name__ == "__main__":
    raise SystemExit(main())
