"""Sealed files (backups): what goes in comes out with the key, and any edit, reorder, cut or
extension of the file, or another key, fails naming what is wrong."""

from __future__ import annotations

import io
import struct

import pytest

from backend.security import sealed_file
from backend.security.sealed_file import SealedFileError, seal, unseal

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
HEADER = {"format": "test/1", "store": "sqlite"}


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch):
    """16-byte chunks, so every multi-chunk case runs on a few bytes."""
    monkeypatch.setattr(sealed_file, "CHUNK_BYTES", 16)


def _sealed(plaintext: bytes, key: bytes = KEY) -> bytes:
    out = io.BytesIO()
    seal(io.BytesIO(plaintext), out, key, HEADER)
    return out.getvalue()


def _open(data: bytes, key: bytes = KEY) -> bytes:
    out = io.BytesIO()
    unseal(io.BytesIO(data), out, key)
    return out.getvalue()


def _chunk_offsets(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of every length-prefixed chunk record in a sealed file."""
    (header_length,) = struct.unpack(">I", data[len(sealed_file.MAGIC) :][:4])
    position = len(sealed_file.MAGIC) + 4 + header_length + sealed_file.PREFIX_BYTES
    offsets = []
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        offsets.append((position, position + 4 + length))
        position += 4 + length
    return offsets


@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 40])
def test_seal__round_trip__every_size_comes_back_exactly(size):
    plaintext = bytes(i % 251 for i in range(size))
    data = _sealed(plaintext)
    assert _open(data) == plaintext
    if size >= 8:
        assert plaintext not in data


def test_unseal__another_key__refused_naming_both_fingerprints():
    with pytest.raises(SealedFileError, match="sealed with another key"):
        _open(_sealed(b"secret rows"), OTHER_KEY)


def test_unseal__header_claims_the_other_key__the_first_chunk_does_not_open():
    data = _sealed(b"secret rows", KEY)
    forged = data.replace(
        sealed_file.key_fingerprint(KEY).encode(), sealed_file.key_fingerprint(OTHER_KEY).encode()
    )
    with pytest.raises(SealedFileError, match="chunk 0 does not open"):
        _open(forged, OTHER_KEY)


def test_unseal__an_edited_header__no_chunk_opens():
    data = _sealed(b"secret rows")
    with pytest.raises(SealedFileError, match="chunk 0 does not open"):
        _open(data.replace(b'"store":"sqlite"', b'"store":"sqlitf"'))


def test_unseal__one_flipped_bit__names_its_chunk():
    data = bytearray(_sealed(bytes(40)))
    start, end = _chunk_offsets(bytes(data))[1]
    data[end - 1] ^= 1
    with pytest.raises(SealedFileError, match="chunk 1 does not open"):
        _open(bytes(data))


def test_unseal__two_chunks_swapped__refused():
    data = _sealed(bytes(range(32)) + bytes(8))
    (a0, a1), (b0, b1), _ = _chunk_offsets(data)
    swapped = data[:a0] + data[b0:b1] + data[a0:a1] + data[b1:]
    with pytest.raises(SealedFileError, match="chunk 0 does not open"):
        _open(swapped)


def test_unseal__cut_at_a_chunk_boundary__refused_as_truncated():
    data = _sealed(bytes(40))
    _, end = _chunk_offsets(data)[1]
    with pytest.raises(SealedFileError, match="truncated"):
        _open(data[:end])


def test_unseal__bytes_appended__refused_as_extended():
    with pytest.raises(SealedFileError, match="extended"):
        _open(_sealed(bytes(40)) + b"\x00")


def test_unseal__not_a_sealed_file__refused():
    with pytest.raises(SealedFileError, match="not a copyvault sealed file"):
        _open(b"SQLite format 3\x00" + bytes(100))


def test_unseal_file__failure_leaves_no_plaintext_file(tmp_path):
    sealed = tmp_path / "b.cvbak"
    sealed.write_bytes(_sealed(bytes(40))[:-1])
    plain = tmp_path / "plain"
    with pytest.raises(SealedFileError):
        sealed_file.unseal_file(sealed, plain, KEY)
    assert not plain.exists()
