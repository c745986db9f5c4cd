"""osint: entity types, relationship types, entity resolution

Revision ID: 0010_osint_entities
Revises: 0009_osint_graph

The extended entity and relationship types; what entity resolution and risk scores need:
``entity_aliases``, the names entities are resolved by (one row per type and normalised name,
so a merged name keeps resolving to the survivor and a split leaves one name to one entity).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import krsn.db.types
from krsn.osint.search import schema as search_schema

revision: str = "0010_osint_entities"
down_revision: str | Sequence[str] | None = "0009_osint_graph"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_ENTITY_TYPES = (
    "person",
    "organization",
    "location",
    "domain",
    "ip_address",
    "email",
    "phone",
    "cryptocurrency_address",
    "username",
    "document",
)
NEW_ENTITY_TYPES = (*OLD_ENTITY_TYPES, "url", "hash", "cve")
OLD_RELATIONSHIP_TYPES = (
    "WORKS_FOR",
    "OWNS",
    "LOCATED_AT",
    "COMMUNICATES_WITH",
    "ASSOCIATED_WITH",
    "CONTROLS",
    "MEMBER_OF",
    "TRANSACTS_WITH",
)
NEW_RELATIONSHIP_TYPES = (
    *OLD_RELATIONSHIP_TYPES,
    "RESOLVES_TO",
    "PART_OF",
    "USES",
    "ATTRIBUTED_TO",
    "INDICATES",
    "SAME_AS",
)


def _enum(values: tuple[str, ...], name: str) -> sa.Enum:
    return sa.Enum(
        *values, name=name, native_enum=False, create_constraint=True, length=max(map(len, values))
    )


def _swap(
    table: str, column: str, enum_name: str, old: tuple[str, ...], new: tuple[str, ...]
) -> None:
    """Replace the CHECK that lists an enum column's values; the VARCHAR width is unchanged
    (the longest value is an old one)."""
    nullable = column != "entity_type"
    if op.get_context().dialect.name != "postgresql":
        # SQLite cannot alter a CHECK: batch mode rebuilds the table with the new one. A
        # dropped table takes its triggers with it (search indexes keep theirs in step by
        # triggers), so they are read first and created again on the new table.
        bind = op.get_bind()
        triggers = bind.execute(
            sa.text("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = :t"),
            {"t": table},
        ).scalars()
        saved = [str(sql) for sql in triggers if sql]
        with op.batch_alter_table(table) as batch:
            batch.alter_column(
                column,
                existing_type=_enum(old, enum_name),
                type_=_enum(new, enum_name),
                existing_nullable=nullable,
            )
        for sql in saved:
            op.execute(sa.text(sql))
        if table == search_schema.ENTITIES.table:
            # The copy renumbered the rows the full-text index points at by rowid.
            search_schema.install(bind)
            search_schema.rebuild(bind, only=search_schema.ENTITIES)
        return
    name = op.f(f"ck_{table}_{enum_name}")
    op.drop_constraint(name, table, type_="check")
    allowed = ", ".join(f"'{value}'" for value in new)
    op.create_check_constraint(name, table, sa.text(f"{column} IN ({allowed})"))


def upgrade() -> None:
    _swap("entities", "entity_type", "entity_type", OLD_ENTITY_TYPES, NEW_ENTITY_TYPES)
    _swap(
        "entity_relationships",
        "type",
        "relationship_type",
        OLD_RELATIONSHIP_TYPES,
        NEW_RELATIONSHIP_TYPES,
    )
    op.create_table(
        "entity_aliases",
        sa.Column("entity_type", _enum(NEW_ENTITY_TYPES, "entity_alias_type"), nullable=False),
        sa.Column("normalized_name", sa.String(length=500), nullable=False),
        sa.Column("entity_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("origin", sa.String(length=20), nullable=False),
        sa.Column(
            "created_at", krsn.db.types.UTCDateTime(), server_default=sa.func.now(), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["entity_id"],
            ["entities.id"],
            name=op.f("fk_entity_aliases_entity_id_entities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("entity_type", "normalized_name", name=op.f("pk_entity_aliases")),
    )
    op.create_index("idx_entity_aliases_entity_id", "entity_aliases", ["entity_id"], unique=False)
    _backfill_aliases()


def _backfill_aliases() -> None:
    """Give entities stored before resolution existed their keys: of several rows with one
    name, the oldest keeps it. One INSERT ... SELECT, so ids keep each engine's own form."""
    op.execute(
        sa.text(
            "INSERT INTO entity_aliases (entity_type, normalized_name, entity_id, name, origin) "
            "SELECT entity_type, normalized_name, id, name, 'resolution' FROM ("
            "SELECT id, entity_type, normalized_name, name, ROW_NUMBER() OVER ("
            "PARTITION BY entity_type, normalized_name ORDER BY created_at, id) AS place "
            "FROM entities WHERE normalized_name IS NOT NULL) ranked WHERE place = 1"
        )
    )


def downgrade() -> None:
    op.drop_index("idx_entity_aliases_entity_id", table_name="entity_aliases")
    op.drop_table("entity_aliases")
    op.execute(
        sa.text(
            "DELETE FROM entity_relationships WHERE type IN "
            "('RESOLVES_TO', 'PART_OF', 'USES', 'ATTRIBUTED_TO', 'INDICATES', 'SAME_AS')"
        )
    )
    # SQLite migrates with foreign keys off, so the dependants of the dropped types go first.
    doomed = sa.table("entities", sa.column("id"), sa.column("entity_type"))
    ids = sa.select(doomed.c.id).where(doomed.c.entity_type.in_(["url", "hash", "cve"]))
    for name in ("entity_sources", "risk_scores", "enrichment_data"):
        dependant = sa.table(name, sa.column("entity_id"))
        op.execute(sa.delete(dependant).where(dependant.c.entity_id.in_(ids)))
    op.execute(sa.text("DELETE FROM entities WHERE entity_type IN ('url', 'hash', 'cve')"))
    _swap(
        "entity_relationships",
        "type",
        "relationship_type",
        NEW_RELATIONSHIP_TYPES,
        OLD_RELATIONSHIP_TYPES,
    )
    _swap("entities", "entity_type", "entity_type", NEW_ENTITY_TYPES, OLD_ENTITY_TYPES)
