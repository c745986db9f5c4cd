"""The STIX object store: every STIX object an import has read, newest version by id.

One row per STIX id holds the object as last imported (compact JSON) with the columns a
reader filters on: its type, spec version, ``created`` / ``modified`` and ``revoked``.
``added_at`` is when this version arrived here, the order a TAXII collection pages in.
``local_table`` / ``local_id`` name the row of ours it became, when it maps to one
(``threat_indicators``, ``threat_actors``, ``threat_campaigns``, ``mitre_techniques``,
``threat_reports``); objects with no table of their own (malware, tools, sightings, marking
definitions, complex-pattern indicators, custom objects) live here alone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Index, String, false
from sqlalchemy.orm import Mapped, mapped_column

from krsn.db.base import Base
from krsn.db.types import JSONType, UTCDateTime


class StixObject(Base):
    __tablename__ = "stix_objects"
    __table_args__ = (
        Index("idx_stix_objects_stix_type", "stix_type"),
        Index("idx_stix_objects_added_at", "added_at"),
        Index("idx_stix_objects_modified", "modified"),
        Index("idx_stix_objects_local", "local_table", "local_id"),
    )

    # ``type--UUID``: at most 250 characters of type, the separator and a 36-character UUID.
    stix_id: Mapped[str] = mapped_column(String(300), primary_key=True)
    stix_type: Mapped[str] = mapped_column(String(250), nullable=False)
    spec_version: Mapped[str | None] = mapped_column(String(16))
    created: Mapped[datetime | None] = mapped_column(UTCDateTime)
    modified: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false(), nullable=False
    )
    object: Mapped[Any] = mapped_column(JSONType, nullable=False)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    local_table: Mapped[str | None] = mapped_column(String(64))
    local_id: Mapped[str | None] = mapped_column(String(64))
