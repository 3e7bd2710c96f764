#!/usr/bin/env python3
"""Slither gate: run Slither over contracts/ and fail on untriaged Medium or High findings.

Run it with the venv's Python (`make slither` does). It

* runs Slither over contracts/ with the compiler that toolchain/setup.sh installed, the import
  remappings of ape-config.yaml, and results under node_modules/ and contracts/test/ (mocks)
  filtered out. In-source `slither-disable` comments and slither.db.json are ignored
  (--show-ignored-findings): every accepted finding is justified in the triage file;
* writes reports/slither.json, reports/slither.sarif and reports/slither.md;
* exits 1 when a High or Medium impact finding is not covered by an entry of the triage file
  (slither.triage.json), when a triage entry matches no finding any more (stale), when a triage
  entry is malformed, or when docs/slither-triage.md has no section headed by an entry's id;
* exits 2 when Slither itself fails (for example, the contracts do not compile).

A triage entry names a detector and a match that survives edits elsewhere in the file (no line
numbers); docs/slither-triage.md describes the format.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GATED_IMPACTS = ("High", "Medium")
# Impacts the Markdown report lists with a triage line each (gated or not): an accepted Low finding
# is argued in the triage file like a Medium one, and an unargued one is shown as such.
TRIAGE_LINE_IMPACTS = ("High", "Medium", "Low")
IMPACT_ORDER = ("High", "Medium", "Low", "Informational", "Optimization")
# Slither strips "/" and "." from both ends of this regex, hence the parentheses. It drops a
# result when ANY of its elements lies in these paths (not only the primary one).
FILTER_PATHS = "(node_modules/|contracts/test/)"
MATCH_KEYS = ("contract", "function", "variable", "snippet")
ENTRY_KEYS = {"id", "detector", "match", "count", "justification"}


class GateError(Exception):
    """The gate cannot judge: bad triage file, missing compiler, Slither failure."""


# ------------------------------------------------------------------------- configuration


def default_solc() -> Path:
    """The wrapper that toolchain/setup.sh wrote: $SOLCX_BINARY_PATH/solc-v<package.json pin>."""
    pinned = json.loads((ROOT / "package.json").read_text())["dependencies"]["solc"]
    folder = os.environ.get("SOLCX_BINARY_PATH")
    if not folder:
        raise GateError(
            "SOLCX_BINARY_PATH is not set: run this with the venv's Python after "
            "toolchain/setup.sh (`make slither`), or pass --solc"
        )
    return Path(folder) / f"solc-v{pinned}"


def ape_solidity_settings() -> dict:
    import yaml  # from the venv (a dependency of eth-ape)

    config = yaml.safe_load((ROOT / "ape-config.yaml").read_text()) or {}
    return config.get("solidity") or {}


def slither_command(solc: Path, reports: Path) -> list[str]:
    settings = ape_solidity_settings()
    slither = Path(sys.executable).parent / "slither"
    if not slither.exists():
        found = shutil.which("slither")
        if not found:
            raise GateError("slither not found: run this with the venv's Python (`make slither`)")
        slither = Path(found)
    cmd = [
        str(slither),
        "contracts",
        "--solc", str(solc),
        "--solc-standard-json",
        "--filter-paths", FILTER_PATHS,
        "--json", str(reports / "slither.json"),
        "--sarif", str(reports / "slither.sarif"),
        "--fail-none",
        "--show-ignored-findings",
    ]  # fmt: skip
    remaps = settings.get("import_remapping") or []
    if remaps:
        cmd.append("--solc-remaps=" + " ".join(remaps))
    solc_args = []
    if settings.get("optimize"):
        solc_args.append("--optimize")
    if settings.get("via_ir"):
        solc_args.append("--via-ir")
    if solc_args:
        cmd.append("--solc-args=" + " ".join(solc_args))  # "=": the value starts with "--"
    return cmd


# ------------------------------------------------------------------------- findings


@dataclass
class Finding:
    detector: str
    impact: str
    confidence: str
    description: str
    location: str  # file#lines of the primary element, for people (never for matching)
    contract: str | None  # of the primary element
    function: str | None  # name of the primary element's function, if any
    signature: str | None  # full signature of that function
    variable: str | None  # name of the primary element, if it is a state variable
    sources: list[str]  # whitespace-normalised source text of every element
    entries: list[str] = field(default_factory=list)  # ids of the triage entries covering it

    @property
    def gated(self) -> bool:
        return self.impact in GATED_IMPACTS


def _normalise(text: str) -> str:
    return " ".join(text.split())


def _owner(element: dict, kind: str) -> dict | None:
    """The element itself or its nearest parent of the given type ('contract', 'function')."""
    node = element
    while node:
        if node.get("type") == kind:
            return node
        node = (node.get("type_specific_fields") or {}).get("parent")
    return None


def _source_text(element: dict, cache: dict[Path, bytes]) -> str:
    mapping = element.get("source_mapping") or {}
    name = mapping.get("filename_absolute") or mapping.get("filename_relative")
    if not name or mapping.get("start") is None:
        return ""
    path = Path(name) if Path(name).is_absolute() else ROOT / name
    if path not in cache:
        try:
            cache[path] = path.read_bytes()
        except OSError:
            cache[path] = b""
    start, length = mapping["start"], mapping.get("length") or 0
    return _normalise(cache[path][start : start + length].decode("utf-8", "replace"))


def parse_findings(report: dict) -> list[Finding]:
    cache: dict[Path, bytes] = {}
    findings = []
    for result in (report.get("results") or {}).get("detectors") or []:
        elements = result.get("elements") or []
        primary = elements[0] if elements else {}
        contract = _owner(primary, "contract")
        function = _owner(primary, "function")
        mapping = primary.get("source_mapping") or {}
        lines = mapping.get("lines") or []
        location = mapping.get("filename_relative", "?")
        if lines:
            location += f"#{lines[0]}" + (f"-{lines[-1]}" if len(lines) > 1 else "")
        findings.append(
            Finding(
                detector=result["check"],
                impact=result["impact"],
                confidence=result.get("confidence", ""),
                description=result.get("description", "").strip(),
                location=location,
                contract=contract.get("name") if contract else None,
                function=function.get("name") if function else None,
                signature=((function or {}).get("type_specific_fields") or {}).get("signature"),
                variable=primary.get("name") if primary.get("type") == "variable" else None,
                sources=[_source_text(e, cache) for e in elements],
            )
        )
    return findings


# ------------------------------------------------------------------------- triage


@dataclass
class Entry:
    id: str
    detector: str
    match: dict[str, str]
    justification: str
    count: int | None
    matched: list[Finding] = field(default_factory=list)

    def covers(self, f: Finding) -> bool:
        if f.detector != self.detector:
            return False
        m = self.match
        if "contract" in m and m["contract"] != f.contract:
            return False
        if "function" in m and m["function"] not in (f.function, f.signature):
            return False
        if "variable" in m and m["variable"] != f.variable:
            return False
        if "snippet" in m and not any(_normalise(m["snippet"]) in s for s in f.sources):
            return False
        return True


def load_triage(path: Path) -> list[Entry]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise GateError(f"triage file {path.name} is missing") from exc
    except json.JSONDecodeError as exc:
        raise GateError(f"triage file {path.name} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("entries"), list):
        raise GateError(f'{path.name} must be an object with a list "entries"')
    entries, problems, seen = [], [], set()
    for i, raw in enumerate(data["entries"]):
        where = f"{path.name} entry {i}"
        if not isinstance(raw, dict):
            problems.append(f"{where}: not an object")
            continue
        where = f"{path.name} entry {raw.get('id', i)!r}"
        unknown = set(raw) - ENTRY_KEYS
        if unknown:
            problems.append(f"{where}: unknown keys {sorted(unknown)}")
        for key in ("id", "detector", "justification"):
            if not isinstance(raw.get(key), str) or not raw[key].strip():
                problems.append(f"{where}: {key!r} must be a non-empty string")
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", str(raw.get("id", ""))):
            problems.append(f"{where}: 'id' must be lower-case letters, digits and dashes")
        elif raw["id"] in seen:
            problems.append(f"{where}: duplicate id")
        seen.add(raw.get("id"))
        if "TODO" in str(raw.get("justification", "")):
            problems.append(f"{where}: justification still says TODO")
        match = raw.get("match")
        if (
            not isinstance(match, dict)
            or not match
            or set(match) - set(MATCH_KEYS)
            or not all(isinstance(v, str) and v.strip() for v in match.values())
        ):
            problems.append(f"{where}: 'match' must map some of {MATCH_KEYS} to non-empty strings")
        elif not set(match) & {"function", "variable", "snippet"}:
            problems.append(f"{where}: 'match' needs a function, variable or snippet")
        count = raw.get("count")
        if count is not None and (not isinstance(count, int) or count < 1):
            problems.append(f"{where}: 'count' must be a positive integer")
        if not problems:
            entries.append(Entry(raw["id"], raw["detector"], match, raw["justification"], count))
    if problems:
        raise GateError("invalid triage file:\n  " + "\n  ".join(problems))
    return entries


def shown(path: Path) -> str:
    """A path relative to the project root when it is inside it."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def undocumented(entries: list[Entry], doc: Path) -> list[str]:
    text = doc.read_text() if doc.exists() else ""
    # Each entry has a section whose heading is its id: "### <id>" (or "## <id>").
    return [
        e.id for e in entries if not re.search(rf"^#{{2,4}} +`?{re.escape(e.id)}`? *$", text, re.M)
    ]


# ------------------------------------------------------------------------- reports


def stub(f: Finding) -> str:
    """A triage entry to start from (the justification is for a person to write)."""
    parts = [f.detector, f.contract, f.function or f.variable]
    match = (
        {"contract": f.contract, "function": f.function}
        if f.function
        else {"contract": f.contract, "variable": f.variable}
        if f.variable
        else {"snippet": "<a distinctive piece of the flagged source>"}
    )
    entry = {
        "id": re.sub(r"[^a-z0-9]+", "-", " ".join(filter(None, parts)).lower()).strip("-"),
        "detector": f.detector,
        "match": {k: v for k, v in match.items() if v},
        "justification": "TODO: why this is acceptable",
    }
    return json.dumps(entry)


def render_markdown(findings, entries, failing, stale, undoc, verdict: str) -> str:
    def cell(text: str) -> str:
        return _normalise(text).replace("|", "\\|")

    out = ["# Slither report", ""]
    out.append(
        f"Slither {version('slither-analyzer')} over `contracts/` (filtered: `{FILTER_PATHS}`). "
        "Gate: every High or Medium impact finding must be covered by an entry of "
        "`slither.triage.json`, documented in `docs/slither-triage.md`."
    )
    out += ["", f"**Gate: {verdict}**", "", "| Impact | Findings | Triaged |", "|---|---|---|"]
    for impact in IMPACT_ORDER:
        group = [f for f in findings if f.impact == impact]
        if group:
            out.append(f"| {impact} | {len(group)} | {sum(1 for f in group if f.entries)} |")
    if failing:
        out += ["", "## Untriaged High/Medium findings (gate failures)", ""]
        out += [f"- **{f.impact}** `{f.detector}` at `{f.location}`: {cell(f.description)}"
                for f in failing]  # fmt: skip
    if stale:
        out += ["", "## Stale triage entries (match nothing)", ""]
        out += [f"- `{e.id}` ({e.detector}, {json.dumps(e.match)})" for e in stale]
    if undoc:
        out += ["", "## Triage entries missing from docs/slither-triage.md", ""]
        out += [f"- `{i}`" for i in undoc]
    lows = [f for f in findings if f.impact == "Low"]
    if lows:
        justification = {e.id: e.justification for e in entries}
        out += ["", "## Low findings (not gated), each with its triage", ""]
        for f in lows:
            triage = (
                "; ".join(f"`{i}`: {cell(justification[i])}" for i in f.entries)
                if f.entries
                else "not triaged: no entry argues it yet (add one to slither.triage.json)"
            )
            out.append(f"- `{f.detector}` at `{f.location}`: {cell(f.description)}")
            out.append(f"  - triage: {triage}")
    if entries:
        out += ["", "## Triage entries", "", "| Id | Detector | Match | Findings | Justification |"]
        out.append("|---|---|---|---|---|")
        for e in entries:
            match = ", ".join(f"{k}: `{cell(v)}`" for k, v in e.match.items())
            row = [f"`{e.id}`", e.detector, match, str(len(e.matched)), cell(e.justification)]
            out.append("| " + " | ".join(row) + " |")
    out += ["", "## All findings", ""]
    if not findings:
        out.append("None.")
    for impact in IMPACT_ORDER:
        group = [f for f in findings if f.impact == impact]
        if not group:
            continue
        out += [f"### {impact} ({len(group)})", ""]
        for f in group:
            status = (
                f"triaged: {', '.join(f'`{i}`' for i in f.entries)}"
                if f.entries
                else "UNTRIAGED"
                if f.gated
                else "not triaged, not gated"
                if f.impact in TRIAGE_LINE_IMPACTS
                else "not gated"
            )
            out.append(
                f"- `{f.detector}` ({f.confidence} confidence) at `{f.location}` [{status}]: "
                f"{cell(f.description)}"
            )
        out.append("")
    return "\n".join(out).rstrip() + "\n"


# ------------------------------------------------------------------------- main


def run(args: argparse.Namespace) -> int:
    triage_path, doc_path, reports = args.triage, args.doc, args.reports
    entries = load_triage(triage_path)
    solc = args.solc or default_solc()
    if not os.access(solc, os.X_OK):
        raise GateError(f"compiler {solc} not found or not executable: run toolchain/setup.sh")

    reports.mkdir(parents=True, exist_ok=True)
    for name in ("slither.json", "slither.sarif", "slither.md"):
        (reports / name).unlink(missing_ok=True)  # Slither refuses to overwrite its outputs
    cmd = slither_command(solc, reports)
    print("slither-gate: running", " ".join(cmd), flush=True)
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    report_path = reports / "slither.json"
    report = json.loads(report_path.read_text()) if report_path.exists() else {}
    if proc.returncode != 0 or not report.get("success"):
        sys.stderr.write(proc.stderr[-8000:])
        raise GateError(
            f"Slither failed (exit {proc.returncode}): {report.get('error') or 'see output above'}"
        )

    findings = parse_findings(report)
    for e in entries:
        e.matched = [f for f in findings if e.covers(f)]
        for f in e.matched:
            f.entries.append(e.id)
    failing = [f for f in findings if f.gated and not f.entries]
    stale = [e for e in entries if not e.matched]
    miscounted = [e for e in entries if e.matched and e.count and len(e.matched) != e.count]
    undoc = undocumented(entries, doc_path)
    ok = not (failing or stale or miscounted or undoc)
    verdict = "PASS" if ok else "FAIL"

    (reports / "slither.md").write_text(
        render_markdown(findings, entries, failing, stale + miscounted, undoc, verdict)
    )

    counts = ", ".join(
        f"{sum(1 for f in findings if f.impact == i)} {i}"
        for i in IMPACT_ORDER
        if any(f.impact == i for f in findings)
    )
    covered = sum(1 for f in findings if f.entries)
    print(f"slither-gate: {len(findings)} findings ({counts or 'none'}); "
          f"{covered} covered by {len(entries)} triage entries")  # fmt: skip
    for f in failing:
        print(f"  UNTRIAGED {f.impact} {f.detector} at {f.location}")
        print(f"    {f.description.splitlines()[0] if f.description else ''}")
        print(f"    triage stub: {stub(f)}")
    for e in stale:
        print(f"  STALE triage entry {e.id!r}: {e.detector} {json.dumps(e.match)} matches nothing")
    for e in miscounted:
        print(f"  triage entry {e.id!r} covers {len(e.matched)} findings, its count says {e.count}")
    for i in undoc:
        print(f"  triage entry {i!r} is not documented in {shown(doc_path)}")
    print(f"slither-gate: reports in {shown(reports)}/ (slither.json, .sarif, .md)")
    print(f"slither-gate: {verdict}")
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--solc", type=Path, help="solc executable (default: the one from setup)")
    parser.add_argument("--triage", type=Path, default=ROOT / "slither.triage.json")
    parser.add_argument("--doc", type=Path, default=ROOT / "docs" / "slither-triage.md")
    parser.add_argument("--reports", type=Path, default=ROOT / "reports")
    args = parser.parse_args()
    try:
        return run(args)
    except GateError as exc:
        print(f"slither-gate: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
