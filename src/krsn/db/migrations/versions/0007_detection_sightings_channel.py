"""detection: sightings, channels, suppressions, rule matches, incident counters

Revision ID: 0007_detection_sightings_channel
Revises: 0006_campaign_tlp

What the detection flows need beyond the drawn tables: sightings (matched observables),
notification channels, suppressed alerts, the state of threshold and time-based rules, the
incident-number counter; alert deduplication and notification back-off columns.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import krsn.db.types

revision: str = "0007_detection_sightings_channel"
down_revision: str | Sequence[str] | None = "0006_campaign_tlp"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "incident_counters",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_number", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_incident_counters")),
    )
    op.create_table(
        "notification_channels",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("rule_id", sa.Uuid(), nullable=True),
        sa.Column(
            "notification_type",
            sa.Enum(
                "email",
                "sms",
                "webhook",
                "slack",
                name="notification_channel_type",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column(
            "config",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("secrets", krsn.db.types.EncryptedJSON(), nullable=True),
        sa.Column(
            "min_severity",
            sa.Enum(
                "critical",
                "high",
                "medium",
                "low",
                "info",
                name="notification_min_severity",
                native_enum=False,
                create_constraint=True,
            ),
            server_default="low",
            nullable=False,
        ),
        sa.Column("is_active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column(
            "created_at", krsn.db.types.UTCDateTime(), server_default=sa.func.now(), nullable=True
        ),
        sa.Column(
            "updated_at", krsn.db.types.UTCDateTime(), server_default=sa.func.now(), nullable=True
        ),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_notification_channels_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["correlation_rules.id"],
            name=op.f("fk_notification_channels_rule_id_correlation_rules"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_notification_channels_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_channels")),
    )
    with op.batch_alter_table("notification_channels", schema=None) as batch_op:
        batch_op.create_index("idx_notification_channels_created_by", ["created_by"], unique=False)
        batch_op.create_index("idx_notification_channels_is_active", ["is_active"], unique=False)
        batch_op.create_index("idx_notification_channels_rule_id", ["rule_id"], unique=False)
        batch_op.create_index("idx_notification_channels_user_id", ["user_id"], unique=False)

    op.create_table(
        "rule_matches",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("rule_id", sa.Uuid(), nullable=False),
        sa.Column("match_key", sa.String(length=512), nullable=False),
        sa.Column("step", sa.Integer(), server_default="0", nullable=False),
        sa.Column("indicator_id", sa.Uuid(), nullable=True),
        sa.Column("matched_at", krsn.db.types.UTCDateTime(), nullable=False),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["indicator_id"],
            ["threat_indicators.id"],
            name=op.f("fk_rule_matches_indicator_id_threat_indicators"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["correlation_rules.id"],
            name=op.f("fk_rule_matches_rule_id_correlation_rules"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rule_matches")),
    )
    with op.batch_alter_table("rule_matches", schema=None) as batch_op:
        batch_op.create_index("idx_rule_matches_indicator_id", ["indicator_id"], unique=False)
        batch_op.create_index("idx_rule_matches_matched_at", ["matched_at"], unique=False)
        batch_op.create_index(
            "idx_rule_matches_rule_key", ["rule_id", "match_key", "matched_at"], unique=False
        )

    op.create_table(
        "alert_suppressions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("watchlist_item_id", sa.Uuid(), nullable=True),
        sa.Column("indicator_id", sa.Uuid(), nullable=True),
        sa.Column("rule_id", sa.Uuid(), nullable=True),
        sa.Column("value", sa.String(length=2048), nullable=False),
        sa.Column("dedup_key", sa.String(length=255), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("occurrence_count", sa.Integer(), server_default="1", nullable=False),
        sa.Column(
            "first_seen_at",
            krsn.db.types.UTCDateTime(),
            server_default=sa.func.now(),
            nullable=True,
        ),
        sa.Column(
            "last_seen_at", krsn.db.types.UTCDateTime(), server_default=sa.func.now(), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["indicator_id"],
            ["threat_indicators.id"],
            name=op.f("fk_alert_suppressions_indicator_id_threat_indicators"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["correlation_rules.id"],
            name=op.f("fk_alert_suppressions_rule_id_correlation_rules"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["watchlist_item_id"],
            ["watchlist_items.id"],
            name=op.f("fk_alert_suppressions_watchlist_item_id_watchlist_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_suppressions")),
        sa.UniqueConstraint(
            "watchlist_item_id",
            "dedup_key",
            name=op.f("uq_alert_suppressions_watchlist_item_id_dedup_key"),
        ),
    )
    with op.batch_alter_table("alert_suppressions", schema=None) as batch_op:
        batch_op.create_index("idx_alert_suppressions_indicator_id", ["indicator_id"], unique=False)
        batch_op.create_index("idx_alert_suppressions_rule_id", ["rule_id"], unique=False)
        batch_op.create_index("idx_alert_suppressions_last_seen_at", ["last_seen_at"], unique=False)
        batch_op.create_index(
            "idx_alert_suppressions_watchlist_item_id", ["watchlist_item_id"], unique=False
        )

    op.create_table(
        "sightings",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("indicator_id", sa.Uuid(), nullable=True),
        sa.Column("watchlist_item_id", sa.Uuid(), nullable=True),
        sa.Column("value", sa.String(length=2048), nullable=False),
        sa.Column("matched", sa.String(length=2048), nullable=True),
        sa.Column("observed_at", krsn.db.types.UTCDateTime(), nullable=False),
        sa.Column(
            "received_at", krsn.db.types.UTCDateTime(), server_default=sa.func.now(), nullable=True
        ),
        sa.Column("host", sa.String(length=255), nullable=True),
        sa.Column("sensor", sa.String(length=255), nullable=True),
        sa.Column("log_source", sa.String(length=255), nullable=True),
        sa.Column(
            "context",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("reported_by", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["indicator_id"],
            ["threat_indicators.id"],
            name=op.f("fk_sightings_indicator_id_threat_indicators"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["reported_by"],
            ["users.id"],
            name=op.f("fk_sightings_reported_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["watchlist_item_id"],
            ["watchlist_items.id"],
            name=op.f("fk_sightings_watchlist_item_id_watchlist_items"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sightings")),
    )
    with op.batch_alter_table("sightings", schema=None) as batch_op:
        batch_op.create_index("idx_sightings_reported_by", ["reported_by"], unique=False)
        batch_op.create_index(
            "idx_sightings_indicator_id", ["indicator_id", "observed_at"], unique=False
        )
        batch_op.create_index("idx_sightings_observed_at", ["observed_at"], unique=False)
        batch_op.create_index("idx_sightings_value", ["value"], unique=False)
        batch_op.create_index(
            "idx_sightings_watchlist_item_id", ["watchlist_item_id"], unique=False
        )

    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dedup_key", sa.String(length=255), nullable=True))
        batch_op.add_column(
            sa.Column("occurrence_count", sa.Integer(), server_default="1", nullable=False)
        )
        batch_op.add_column(sa.Column("last_seen_at", krsn.db.types.UTCDateTime(), nullable=True))
        batch_op.create_index("idx_alerts_dedup_key", ["dedup_key", "last_seen_at"], unique=False)

    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("channel_id", sa.Uuid(), nullable=True))
        batch_op.add_column(
            sa.Column("next_attempt_at", krsn.db.types.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(sa.Column("last_error", sa.Text(), nullable=True))
        batch_op.create_index("idx_notifications_channel_id", ["channel_id"], unique=False)
        batch_op.create_index("idx_notifications_due", ["status", "next_attempt_at"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_notifications_channel_id_notification_channels"),
            "notification_channels",
            ["channel_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_notifications_channel_id_notification_channels"), type_="foreignkey"
        )
        batch_op.drop_index("idx_notifications_due")
        batch_op.drop_index("idx_notifications_channel_id")
        batch_op.drop_column("last_error")
        batch_op.drop_column("next_attempt_at")
        batch_op.drop_column("channel_id")

    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index("idx_alerts_dedup_key")
        batch_op.drop_column("last_seen_at")
        batch_op.drop_column("occurrence_count")
        batch_op.drop_column("dedup_key")

    with op.batch_alter_table("sightings", schema=None) as batch_op:
        batch_op.drop_index("idx_sightings_reported_by")
        batch_op.drop_index("idx_sightings_watchlist_item_id")
        batch_op.drop_index("idx_sightings_value")
        batch_op.drop_index("idx_sightings_observed_at")
        batch_op.drop_index("idx_sightings_indicator_id")

    op.drop_table("sightings")
    with op.batch_alter_table("alert_suppressions", schema=None) as batch_op:
        batch_op.drop_index("idx_alert_suppressions_indicator_id")
        batch_op.drop_index("idx_alert_suppressions_rule_id")
        batch_op.drop_index("idx_alert_suppressions_watchlist_item_id")
        batch_op.drop_index("idx_alert_suppressions_last_seen_at")

    op.drop_table("alert_suppressions")
    with op.batch_alter_table("rule_matches", schema=None) as batch_op:
        batch_op.drop_index("idx_rule_matches_indicator_id")
        batch_op.drop_index("idx_rule_matches_rule_key")
        batch_op.drop_index("idx_rule_matches_matched_at")

    op.drop_table("rule_matches")
    with op.batch_alter_table("notification_channels", schema=None) as batch_op:
        batch_op.drop_index("idx_notification_channels_created_by")
        batch_op.drop_index("idx_notification_channels_user_id")
        batch_op.drop_index("idx_notification_channels_rule_id")
        batch_op.drop_index("idx_notification_channels_is_active")

    op.drop_table("notification_channels")
    op.drop_table("incident_counters")
