"""Column types that map the documents' PostgreSQL types onto SQLite as well.

JSON becomes JSONB on PostgreSQL, ``TEXT[]`` an ARRAY there and JSON on SQLite, INET
stays INET on PostgreSQL and text on SQLite, timestamps always come back timezone-aware
in UTC, and secret columns are encrypted at rest.
"""

from __future__ import annotations

import enum
import ipaddress
import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Enum, String, Text
from sqlalchemy.dialects.postgresql import ARRAY, INET, JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

JSONType: TypeEngine[Any] = JSON().with_variant(JSONB(), "postgresql")
TextArray: TypeEngine[Any] = JSON().with_variant(ARRAY(Text()), "postgresql")


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """``TIMESTAMP WITH TIME ZONE`` that always round-trips as an aware UTC datetime."""

    impl = DateTime(timezone=True)
    cache_ok = True

    @property
    def python_type(self) -> type[datetime]:
        return datetime

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        # SQLite stores text; a naive UTC value keeps its ordering lexicographic.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Inet(TypeDecorator[str]):
    """An IP address or network: INET on PostgreSQL, text on SQLite; always a str in Python."""

    impl = String(45)
    cache_ok = True

    @property
    def python_type(self) -> type[str]:
        return str

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(INET())
        return dialect.type_descriptor(String(45))

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        text = str(value)
        try:
            return str(ipaddress.ip_interface(text)).removesuffix("/32").removesuffix("/128")
        except ValueError:
            return None

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else str(value)


class EncryptedString(TypeDecorator[str]):
    """A short secret (an MFA seed, a token) stored encrypted with the platform key."""

    impl = String(512)
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        from krsn.security.crypto import encrypt

        return None if value is None else encrypt(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        from krsn.security.crypto import decrypt

        return None if value is None else decrypt(value)


class EncryptedJSON(TypeDecorator[Any]):
    """A JSON secret (credentials, authentication config) stored as ``{"$enc": token}``."""

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(JSONB())
        return dialect.type_descriptor(JSON())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        from krsn.security.crypto import encrypt

        if value is None:
            return None
        return {"$enc": encrypt(json.dumps(value))}

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        from krsn.security.crypto import decrypt

        if value is None:
            return None
        if isinstance(value, dict) and "$enc" in value:
            return json.loads(decrypt(value["$enc"]))
        return value


def str_enum(enum_class: type[enum.Enum], name: str) -> Enum:
    """A portable enum column: VARCHAR plus a named CHECK of the allowed values."""
    return Enum(
        enum_class,
        name=name,
        native_enum=False,
        create_constraint=True,
        validate_strings=True,
        values_callable=lambda members: [member.value for member in members],
        length=max(len(member.value) for member in enum_class),
    )
