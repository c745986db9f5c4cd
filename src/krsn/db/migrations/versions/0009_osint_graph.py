"""osint: graph

Revision ID: 0009_osint_graph
Revises: 0008_osint_search

What the graph needs beyond the edge table.
"""

from collections.abc import Sequence

revision: str = "0009_osint_graph"
down_revision: str | Sequence[str] | None = "0008_osint_search"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
