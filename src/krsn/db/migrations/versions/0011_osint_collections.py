"""osint: collections, sources and items

Revision ID: 0011_osint_collections
Revises: 0010_osint_entities

What running collections needs beyond the drawn tables.
"""

from collections.abc import Sequence

revision: str = "0011_osint_collections"
down_revision: str | Sequence[str] | None = "0010_osint_entities"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
