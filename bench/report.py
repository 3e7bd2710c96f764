"""What every benchmark shares: the text table it prints, the machine it ran on, the JSON it
writes, and the MultiSend encoding its set-up batches calls with."""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Callable, Sequence
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
