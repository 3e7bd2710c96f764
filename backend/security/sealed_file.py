"""Sealed files: a large plaintext encrypted with AES-256-GCM in chunks, for backups.

The secrets' envelopes (`backend.security.encryption`) hold small values in one JSON object; a
store dump can be gigabytes, so it is sealed in 1-MiB chunks, each its own AES-GCM message:

    MAGIC  header-length (4 bytes)  header (JSON)  { chunk-length (4 bytes)  chunk } ...

Every chunk's nonce is an 8-byte random prefix (one per file) and the chunk's index, and its
associated data is the whole header, the index and whether it is the last chunk. So a chunk cannot
be edited, moved to another position or another file, and the file cannot be cut short at a chunk
boundary or lengthened without opening failing; the header (store kind, time, schema revision)
is public but authenticated with every chunk.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from backend.exceptions import ConfigError

MAGIC: Final = b"copyvault-sealed/1\n"
CHUNK_BYTES: Final = 1 << 20
PREFIX_BYTES: Final = 8
_LENGTH = struct.Struct(">I")
# A header longer than this is not one of ours (it is read before anything is authenticated).
MAX_HEADER_BYTES: Final = 64 * 1024


class SealedFileError(ConfigError):
    """A sealed file did not open: another key, an edited or truncated file, or not one at all."""


def key_fingerprint(key: bytes) -> str:
    """A public name for a key (the first 8 bytes of its SHA-256): says which key sealed a file
    without revealing it, so opening with another key fails with a clear message."""
    return hashlib.sha256(b"copyvault-sealed-key" + key).hexdigest()[:16]


def _associated_data(header: bytes, index: int, last: bool) -> bytes:
    return header + struct.pack(">Q?", index, last)


def _chunks(source: IO[bytes]) -> Iterator[tuple[bytes, bool]]:
    """(chunk, is_last) over `source`; an empty source is one empty last chunk."""
    current = source.read(CHUNK_BYTES)
    while True:
        following = source.read(CHUNK_BYTES)
        yield current, not following
        if not following:
            return
        current = following


def seal(source: IO[bytes], target: IO[bytes], key: bytes, header: dict[str, Any]) -> None:
    """Write `source`, sealed with `key`, to `target`; `header` (public, authenticated) first."""
    header_bytes = json.dumps(
        {**header, "key": key_fingerprint(key)}, sort_keys=True, separators=(",", ":")
    ).encode()
    cipher = AESGCM(key)
    prefix = os.urandom(PREFIX_BYTES)
    target.write(MAGIC + _LENGTH.pack(len(header_bytes)) + header_bytes + prefix)
    for index, (chunk, last) in enumerate(_chunks(source)):
        nonce = prefix + struct.pack(">I", index)
        sealed = cipher.encrypt(nonce, chunk, _associated_data(header_bytes, index, last))
        target.write(_LENGTH.pack(len(sealed)) + sealed)


def _read_exactly(source: IO[bytes], size: int, what: str) -> bytes:
    data = source.read(size)
    if len(data) != size:
        raise SealedFileError(f"the sealed file ends inside its {what}: truncated")
    return data


def read_header(source: IO[bytes]) -> tuple[dict[str, Any], bytes]:
    """The header of a sealed file (not yet authenticated) and its raw bytes."""
    if source.read(len(MAGIC)) != MAGIC:
        raise SealedFileError("not a copyvault sealed file (the first line is not the format's)")
    (length,) = _LENGTH.unpack(_read_exactly(source, _LENGTH.size, "header length"))
    if length > MAX_HEADER_BYTES:
        raise SealedFileError(f"header of {length} bytes: not a copyvault sealed file")
    raw = _read_exactly(source, length, "header")
    try:
        return json.loads(raw), raw
    except ValueError:
        raise SealedFileError("the sealed file's header is not JSON") from None


def unseal(source: IO[bytes], target: IO[bytes], key: bytes) -> dict[str, Any]:
    """Write the plaintext of the sealed `source` to `target` and return its header. Raises
    SealedFileError naming the first chunk that does not open; `target` then holds a prefix of
    the plaintext, so callers write to a temporary file and use it only on success."""
    header, raw = read_header(source)
    if header.get("key") != key_fingerprint(key):
        raise SealedFileError(
            f"sealed with another key (fingerprint {header.get('key')}, this key's is "
            f"{key_fingerprint(key)})"
        )
    cipher = AESGCM(key)
    prefix = _read_exactly(source, PREFIX_BYTES, "nonce prefix")
    index, last = 0, False
    while not last:
        (length,) = _LENGTH.unpack(_read_exactly(source, _LENGTH.size, f"chunk {index}"))
        sealed = _read_exactly(source, length, f"chunk {index}")
        last = _opens_as_last(cipher, prefix, raw, index, sealed, target)
        index += 1
    if source.read(1):
        raise SealedFileError(f"bytes after the last chunk ({index - 1}): the file was extended")
    return header


def _opens_as_last(
    cipher: AESGCM, prefix: bytes, header: bytes, index: int, sealed: bytes, target: IO[bytes]
) -> bool:
    """Open chunk `index` as a middle chunk, else as the last one; write its plaintext."""
    nonce = prefix + struct.pack(">I", index)
    for last in (False, True):
        try:
            target.write(cipher.decrypt(nonce, sealed, _associated_data(header, index, last)))
            return last
        except InvalidTag:
            continue
    raise SealedFileError(f"chunk {index} does not open: the file was edited, reordered or cut")


def seal_file(plain: Path, sealed: Path, key: bytes, header: dict[str, Any]) -> None:
    """Seal the file `plain` into the new file `sealed`, complete on disk or not there at all."""
    partial = sealed.with_name(sealed.name + ".partial")
    with plain.open("rb") as source, partial.open("xb") as target:
        seal(source, target, key, header)
        target.flush()
        os.fsync(target.fileno())
    os.replace(partial, sealed)


def unseal_file(sealed: Path, plain: Path, key: bytes) -> dict[str, Any]:
    """Open the sealed file into `plain` (created); returns the header. On failure `plain` is
    removed, so nothing half-decrypted is left behind."""
    try:
        with sealed.open("rb") as source, plain.open("xb") as target:
            return unseal(source, target, key)
    except BaseException:
        plain.unlink(missing_ok=True)
        raise
