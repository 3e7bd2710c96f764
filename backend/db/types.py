"""Column types shared by the models and the migrations (migrations import them by this path:
keep the names stable)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, Numeric, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

# Auto-incrementing 64-bit ids: BIGINT identity on PostgreSQL, the rowid alias on SQLite (which
# only auto-increments a column declared exactly INTEGER PRIMARY KEY).
BigId = BigInteger().with_variant(Integer(), "sqlite")

# Decoded event arguments: JSONB on PostgreSQL (indexable, exact numbers), JSON text on SQLite.
JsonDoc = JSON().with_variant(JSONB(), "postgresql")


class Address(TypeDecorator):
    """An account address as 0x-prefixed lowercase hex (42 characters). Lowercase is the one stored
    form, so equality and indexes work without normalising at query time; checksum on output."""

    impl = String(42)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else str(value).lower()


class Hash32(TypeDecorator):
    """A 32-byte hash (block, transaction, digest) as 0x-prefixed lowercase hex."""

    impl = String(66)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if isinstance(value, bytes | bytearray):
            return "0x" + bytes(value).hex()
        return str(value).lower()


class BigInt(TypeDecorator):
    """An exact integer of up to 78 digits (any uint256 or int256).

    PostgreSQL: NUMERIC(78, 0), so SQL can sum and compare it. SQLite: decimal text, since SQLite
    integers are 64-bit and its NUMERIC is a float; compare and sum these in Python there.
    Python always sees `int`.
    """

    impl = Numeric(78, 0)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(80))
        return dialect.type_descriptor(Numeric(78, 0, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        number = int(value)
        return str(number) if dialect.name == "sqlite" else Decimal(number)

    def process_result_value(self, value: Any, dialect: Dialect) -> int | None:
        return None if value is None else int(value)


def utc_aware(moment: datetime | None) -> datetime | None:
    """A stored time as timezone-aware UTC: SQLite hands back naive datetimes, and every time the
    store holds is UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)
