"""What every benchmark shares: the text table it prints, the machine it ran on, the JSON it
writes, and the MultiSend encoding its set-up batches calls with."""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any


def text_table(rows: Sequence[Sequence[str]]) -> list[str]:
    """Left-aligned columns joined by " | ", a rule under the first (header) row."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return lines


def machine() -> dict[str, Any]:
    return {
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def write_json(where: str, report: dict[str, Any], log: Callable[[str], None]) -> None:
    """The report at `where` (relative to the current directory), folders created."""
    path = Path(where)
    if not path.is_absolute():
        path = Path.cwd() / path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    log(f"JSON written to {where}")


def packed_call(to: str, data: bytes) -> bytes:
    """One MultiSend entry: operation 0 (call), to, value 0, data length, data."""
    return b"\x00" + bytes.fromhex(to[2:]) + b"\x00" * 32 + len(data).to_bytes(32, "big") + data


def _process_stats() -> Iterator[tuple[int, str, list[str]]]:
    """(pid, command name, the fields after the name) of every process in /proc/PID/stat. Field
    i of that list is /proc/PID/stat's field i + 3: ppid is [1], utime [11], stime [12], the
    reaped children's cutime [13] and cstime [14]."""
    proc = Path("/proc")
    for entry in proc.iterdir() if proc.is_dir() else ():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # it ended while we looked
            continue
        name, _, rest = stat.partition(" (")[2].rpartition(")")
        yield int(entry.name), name, rest.split()


def tree_cpu_seconds(pid: int) -> float | None:
    """CPU seconds (user + system) used so far by process `pid` and all its descendants (every
    process of a server: its API workers, indexer, relayer), read from /proc; None without /proc.
    The difference over a phase divided by its requests is the server's CPU per request, a figure
    that, unlike throughput, stays comparable on a busy machine."""
    if not (Path("/proc") / str(pid) / "stat").exists():
        return None
    parents: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for each, _, fields in _process_stats():
        parents[each] = int(fields[1])
        ticks[each] = int(fields[11]) + int(fields[12])
    tree, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        for child, its_parent in parents.items():
            if its_parent == parent and child not in tree:
                tree.add(child)
                frontier.append(child)
    return sum(ticks.get(p, 0) for p in tree) / os.sysconf("SC_CLK_TCK")


def named_cpu_seconds(command: str) -> float | None:
    """CPU seconds (user + system, with the children each has reaped) used so far by every
    process whose command name is `command`: for `postgres`, the local database server's
    postmaster and backends. A backend that ends between two readings moves from its own time
    into its postmaster's children's time, so the difference of two readings counts it once.
    None without /proc or when no such process runs here (a server on another machine)."""
    ticks = [
        sum(int(f) for f in fields[11:15])
        for _, name, fields in _process_stats()
        if name == command
    ]
    return sum(ticks) / os.sysconf("SC_CLK_TCK") if ticks else None
