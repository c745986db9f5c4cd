"""User dashboards and the widgets laid out on them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, Uuid, false
from sqlalchemy.orm import Mapped, mapped_column

from krsn.db.base import Base, created_at_column, updated_at_column, uuid_pk
from krsn.db.types import JSONType


class Dashboard(Base):
    __tablename__ = "dashboards"
    __table_args__ = (
        Index("idx_dashboards_owner_id", "owner_id"),
        Index("idx_dashboards_is_public", "is_public"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    # A dashboard is its owner's view, like an API key: it goes with the account.
    owner_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    dashboard_config: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    widget_layout: Mapped[Any] = mapped_column(JSONType)
    is_public: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()
    sharing_permissions: Mapped[dict[str, Any] | None] = mapped_column(JSONType)


class DashboardWidget(Base):
    __tablename__ = "dashboard_widgets"
    __table_args__ = (Index("idx_dashboard_widgets_dashboard_id", "dashboard_id"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    dashboard_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("dashboards.id", ondelete="CASCADE"), nullable=False
    )
    widget_type: Mapped[str] = mapped_column(String(255), nullable=False)
    title: Mapped[str | None] = mapped_column(String(255))
    widget_config: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    data_source: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    position_x: Mapped[int | None] = mapped_column(Integer)
    position_y: Mapped[int | None] = mapped_column(Integer)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()
