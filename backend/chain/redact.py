"""Node URLs without their secrets: providers put API keys in the path (`/v3/<key>`), the query
(`?apikey=`) or the userinfo (`user:key@`), so only the scheme, host and port are ever shown.

- `redact_url(url)`: the URL as it may be shown (`https://host:8545/<redacted>`).
- `remember_secret_url(url)`: registers the secret parts of a configured node URL; `scrub(text)`
  then replaces each of them in any text (exception messages of requests/urllib3 repeat the path
  and query: "Max retries exceeded with url: /v3/<key>?apikey=...").
- Log records: the HTTP libraries log the full URL at DEBUG level (urllib3's request lines, web3's
  provider) and a logged traceback repeats it, so `remember_secret_url` wraps logging's record
  factory once: every record of the process (any logger, any handler) is scrubbed when it is made.
"""

from __future__ import annotations

import logging
import threading
from typing import Final
from urllib.parse import urlsplit

MARKER: Final = "<redacted>"
_lock = threading.Lock()
_secrets: set[str] = set()
_factory_installed = False


def redact_url(url: str) -> str:
    """scheme://host[:port], plus a marker when the URL had a path, query or userinfo to hide."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port is not None else ""
    shown = f"{parts.scheme}://{host}{port}"
    hidden = parts.path not in ("", "/") or parts.query or parts.fragment or parts.username
    return f"{shown}/{MARKER}" if hidden else shown


def _secret_parts(url: str) -> set[str]:
    parts = urlsplit(url)
    found = {url}
    path_and_query = parts.path + (f"?{parts.query}" if parts.query else "")
    for piece in (path_and_query, parts.query, parts.username, parts.password):
        if piece:
            found.add(piece)
    if parts.path not in ("", "/"):
        found.add(parts.path)
        # Each path segment longer than a word may be a key on its own (logged split or quoted).
        found.update(segment for segment in parts.path.split("/") if len(segment) >= 8)
    return found


def remember_secret_url(url: str) -> None:
    """Scrub the secret parts of `url` from every later `scrub` and from the HTTP stack's logs."""
    global _factory_installed
    if redact_url(url) == url.rstrip("/"):
        return  # nothing to hide
    with _lock:
        _secrets.update(_secret_parts(url))
        if not _factory_installed:
            _install_record_factory()
            _factory_installed = True


def scrub(text: str) -> str:
    """`text` with every remembered secret URL part replaced by the marker (longest first, so a
    whole URL becomes its redacted form rather than a half-replaced one)."""
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            replacement = redact_url(secret) if "://" in secret else MARKER
            text = text.replace(secret, replacement)
    return text


def _install_record_factory() -> None:
    previous = logging.getLogRecordFactory()

    def make_record(*args: object, **kwargs: object) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        _scrub_record(record)
        return record

    logging.setLogRecordFactory(make_record)


def _scrub_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: logging reports it itself when it formats
        return
    cleaned = scrub(message)
    if cleaned != message:
        record.msg, record.args = cleaned, None
    if record.exc_info and record.exc_info[1] is not None:
        trace = logging.Formatter().formatException(record.exc_info)
        cleaned = scrub(trace)
        if cleaned != trace:
            record.exc_text = cleaned  # what formatters print instead of formatting it again
