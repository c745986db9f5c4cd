"""The resolution table of entities: every name an entity is found by.

``entities.normalized_name`` is not unique: splitting an entity leaves two rows with one
name, and only one of them should keep receiving new mentions. So resolution looks names up
here instead. Every entity gets its own key when created; a merge moves the loser's keys to
the survivor (so the merged name keeps resolving to it); a split-off entity has no key until
an analyst renames it, and mentions of the shared name keep going to the original.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from krsn.db.base import Base, created_at_column
from krsn.db.types import str_enum
from krsn.osint.models import EntityType


class EntityAlias(Base):
    __tablename__ = "entity_aliases"
    __table_args__ = (Index("idx_entity_aliases_entity_id", "entity_id"),)

    entity_type: Mapped[EntityType] = mapped_column(
        str_enum(EntityType, "entity_alias_type"), primary_key=True
    )
    normalized_name: Mapped[str] = mapped_column(String(500), primary_key=True)
    entity_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("entities.id", ondelete="CASCADE"), nullable=False
    )
    # The name as written when the key was made: the merged entity's name after a merge.
    name: Mapped[str] = mapped_column(String(500), nullable=False)
    # How the key came to point here: "resolution" (created), "merge", "analyst".
    origin: Mapped[str] = mapped_column(String(20), nullable=False, default="resolution")
    created_at: Mapped[datetime] = created_at_column()
