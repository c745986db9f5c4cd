"""Machine-learning models and the predictions they make about indicators.

Model metrics and prediction scores are fractions (0..1), as ML libraries report them,
so they keep four decimals; the other threat-intel scores are on a 0..100 scale.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
    Uuid,
    false,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from krsn.db.base import Base, range_check, uuid_pk
from krsn.db.types import JSONType, UTCDateTime, utcnow


def fraction_check(column: str) -> CheckConstraint:
    """A named CHECK keeping a 0..1 score in range (NULL allowed)."""
    return range_check(column, 0, 1)


class MLModel(Base):
    __tablename__ = "ml_models"
    __table_args__ = (
        fraction_check("accuracy_score"),
        Index("idx_ml_models_model_type", "model_type"),
        Index("idx_ml_models_is_active", "is_active"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    model_name: Mapped[str] = mapped_column(String(255), unique=True, nullable=False)
    model_type: Mapped[str | None] = mapped_column(String(255))
    version: Mapped[str | None] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    model_parameters: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    training_data_info: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    accuracy_score: Mapped[Decimal | None] = mapped_column(Numeric(5, 4))
    trained_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deployed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A model serves predictions only once someone deploys it.
    is_active: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    performance_metrics: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    # As long as reports.file_path: both name files in the same storage.
    model_file_path: Mapped[str | None] = mapped_column(String(1000))


class MLPrediction(Base):
    __tablename__ = "ml_predictions"
    __table_args__ = (
        fraction_check("prediction_score"),
        Index("idx_ml_predictions_model_id", "model_id"),
        Index("idx_ml_predictions_indicator_id", "indicator_id"),
        Index("idx_ml_predictions_predicted_at", "predicted_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    model_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("ml_models.id", ondelete="CASCADE"), nullable=False
    )
    indicator_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("threat_indicators.id", ondelete="CASCADE"), nullable=False
    )
    prediction_score: Mapped[Decimal | None] = mapped_column(Numeric(5, 4))
    prediction_data: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    model_features: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    predicted_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime, default=utcnow, server_default=func.now()
    )
    is_validated: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # NULL until an analyst confirms or refutes the prediction.
    actual_outcome: Mapped[bool | None] = mapped_column(Boolean)
