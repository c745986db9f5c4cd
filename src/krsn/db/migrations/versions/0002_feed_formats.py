"""feed formats text, misp and taxii

Revision ID: 0002_feed_formats
Revises: 0001_initial
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_feed_formats"
down_revision: str | Sequence[str] | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = ("json", "xml", "csv", "stix")
NEW = (*OLD, "text", "misp", "taxii")


def _enum(values: tuple[str, ...]) -> sa.Enum:
    return sa.Enum(
        *values,
        name="feed_format",
        native_enum=False,
        create_constraint=True,
        length=max(map(len, values)),
    )


def _swap(old: tuple[str, ...], new: tuple[str, ...]) -> None:
    if op.get_context().dialect.name != "postgresql":
        # SQLite cannot alter a CHECK: batch mode rebuilds the table with the new one.
        with op.batch_alter_table("threat_feeds") as batch:
            batch.alter_column(
                "format", existing_type=_enum(old), type_=_enum(new), existing_nullable=True
            )
        return
    name = op.f("ck_threat_feeds_feed_format")
    op.drop_constraint(name, "threat_feeds", type_="check")
    op.alter_column(
        "threat_feeds",
        "format",
        existing_type=sa.String(max(map(len, old))),
        type_=sa.String(max(map(len, new))),
        existing_nullable=True,
    )
    allowed = ", ".join(f"'{value}'" for value in new)
    op.create_check_constraint(name, "threat_feeds", sa.text(f"format IN ({allowed})"))


def upgrade() -> None:
    _swap(OLD, NEW)


def downgrade() -> None:
    op.execute(
        sa.text("UPDATE threat_feeds SET format = NULL WHERE format IN ('text', 'misp', 'taxii')")
    )
    _swap(NEW, OLD)
