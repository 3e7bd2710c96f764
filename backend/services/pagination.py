"""Opaque cursors for keyset pagination.

A cursor is URL-safe base64 (no padding) of a small JSON document `{"k": kind, "v": [...]}`: the
kind names the list it belongs to, so a cursor of one list is refused by another, and the values
are the sort key of the last item returned ((block_number, log_index) for event histories, an
address or an id elsewhere). Anything that does not decode to exactly that shape is a 400
`invalid_cursor`; a cursor never reaches SQL unchecked.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any, Final

from backend.api.errors import InvalidCursorError

MAX_CURSOR_CHARS: Final = 512
_ADDRESS = re.compile(r"0x[0-9a-f]{40}", re.ASCII)
# Values a cursor may hold, by type tag: non-negative 63-bit ints, lowercase addresses.
_MAX_INT: Final = 2**63 - 1


def encode_cursor(kind: str, *values: int | str) -> str:
    raw = json.dumps({"k": kind, "v": list(values)}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _invalid(kind: str) -> InvalidCursorError:
    return InvalidCursorError(
        f"the cursor is not one this list ({kind}) returned: pass the `next_cursor` of the "
        "previous page unchanged, or omit it to start from the first page"
    )


def decode_cursor(token: str | None, kind: str, types: str) -> tuple[Any, ...] | None:
    """The values of `token` (None when no cursor was given). `types` spells the expected values,
    one letter each: "i" a non-negative int, "a" a lowercase address."""
    if token is None:
        return None
    if not token or len(token) > MAX_CURSOR_CHARS:
        raise _invalid(kind)
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        document = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise _invalid(kind) from None
    if not isinstance(document, dict) or set(document) != {"k", "v"} or document["k"] != kind:
        raise _invalid(kind)
    values = document["v"]
    if not isinstance(values, list) or len(values) != len(types):
        raise _invalid(kind)
    for value, tag in zip(values, types, strict=True):
        if tag == "i":
            ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _MAX_INT
        else:
            ok = isinstance(value, str) and _ADDRESS.fullmatch(value) is not None
        if not ok:
            raise _invalid(kind)
    return tuple(values)
