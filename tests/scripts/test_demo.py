"""`make demo` runs: the demo script end to end, as the README's main command runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_demo__runs_every_step_and_says_so():
    result = subprocess.run(
        [sys.executable, "-m", "scripts.demo"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    for line in (
        "202 accepted",
        "403 unauthorized_signer",
        "400 intent_expired",
        "skipped: VaultPaused()",
        "sent → executed; owner received 250.00 USDC",
        "every step as described",
    ):
        assert line in out, out
