"""List pinned dependencies with newer releases on their registries (`make outdated`).

    python toolchain/outdated.py [--fail]

Python: every package of requirements.lock, as installed in .venv, against the package index pip
is configured with (`pip list --outdated`); top-level pins (requirements.txt) are marked "*".
npm: package-lock.json here, and web/package-lock.json when a web app is present (`npm outdated`).

Only versions are compared. Vulnerability databases (PyPI's advisories through pip-audit, npm
audit, OSV) are not reachable from the project's build machines, so this is no security audit:
run `pip-audit -r requirements.lock` and `npm audit` where those services answer.
Exit status 0 (1 with --fail when anything is behind; 2 when a registry could not be asked).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"


class RegistryError(RuntimeError):
    """A registry client failed (no network, no venv, no npm)."""


def normalise(name: str) -> str:
    """PyPI's name normalisation (PEP 503): case and runs of -_. do not matter."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned(requirements: Path) -> dict[str, str]:
    """name -> version of every `name==version` line of a requirements file."""
    pins = {}
    for line in requirements.read_text().splitlines():
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==(\S+)", line.split("#")[0].strip())
        if match:
            pins[normalise(match[1])] = match[2]
    return pins


def python_rows() -> list[tuple[str, str, str, str]]:
    """(name, pinned, latest, note) for each requirements.lock package behind the index."""
    if not VENV_PYTHON.exists():
        raise RegistryError(".venv missing: run make setup first")
    command = [str(VENV_PYTHON), "-m", "pip", "list", "--outdated", "--format=json"]
    result = subprocess.run(
        [*command, "--disable-pip-version-check"], capture_output=True, text=True, cwd=ROOT
    )
    if result.returncode != 0:
        raise RegistryError(f"pip list --outdated failed: {result.stderr.strip()[-500:]}")
    lock = pinned(ROOT / "requirements.lock")
    top_level = pinned(ROOT / "requirements.txt")
    rows = []
    for package in json.loads(result.stdout):
        name = normalise(package["name"])
        if name in lock:
            note = "*" if name in top_level else ""
            rows.append((package["name"], lock[name], package["latest_version"], note))
    return sorted(rows)


def npm_rows(folder: Path) -> list[tuple[str, str, str, str]]:
    """(name, current, latest, wanted) for each npm package of `folder` behind the registry."""
    npm = shutil.which("npm")
    if npm is None:
        raise RegistryError("npm not found on PATH")
    # npm outdated exits 1 when something is outdated: only its output tells a failure apart.
    result = subprocess.run([npm, "outdated", "--json"], capture_output=True, text=True, cwd=folder)
    try:
        found = json.loads(result.stdout or "{}")
    except json.JSONDecodeError:
        message = f"npm outdated failed in {folder.name}/: {result.stderr[-500:]}"
        raise RegistryError(message) from None
    if "error" in found:
        raise RegistryError(f"npm outdated failed in {folder.name}/: {found['error']}")
    return sorted(
        (name, info.get("current", "(not installed)"), info["latest"], info.get("wanted", ""))
        for name, info in found.items()
    )


def table(title: str, header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    if not rows:
        return f"{title}: all up to date\n"
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)) for r in rows]
    head = "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))
    return f"{title}: {len(rows)} behind\n  {head}\n" + "".join(f"  {line}\n" for line in lines)


def npm_folders() -> list[Path]:
    return [f for f in (ROOT, ROOT / "web") if (f / "package-lock.json").is_file()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fail", action="store_true", help="exit 1 when anything is behind")
    args = parser.parse_args(argv)
    behind, failed = 0, False
    try:
        rows = python_rows()
        behind += len(rows)
        header = ("package", "pinned", "latest", "top-level")
        print(table("Python (requirements.lock)", header, rows))
    except RegistryError as error:
        print(f"Python: {error}", file=sys.stderr)
        failed = True
    for folder in npm_folders():
        label = "package-lock.json" if folder == ROOT else f"{folder.name}/package-lock.json"
        try:
            rows = npm_rows(folder)
            behind += len(rows)
            print(table(f"npm ({label})", ("package", "current", "latest", "wanted"), rows))
        except RegistryError as error:
            print(f"npm ({label}): {error}", file=sys.stderr)
            failed = True
    print("Versions only: vulnerability databases are not reachable from the build machines.")
    if failed:
        return 2
    return 1 if args.fail and behind else 0


if __name__ == "__main__":
    sys.exit(main())
