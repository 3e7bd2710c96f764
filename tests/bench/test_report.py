"""What the benchmarks share: reading a process's CPU time from /proc."""

from __future__ import annotations

import subprocess
import sys
import time

from bench.report import named_cpu_seconds

# A child that renames itself (the name /proc/PID/stat shows), says so, then burns CPU until killed.
BURNER = """
import sys
open("/proc/self/comm", "w").write(sys.argv[1])
print("ready", flush=True)
while True:
    pass
"""


def test_named_cpu_seconds__counts_the_named_processes_cpu_and_none_without_one():
    name = "cvbench-burner"
    assert named_cpu_seconds(name) is None  # no such process runs
    child = subprocess.Popen(
        [sys.executable, "-c", BURNER, name], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        before = named_cpu_seconds(name)
        assert before is not None
        time.sleep(0.5)
        after = named_cpu_seconds(name)
        assert after is not None and after - before >= 0.2  # it burned most of half a second
    finally:
        child.kill()
        child.wait()
    assert named_cpu_seconds(name) is None
