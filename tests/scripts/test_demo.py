"""`make demo` runs: the demo script end to end, as the README's main command runs it (with
`--exit`: by default it then leaves the app open until Ctrl-C)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_demo__runs_every_step_and_says_so():
    result = subprocess.run(
        [sys.executable, "-m", "scripts.demo", "--exit"],
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


def test_demo__by_default_leaves_the_app_open_until_ctrl_c():
    """Without --exit the server and chain stay up after the journey, the app's URL and the
    funded accounts printed; Ctrl-C (SIGINT) stops everything, nothing left behind."""
    process = subprocess.Popen(
        [sys.executable, "-u", "-m", "scripts.demo"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    try:
        for line in process.stdout:  # type: ignore[union-attr]
            lines.append(line)
            if line.startswith("Ctrl-C stops"):
                break
        said = "".join(lines)
        url = re.search(r"the web app: (http://\S+)/ ", said)
        assert url, said
        assert "every step as described" in said and "owner alice" in said
        assert httpx.get(f"{url.group(1)}/v1/vaults", timeout=10).json()["items"]
        assert httpx.get(f"{url.group(1)}/docs", timeout=10).status_code == 200
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            raise
    assert process.returncode == 0
    time.sleep(0.5)
    try:
        os.killpg(process.pid, 0)
    except ProcessLookupError:
        return
    os.killpg(process.pid, signal.SIGKILL)
    raise AssertionError("the demo left processes behind")
