"""Compile the contracts only when what the build is made of changed (`make build`).

`ape compile --force` is a full via-IR compile (minutes on a busy machine); running it before every
test run wasted that time, while plain `ape compile` trusts Ape's per-file checksums, which do not
cover compiler settings in ape-config.yaml or the npm packages (OpenZeppelin, solc) sources import.

So this script hashes everything the artefacts depend on (INPUTS below: every file under
contracts/, ape-config.yaml, package-lock.json, the solc adapter) and compares the digest with the
stamp written after the last successful compile. Same digest and the artefacts present: nothing to
do. Anything else: `ape compile --force`, then the new stamp. The stamp is written only after the
compile succeeded, so a failed or interrupted compile is redone next time and a stale build is never
tested.

    python toolchain/build.py            # compile if needed
    python toolchain/build.py --check    # exit 1 (and say why) if a compile is needed
"""

from __future__ import annotations

import argparse
import hashlib
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# What the artefacts are built from: folders are taken whole (every file, recursively).
INPUTS = ("contracts", "ape-config.yaml", "package-lock.json", "toolchain/solc-native.js")
ARTEFACTS = Path(".build") / "__local__.json"
STAMP = Path(".build") / ".copyvault-sources.sha256"
# Ape's own caches inside contracts/ are outputs, not inputs.
IGNORED_PARTS = frozenset({".cache", "__pycache__"})
COMPILE_COMMAND = ("ape", "compile", "--force")


def input_files(root: Path) -> list[Path]:
    """Every file the build depends on, relative to `root`, in a stable order."""
    files: list[Path] = []
    for name in INPUTS:
        path = root / name
        if path.is_dir():
            files += [
                p
                for p in path.rglob("*")
                if p.is_file() and not IGNORED_PARTS & set(p.relative_to(root).parts)
            ]
        elif path.is_file():
            files.append(path)
    return sorted(p.relative_to(root) for p in files)


def source_digest(root: Path) -> str:
    """SHA-256 over the inputs' paths and contents: renames, additions and deletions count."""
    digest = hashlib.sha256()
    for relative in input_files(root):
        digest.update(relative.as_posix().encode() + b"\0")
        digest.update(hashlib.sha256((root / relative).read_bytes()).digest())
    return digest.hexdigest()


def why_compile(root: Path) -> str | None:
    """Why the artefacts must be rebuilt, or None when they match the sources."""
    if not (root / ARTEFACTS).is_file():
        return f"{ARTEFACTS} is missing"
    stamp = root / STAMP
    if not stamp.is_file():
        return "no record of what the artefacts were built from"
    if stamp.read_text().strip() != source_digest(root):
        return "sources or compiler settings changed since the last compile"
    return None


def build(root: Path, command: list[str]) -> int:
    """Compile if needed; the exit status of the compile (0 when nothing was needed)."""
    reason = why_compile(root)
    if reason is None:
        print("build: contracts up to date (sources unchanged since the last compile)")
        return 0
    print(f"build: compiling ({reason}): {shlex.join(command)}", flush=True)
    digest = source_digest(root)  # taken before: an edit during the compile forces another
    status = subprocess.run(command, cwd=root).returncode
    if status == 0:
        (root / STAMP).write_text(digest + "\n")
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="project folder (default: here)")
    parser.add_argument("--check", action="store_true", help="only say whether a compile is due")
    parser.add_argument(
        "--compile-command",
        default=shlex.join(COMPILE_COMMAND),
        help="command that builds the artefacts (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    if args.check:
        reason = why_compile(args.root)
        print(f"build: compile needed: {reason}" if reason else "build: up to date")
        return 1 if reason else 0
    return build(args.root, shlex.split(args.compile_command))


if __name__ == "__main__":
    sys.exit(main())
