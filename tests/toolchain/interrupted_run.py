"""Target of tests/toolchain/test_run_tests.py (not collected by the suite: no test_ prefix).

The first test records the chain it runs on and waits to be interrupted; the second must never
run, since one Ctrl-C stops the whole run.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

MARKERS = Path(os.environ.get("RUN_TESTS_MARKERS", "."))


def test_waits_for_the_interrupt(chain):
    (MARKERS / "started").write_text(chain.provider.uri)
    threading.Event().wait(300)


def test_after_the_interrupt__never_runs():
    (MARKERS / "second-test-ran").write_text("ran")
