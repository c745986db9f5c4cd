"""campaign_tlp: a TLP 2.0 marking on threat campaigns

Revision ID: 0006_campaign_tlp
Revises: 0005_taxii_status

Actors, IOC collections, reports and indicators keep their TLP in a JSON column they already
have; a campaign's JSON columns are lists (tactics, techniques, procedures, attributed
actors), so its marking gets a nullable column of its own. Unmarked campaigns stay NULL.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_campaign_tlp"
down_revision: str | Sequence[str] | None = "0005_taxii_status"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A nullable column without a default: a plain ADD COLUMN on both engines.
    op.add_column("threat_campaigns", sa.Column("tlp", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("threat_campaigns") as batch:
        batch.drop_column("tlp")
