"""The schema built from the models holds every table, column, enum, key and index of the
two design documents, and the database itself enforces them, on SQLite and PostgreSQL.

The expectations below are copied from the documents, not derived from the models.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, Enum, delete, insert, inspect, literal_column, select
from sqlalchemy.exc import IntegrityError

from krsn.db.engine import make_engine
from krsn.db.models import Base
from krsn.db.types import JSONType, TextArray
from krsn.enrichment.models import COLUMN_SYNONYMS as ENRICHMENT_SYNONYMS
from krsn.identity.models import COLUMN_SYNONYMS as IDENTITY_SYNONYMS

SYNONYMS = {**IDENTITY_SYNONYMS, **ENRICHMENT_SYNONYMS}


def _columns(spec: dict[str, str]) -> dict[str, set[str]]:
    return {table: set(columns.split()) for table, columns in spec.items()}


# --- The OSINT document: PostgreSQL tables ---------------------------------------------------
OSINT_COLUMNS = _columns(
    {
        "users": "id email username password_hash full_name role is_active is_verified "
        "mfa_enabled mfa_secret last_login created_at updated_at",
        "api_keys": "id user_id key_hash name scopes rate_limit is_active last_used expires_at "
        "created_at",
        "collections": "id user_id name description collector_type config schedule status "
        "progress items_collected error_message started_at completed_at created_at updated_at",
        "sources": "id name source_type base_url credentials config rate_limit is_active "
        "reliability_score created_at updated_at",
        "collection_items": "id collection_id source_id raw_data item_type hash is_processed "
        "collected_at",
        "entities": "id entity_type name normalized_name properties metadata tags risk_score "
        "confidence is_verified first_seen last_seen created_at updated_at",
        "entity_sources": "id entity_id collection_item_id confidence extraction_method created_at",
        "risk_scores": "id entity_id score level factors calculation_method calculated_by "
        "calculated_at",
        "workflows": "id user_id name description trigger steps status execution_count "
        "success_count failure_count created_at updated_at",
        "workflow_executions": "id workflow_id user_id status parameters results error_message "
        "started_at completed_at",
        "reports": "id user_id title description config status format file_path file_size "
        "created_at completed_at",
        "audit_logs": "id user_id action resource_type resource_id details ip_address user_agent "
        "created_at",
    }
)

# --- The OSINT document: MongoDB collections and Neo4j edges, realised as tables --------------
DOCUMENT_AND_GRAPH_COLUMNS = _columns(
    {
        "enrichment_data": "entity_id collection_item_id enrichment_type data metadata enricher "
        "version confidence created_at updated_at",
        "raw_documents": "id collection_id document_type content metadata hash file_info "
        "created_at",
        "analysis_results": "id analysis_id analysis_type input_entities results metrics insights "
        "created_by created_at",
        # RELATED_TO {type, confidence, source, properties, created_at} and
        # COLLECTED_FROM {source_id, collection_id, collected_at, confidence}.
        "entity_relationships": "source_kind source_id target_kind target_id relation type "
        "confidence source properties created_at collection_id collected_at",
    }
)

# --- The threat-intelligence ER diagram ---------------------------------------------------------
TI_COLUMNS = _columns(
    {
        "users": "id username email password_hash first_name last_name role is_active "
        "created_at updated_at last_login preferences api_key_hash",
        "organizations": "id name domain industry size contact_info is_active created_at "
        "updated_at",
        "threat_indicators": "id indicator_value indicator_type severity confidence_score "
        "threat_score metadata first_seen_at last_seen_at created_at updated_at is_active "
        "hash_signature",
        "threat_sources": "id name description source_type api_endpoint authentication_config "
        "is_active refresh_interval_minutes last_updated metadata reliability_score",
        "threat_feeds": "id source_id feed_name feed_url format parsing_rules is_active "
        "update_frequency_minutes last_successful_update next_scheduled_update feed_statistics",
        "threat_intelligence": "id indicator_id source_id feed_id raw_data processed_data status "
        "source_confidence ingested_at processed_at enrichment_data correlation_id",
        "alerts": "id indicator_id rule_id assigned_user_id title description severity status "
        "priority alert_data triggered_at acknowledged_at resolved_at resolution_notes metadata",
        "correlation_rules": "id name description rule_definition rule_type is_active "
        "confidence_threshold time_window_minutes parameters created_at updated_at created_by",
        "threat_correlations": "id primary_indicator_id related_indicator_id rule_id "
        "correlation_type correlation_score correlation_data discovered_at is_verified "
        "analyst_notes",
        "incidents": "id incident_number title description severity status assigned_analyst_id "
        "created_at updated_at resolved_at timeline affected_assets resolution_summary",
        "incident_indicators": "id incident_id indicator_id relationship_type notes added_at "
        "added_by",
        "incident_alerts": "id incident_id alert_id linked_at linked_by notes",
        "threat_hunting_sessions": "id session_name description analyst_id status "
        "hunt_parameters findings started_at ended_at conclusion",
        "hunt_queries": "id session_id query_name query_definition query_type parameters results "
        "executed_at execution_time_ms",
        "ioc_collections": "id name description created_by is_public metadata created_at "
        "updated_at indicator_count",
        "collection_indicators": "id collection_id indicator_id added_at added_by notes",
        "threat_reports": "id title executive_summary detailed_analysis report_type "
        "classification author_id indicators_referenced attachments published_at created_at "
        "updated_at metadata",
        "ml_models": "id model_name model_type version description model_parameters "
        "training_data_info accuracy_score trained_at deployed_at is_active performance_metrics "
        "model_file_path",
        "ml_predictions": "id model_id indicator_id prediction_score prediction_data "
        "model_features predicted_at is_validated actual_outcome",
        "enrichment_data": "id indicator_id enrichment_type enrichment_data provider_id "
        "enriched_at expires_at metadata",
        "enrichment_providers": "id name description provider_type api_endpoint "
        "authentication_config is_active rate_limits cost_per_query",
        "api_keys": "id user_id key_name key_hash permissions created_at expires_at last_used_at "
        "is_active usage_count rate_limits",
        "audit_logs": "id user_id action resource_type resource_id old_values new_values "
        "ip_address user_agent timestamp severity metadata",
        "notifications": "id user_id alert_id notification_type title message notification_data "
        "status created_at sent_at delivered_at retry_count",
        "dashboards": "id name description owner_id dashboard_config widget_layout is_public "
        "created_at updated_at sharing_permissions",
        "dashboard_widgets": "id dashboard_id widget_type title widget_config data_source "
        "position_x position_y width height created_at updated_at",
        "threat_campaigns": "id campaign_name description status first_observed last_observed "
        "tactics techniques procedures attributed_actors analyst_id created_at updated_at",
        "campaign_indicators": "id campaign_id indicator_id relationship_type confidence_score "
        "associated_at associated_by notes",
        "threat_actors": "id actor_name aliases description sophistication motivations "
        "target_industries target_countries known_tools attribution_data first_observed "
        "last_observed created_at updated_at",
        "actor_indicators": "id actor_id indicator_id relationship_type confidence_score "
        "associated_at associated_by evidence",
        "mitre_techniques": "technique_id technique_name description tactic data_sources "
        "platforms defenses_bypassed created_at updated_at",
        "indicator_techniques": "id indicator_id technique_id confidence_score mapped_at "
        "mapped_by evidence",
        "watchlists": "id name description created_by list_type is_active created_at updated_at "
        "item_count",
        "watchlist_items": "id watchlist_id item_value item_type notes added_at added_by "
        "expires_at",
        "system_configuration": "key value description category created_at updated_at updated_by",
    }
)

# (table, column) -> every value the documents list. users.role is the merged list of
# ARCHITECTURE.md (the OSINT ``readonly`` is ``viewer``).
ENUMS: dict[tuple[str, str], set[str]] = {
    ("users", "role"): {"admin", "analyst", "user", "viewer"},
    ("collections", "status"): {"pending", "running", "completed", "failed", "cancelled"},
    ("collections", "collector_type"): {
        "social_media",
        "domain_intel",
        "public_db",
        "news",
        "dark_web",
        "custom",
    },
    ("entities", "entity_type"): {
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
        "url",
        "hash",
        "cve",
    },
    ("entity_aliases", "entity_type"): {
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
        "url",
        "hash",
        "cve",
    },
    ("risk_scores", "level"): {"low", "medium", "high", "critical"},
    ("entity_relationships", "relation"): {"RELATED_TO", "COLLECTED_FROM"},
    ("entity_relationships", "type"): {
        "WORKS_FOR",
        "OWNS",
        "LOCATED_AT",
        "COMMUNICATES_WITH",
        "ASSOCIATED_WITH",
        "CONTROLS",
        "MEMBER_OF",
        "TRANSACTS_WITH",
        "RESOLVES_TO",
        "PART_OF",
        "USES",
        "ATTRIBUTED_TO",
        "INDICATES",
        "SAME_AS",
    },
    ("organizations", "size"): {"small", "medium", "large"},
    ("threat_indicators", "indicator_type"): {"ip", "domain", "url", "hash", "email"},
    ("threat_indicators", "severity"): {"critical", "high", "medium", "low"},
    ("threat_sources", "source_type"): {"commercial", "open_source", "government", "internal"},
    ("threat_feeds", "format"): {"json", "xml", "csv", "stix"},
    ("threat_intelligence", "status"): {"new", "processed", "verified", "false_positive"},
    ("alerts", "severity"): {"critical", "high", "medium", "low", "info"},
    ("alerts", "status"): {"open", "investigating", "resolved", "false_positive"},
    ("alerts", "priority"): {"urgent", "high", "normal", "low"},
    ("correlation_rules", "rule_type"): {"pattern", "ml", "threshold", "time_based"},
    ("threat_correlations", "correlation_type"): {"ip_domain", "hash_ip", "temporal", "behavioral"},
    ("incidents", "severity"): {"critical", "high", "medium", "low"},
    ("incidents", "status"): {"open", "investigating", "contained", "resolved"},
    ("incident_indicators", "relationship_type"): {"root_cause", "related", "consequence"},
    ("threat_hunting_sessions", "status"): {"active", "paused", "completed", "archived"},
    ("hunt_queries", "query_type"): {"sql", "elasticsearch", "custom"},
    ("threat_reports", "report_type"): {"incident", "trend", "threat_actor", "campaign"},
    ("threat_reports", "classification"): {"public", "internal", "confidential"},
    ("enrichment_data", "enrichment_type"): {
        "geolocation",
        "whois",
        "reputation",
        "malware_analysis",
    },
    ("enrichment_providers", "provider_type"): {"commercial", "free", "internal"},
    ("audit_logs", "severity"): {"info", "warning", "error"},
    ("notifications", "notification_type"): {"email", "sms", "webhook", "slack"},
    ("notifications", "status"): {"pending", "sent", "delivered", "failed"},
    ("threat_campaigns", "status"): {"active", "dormant", "completed"},
    ("campaign_indicators", "relationship_type"): {
        "infrastructure",
        "payload",
        "communication",
        "victim",
    },
    ("threat_actors", "sophistication"): {"low", "medium", "high", "expert"},
    ("actor_indicators", "relationship_type"): {"infrastructure", "tool", "technique", "victim"},
    ("watchlists", "list_type"): {"ip_blacklist", "domain_blacklist", "hash_whitelist", "custom"},
    ("watchlist_items", "item_type"): {"ip", "domain", "hash", "email", "url"},
    ("system_configuration", "category"): {"general", "security", "performance", "integration"},
}

# Every ``CREATE INDEX`` of the OSINT document: name -> (table, columns).
OSINT_INDEXES: dict[str, tuple[str, list[str]]] = {
    "idx_users_email": ("users", ["email"]),
    "idx_users_username": ("users", ["username"]),
    "idx_users_created_at": ("users", ["created_at"]),
    "idx_api_keys_user_id": ("api_keys", ["user_id"]),
    "idx_api_keys_key_hash": ("api_keys", ["key_hash"]),
    "idx_collections_user_id": ("collections", ["user_id"]),
    "idx_collections_status": ("collections", ["status"]),
    "idx_collections_collector_type": ("collections", ["collector_type"]),
    "idx_collections_created_at": ("collections", ["created_at"]),
    "idx_sources_source_type": ("sources", ["source_type"]),
    "idx_sources_is_active": ("sources", ["is_active"]),
    "idx_collection_items_collection_id": ("collection_items", ["collection_id"]),
    "idx_collection_items_source_id": ("collection_items", ["source_id"]),
    "idx_collection_items_is_processed": ("collection_items", ["is_processed"]),
    "idx_collection_items_hash": ("collection_items", ["hash"]),
    "idx_entities_entity_type": ("entities", ["entity_type"]),
    "idx_entities_name": ("entities", ["name"]),
    "idx_entities_normalized_name": ("entities", ["normalized_name"]),
    "idx_entities_risk_score": ("entities", ["risk_score"]),
    "idx_entities_tags": ("entities", ["tags"]),
    "idx_entities_properties": ("entities", ["properties"]),
    "idx_entity_sources_entity_id": ("entity_sources", ["entity_id"]),
    "idx_entity_sources_collection_item_id": ("entity_sources", ["collection_item_id"]),
    "idx_risk_scores_entity_id": ("risk_scores", ["entity_id"]),
    "idx_risk_scores_score": ("risk_scores", ["score"]),
    "idx_risk_scores_level": ("risk_scores", ["level"]),
    "idx_risk_scores_calculated_at": ("risk_scores", ["calculated_at"]),
    "idx_workflows_user_id": ("workflows", ["user_id"]),
    "idx_workflows_status": ("workflows", ["status"]),
    "idx_workflow_executions_workflow_id": ("workflow_executions", ["workflow_id"]),
    "idx_workflow_executions_status": ("workflow_executions", ["status"]),
    "idx_workflow_executions_started_at": ("workflow_executions", ["started_at"]),
    "idx_reports_user_id": ("reports", ["user_id"]),
    "idx_reports_status": ("reports", ["status"]),
    "idx_reports_created_at": ("reports", ["created_at"]),
    "idx_audit_logs_user_id": ("audit_logs", ["user_id"]),
    "idx_audit_logs_action": ("audit_logs", ["action"]),
    "idx_audit_logs_resource_type": ("audit_logs", ["resource_type"]),
    "idx_audit_logs_created_at": ("audit_logs", ["created_at"]),
}
# USING GIN: PostgreSQL only.
POSTGRESQL_ONLY_INDEXES = {"idx_entities_tags", "idx_entities_properties"}

# Column sets that must be unique: UNIQUE / UK of the documents, the MongoDB unique indexes,
# the indicator deduplication key, and one row per pair in every link table.
UNIQUE_KEYS: dict[str, list[tuple[str, ...]]] = {
    "users": [("email",), ("username",)],
    "organizations": [("name",)],
    "sources": [("name",)],
    "collection_items": [("hash",)],
    "entity_sources": [("entity_id", "collection_item_id")],
    "raw_documents": [("hash",)],
    "analysis_results": [("analysis_id",)],
    "threat_indicators": [("indicator_value",), ("hash_signature",)],
    "threat_sources": [("name",)],
    "correlation_rules": [("name",)],
    "incidents": [("incident_number",)],
    "ioc_collections": [("name",)],
    "ml_models": [("model_name",)],
    "enrichment_providers": [("name",)],
    "threat_campaigns": [("campaign_name",)],
    "threat_actors": [("actor_name",)],
    "watchlists": [("name",)],
    "incident_indicators": [("incident_id", "indicator_id")],
    "incident_alerts": [("incident_id", "alert_id")],
    "collection_indicators": [("collection_id", "indicator_id")],
    "campaign_indicators": [("campaign_id", "indicator_id")],
    "actor_indicators": [("actor_id", "indicator_id")],
    "indicator_techniques": [("indicator_id", "technique_id")],
    "entity_relationships": [
        ("source_kind", "source_id", "target_kind", "target_id", "relation", "type")
    ],
}

CASCADE, SET_NULL = "CASCADE", "SET NULL"
# (table, column) -> (referred table, ON DELETE). The OSINT ones are the document's; the
# threat-intel diagram gives no ON DELETE: link rows go with either end, who-did-it columns
# are set to NULL.
FOREIGN_KEYS: dict[tuple[str, str], tuple[str, str]] = {
    ("api_keys", "user_id"): ("users", CASCADE),
    ("collections", "user_id"): ("users", CASCADE),
    ("collection_items", "collection_id"): ("collections", CASCADE),
    ("collection_items", "source_id"): ("sources", SET_NULL),
    ("entity_sources", "entity_id"): ("entities", CASCADE),
    ("entity_sources", "collection_item_id"): ("collection_items", CASCADE),
    ("risk_scores", "entity_id"): ("entities", CASCADE),
    ("risk_scores", "calculated_by"): ("users", SET_NULL),
    ("workflows", "user_id"): ("users", CASCADE),
    ("workflow_executions", "workflow_id"): ("workflows", CASCADE),
    ("workflow_executions", "user_id"): ("users", SET_NULL),
    ("reports", "user_id"): ("users", CASCADE),
    ("audit_logs", "user_id"): ("users", SET_NULL),
    ("entities", "indicator_id"): ("threat_indicators", SET_NULL),
    ("enrichment_data", "indicator_id"): ("threat_indicators", CASCADE),
    ("enrichment_data", "entity_id"): ("entities", CASCADE),
    ("enrichment_data", "collection_item_id"): ("collection_items", CASCADE),
    ("enrichment_data", "provider_id"): ("enrichment_providers", SET_NULL),
    ("threat_feeds", "source_id"): ("threat_sources", CASCADE),
    ("threat_intelligence", "indicator_id"): ("threat_indicators", CASCADE),
    ("threat_intelligence", "source_id"): ("threat_sources", SET_NULL),
    ("threat_intelligence", "feed_id"): ("threat_feeds", SET_NULL),
    ("alerts", "indicator_id"): ("threat_indicators", SET_NULL),
    ("alerts", "rule_id"): ("correlation_rules", SET_NULL),
    ("alerts", "assigned_user_id"): ("users", SET_NULL),
    ("correlation_rules", "created_by"): ("users", SET_NULL),
    ("threat_correlations", "primary_indicator_id"): ("threat_indicators", CASCADE),
    ("threat_correlations", "related_indicator_id"): ("threat_indicators", CASCADE),
    ("threat_correlations", "rule_id"): ("correlation_rules", SET_NULL),
    ("incidents", "assigned_analyst_id"): ("users", SET_NULL),
    ("incident_indicators", "incident_id"): ("incidents", CASCADE),
    ("incident_indicators", "indicator_id"): ("threat_indicators", CASCADE),
    ("incident_indicators", "added_by"): ("users", SET_NULL),
    ("incident_alerts", "incident_id"): ("incidents", CASCADE),
    ("incident_alerts", "alert_id"): ("alerts", CASCADE),
    ("incident_alerts", "linked_by"): ("users", SET_NULL),
    ("threat_hunting_sessions", "analyst_id"): ("users", SET_NULL),
    ("hunt_queries", "session_id"): ("threat_hunting_sessions", CASCADE),
    ("ioc_collections", "created_by"): ("users", SET_NULL),
    ("collection_indicators", "collection_id"): ("ioc_collections", CASCADE),
    ("collection_indicators", "indicator_id"): ("threat_indicators", CASCADE),
    ("collection_indicators", "added_by"): ("users", SET_NULL),
    ("threat_reports", "author_id"): ("users", SET_NULL),
    ("ml_predictions", "model_id"): ("ml_models", CASCADE),
    ("ml_predictions", "indicator_id"): ("threat_indicators", CASCADE),
    ("notifications", "user_id"): ("users", CASCADE),
    ("notifications", "alert_id"): ("alerts", CASCADE),
    ("dashboards", "owner_id"): ("users", CASCADE),
    ("dashboard_widgets", "dashboard_id"): ("dashboards", CASCADE),
    ("threat_campaigns", "analyst_id"): ("users", SET_NULL),
    ("campaign_indicators", "campaign_id"): ("threat_campaigns", CASCADE),
    ("campaign_indicators", "indicator_id"): ("threat_indicators", CASCADE),
    ("campaign_indicators", "associated_by"): ("users", SET_NULL),
    ("actor_indicators", "actor_id"): ("threat_actors", CASCADE),
    ("actor_indicators", "indicator_id"): ("threat_indicators", CASCADE),
    ("actor_indicators", "associated_by"): ("users", SET_NULL),
    ("indicator_techniques", "indicator_id"): ("threat_indicators", CASCADE),
    ("indicator_techniques", "technique_id"): ("mitre_techniques", CASCADE),
    ("indicator_techniques", "mapped_by"): ("users", SET_NULL),
    ("watchlists", "created_by"): ("users", SET_NULL),
    ("watchlist_items", "watchlist_id"): ("watchlists", CASCADE),
    ("watchlist_items", "added_by"): ("users", SET_NULL),
    ("system_configuration", "updated_by"): ("users", SET_NULL),
}

# Owned by the identity domain, whose indexing follows its own documents.
IDENTITY_TABLES = {
    "users",
    "organizations",
    "api_keys",
    "user_sessions",
    "audit_logs",
    "system_configuration",
}


def _merged(*specs: dict[str, set[str]]) -> dict[str, set[str]]:
    merged: dict[str, set[str]] = {}
    for spec in specs:
        for table, columns in spec.items():
            merged.setdefault(table, set()).update(columns)
    return merged


DOCUMENTED_COLUMNS = _merged(OSINT_COLUMNS, DOCUMENT_AND_GRAPH_COLUMNS, TI_COLUMNS)


# --- Fixtures: the schema from the models, on each engine ---------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty database of each engine with ``Base.metadata.create_all`` applied."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'schema.db'}"
    else:
        url = request.getfixturevalue("fresh_postgres_url")
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


def _now() -> datetime:
    return datetime.now(UTC)


def _filler(column: Any) -> Any:
    """A valid value for a required column, by its type."""
    if isinstance(column.type, Enum):
        return column.type.enums[0]
    if column.type is JSONType or column.type is TextArray:
        return []
    python_type = column.type.python_type
    if python_type is uuid.UUID:
        return uuid.uuid4()
    if python_type is datetime:
        return _now()
    if python_type is bool:
        return True
    if python_type is str:
        return "x"
    if python_type in (dict, list):
        return {}
    return 1


def _row_with(table_name: str, **values: Any) -> dict[str, Any]:
    """A row with its key and every NOT NULL column without a default, overridden by ``values``."""
    table = Base.metadata.tables[table_name]
    row: dict[str, Any] = {}
    for column in table.columns:
        required = not column.nullable and column.default is None and not column.server_default
        if column.primary_key or required:
            row[column.name] = _filler(column)
    row.update(values)
    return row


def _insert(conn: Any, table_name: str, **values: Any) -> Any:
    row = _row_with(table_name, **values)
    conn.execute(insert(Base.metadata.tables[table_name]).values(row))
    return row.get("id")


def _constraint_of(error: IntegrityError) -> str:
    """The name of the violated constraint, as each driver reports it."""
    diag = getattr(error.orig, "diag", None)
    if diag is not None and diag.constraint_name:
        return str(diag.constraint_name)
    return str(error.orig)


# --- Structure ----------------------------------------------------------------------------


def test_every_documented_table_exists(engine: Engine) -> None:
    tables = set(inspect(engine).get_table_names())
    assert set(DOCUMENTED_COLUMNS) - tables == set()


def test_every_documented_column_exists_or_has_a_merged_synonym(engine: Engine) -> None:
    inspector = inspect(engine)
    missing = []
    for table, columns in sorted(DOCUMENTED_COLUMNS.items()):
        actual = {column["name"] for column in inspector.get_columns(table)}
        synonyms = SYNONYMS.get(table, {})
        for column in sorted(columns):
            if synonyms.get(column, column) not in actual:
                missing.append(f"{table}.{column}")
    assert missing == []


def test_every_named_osint_index_exists_on_its_columns(engine: Engine) -> None:
    inspector = inspect(engine)
    wrong = []
    for name, (table, columns) in OSINT_INDEXES.items():
        if name in POSTGRESQL_ONLY_INDEXES and engine.dialect.name != "postgresql":
            continue
        found = {index["name"]: index for index in inspector.get_indexes(table)}
        if name not in found or found[name]["column_names"] != columns:
            wrong.append(name)
    assert wrong == []


def test_gin_indexes_exist_on_postgresql_only(engine: Engine) -> None:
    names = {index["name"] for index in inspect(engine).get_indexes("entities")}
    if engine.dialect.name == "postgresql":
        assert names >= POSTGRESQL_ONLY_INDEXES
    else:
        assert names.isdisjoint(POSTGRESQL_ONLY_INDEXES)


def test_every_unique_key_is_enforced_by_a_constraint_or_unique_index(engine: Engine) -> None:
    inspector = inspect(engine)
    missing = []
    for table, keys in UNIQUE_KEYS.items():
        unique: set[tuple[str | None, ...]] = {
            tuple(c["column_names"]) for c in inspector.get_unique_constraints(table)
        }
        unique |= {tuple(i["column_names"]) for i in inspector.get_indexes(table) if i["unique"]}
        missing += [f"{table}{key}" for key in keys if key not in unique]
    assert missing == []


def test_foreign_keys_point_at_their_tables_with_their_on_delete(engine: Engine) -> None:
    inspector = inspect(engine)
    wrong = []
    for (table, column), expected in FOREIGN_KEYS.items():
        found = [
            (fk["referred_table"], (fk.get("options") or {}).get("ondelete", "").upper())
            for fk in inspector.get_foreign_keys(table)
            if fk["constrained_columns"] == [column]
        ]
        if found != [expected]:
            wrong.append(f"{table}.{column}: {found} != {expected}")
    assert wrong == []


def test_every_foreign_key_of_the_domain_tables_is_indexed(engine: Engine) -> None:
    inspector = inspect(engine)
    unindexed = []
    for table in sorted(set(inspector.get_table_names()) - IDENTITY_TABLES):
        leading = {tuple(i["column_names"][:1]) for i in inspector.get_indexes(table)}
        leading |= {tuple(c["column_names"][:1]) for c in inspector.get_unique_constraints(table)}
        for fk in inspector.get_foreign_keys(table):
            if tuple(fk["constrained_columns"][:1]) not in leading:
                unindexed.append(f"{table}.{fk['constrained_columns'][0]}")
    assert unindexed == []


def test_every_enum_check_lists_every_documented_value(engine: Engine) -> None:
    inspector = inspect(engine)
    incomplete = []
    for (table, column), values in ENUMS.items():
        checks = [
            check["sqltext"]
            for check in inspector.get_check_constraints(table)
            if re.search(rf"\b{column}\b", check["sqltext"])
            and all(f"'{value}'" in check["sqltext"] for value in values)
        ]
        if not checks:
            incomplete.append(f"{table}.{column}")
    assert incomplete == []


def test_every_enum_column_rejects_an_unknown_value(engine: Engine) -> None:
    accepted = []
    for table, column in ENUMS:
        # A literal skips the model's own validation, so the database has to refuse it; it is
        # short enough for every enum's VARCHAR, so only the CHECK can refuse it.
        row = _row_with(table, **{column: literal_column("'??'")})
        with engine.connect() as conn, conn.begin():
            try:
                conn.execute(insert(Base.metadata.tables[table]).values(row))
            except IntegrityError as error:
                if "ck_" not in _constraint_of(error):
                    accepted.append(f"{table}.{column}: {error.orig}")
            else:
                accepted.append(f"{table}.{column}")
            conn.rollback()
    assert accepted == []


# --- Behaviour ----------------------------------------------------------------------------


def test_a_risk_score_outside_0_to_100_is_rejected(engine: Engine) -> None:
    with engine.connect() as conn, conn.begin():
        entity_id = _insert(conn, "entities", id=uuid.uuid4(), entity_type="person", name="A")
        _insert(conn, "risk_scores", entity_id=entity_id, score=100, factors={})
        for score in (101, -1):
            with pytest.raises(IntegrityError) as raised, conn.begin_nested():
                _insert(conn, "risk_scores", entity_id=entity_id, score=score, factors={})
            assert "score_range" in _constraint_of(raised.value)
        conn.rollback()


def test_enrichment_data_needs_an_indicator_or_an_entity(engine: Engine) -> None:
    with engine.connect() as conn, conn.begin():
        with pytest.raises(IntegrityError) as raised, conn.begin_nested():
            _insert(conn, "enrichment_data", enrichment_type="whois")
        assert "has_target" in _constraint_of(raised.value)
        conn.rollback()


def test_foreign_keys_are_enforced(engine: Engine) -> None:
    with engine.connect() as conn, conn.begin():
        with pytest.raises(IntegrityError) as raised, conn.begin_nested():
            _insert(conn, "incident_indicators", incident_id=uuid.uuid4())
        conn.rollback()
    violated = _constraint_of(raised.value)
    assert violated.startswith("fk_") or "FOREIGN KEY constraint failed" in violated


def test_deleting_an_incident_deletes_its_indicator_links_but_not_the_indicators(
    engine: Engine,
) -> None:
    tables = Base.metadata.tables
    with engine.connect() as conn, conn.begin():
        incident_id = _insert(conn, "incidents", incident_number="INC-1", severity="high")
        indicator_id = _insert(
            conn, "threat_indicators", indicator_value="198.51.100.7", indicator_type="ip"
        )
        _insert(conn, "incident_indicators", incident_id=incident_id, indicator_id=indicator_id)
        conn.execute(delete(tables["incidents"]).where(tables["incidents"].c.id == incident_id))
        links = conn.execute(select(tables["incident_indicators"].c.id)).all()
        indicators = conn.execute(select(tables["threat_indicators"].c.id)).all()
        conn.rollback()
    assert links == []
    assert [row.id for row in indicators] == [indicator_id]


def test_deleting_a_user_keeps_the_alerts_assigned_to_them(engine: Engine) -> None:
    tables = Base.metadata.tables
    with engine.connect() as conn, conn.begin():
        user_id = _insert(conn, "users", email="a@example.org", username="a", role="analyst")
        _insert(conn, "alerts", title="Beacon", severity="high", assigned_user_id=user_id)
        conn.execute(delete(tables["users"]).where(tables["users"].c.id == user_id))
        assignees = conn.execute(select(tables["alerts"].c.assigned_user_id)).scalars().all()
        conn.rollback()
    assert assignees == [None]


def test_a_link_table_holds_one_row_per_pair(engine: Engine) -> None:
    with engine.connect() as conn, conn.begin():
        collection_id = _insert(conn, "ioc_collections", name="APT28")
        indicator_id = _insert(
            conn, "threat_indicators", indicator_value="evil.example", indicator_type="domain"
        )
        link = {"collection_id": collection_id, "indicator_id": indicator_id}
        _insert(conn, "collection_indicators", **link)
        with pytest.raises(IntegrityError), conn.begin_nested():
            _insert(conn, "collection_indicators", **link)
        conn.rollback()
