"""osint: entity types, relationship types, entity resolution

Revision ID: 0010_osint_entities
Revises: 0009_osint_graph

The extended entity and relationship types; what entity resolution and risk scores need.
"""

from collections.abc import Sequence

revision: str = "0010_osint_entities"
down_revision: str | Sequence[str] | None = "0009_osint_graph"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
