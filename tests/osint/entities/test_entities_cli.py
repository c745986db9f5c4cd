"""``krsn entities``: list, show, merge and split with confirmation, risk, rescore, enrich,
analyses and search, each with ``--json``."""

from __future__ import annotations

from entity_support import Investigation
from sqlalchemy import select

from cli_support import Cli
from krsn.identity.models import AuditLog
from krsn.osint.collectors.base import Collected, Observed
from krsn.osint.models import EntityType


def seed(investigation: Investigation) -> None:
    investigation.store(
        Collected(
            item_type="company",
            raw={"n": 1},
            entities=[
                Observed(
                    EntityType.ORGANIZATION, "Globex Corporation", properties={"sanctioned": True}
                ),
                Observed(EntityType.DOMAIN, "globex.example.com"),
            ],
        ),
        Collected(
            item_type="company",
            raw={"n": 2},
            entities=[Observed(EntityType.ORGANIZATION, "Globex Intl")],
        ),
    )


def test_list_and_show_print_json(cli: Cli, investigation: Investigation) -> None:
    seed(investigation)

    page = cli.json("entities", "list", "--type", "organization")
    assert [row["name"] for row in page["items"]] == ["Globex Corporation", "Globex Intl"]
    assert page["items"][0]["risk_level"] == "high"
    shown = cli.json("entities", "show", "organization:GLOBEX corp.")
    assert shown["name"] == "Globex Corporation"
    assert shown["risk_history"][0]["factors"][1]["factor"] == "sanctions"
    table = cli.ok("entities", "show", "domain:globex[.]example[.]com").stdout
    assert "globex.example.com" in table and "sources: 1" in table
    assert cli("entities", "show", "domain:nowhere.example.com").exit_code == 1


def test_merge_asks_first_and_is_audited(cli: Cli, investigation: Investigation) -> None:
    seed(investigation)

    declined = cli(
        "entities", "merge", "organization:Globex", "organization:Globex Intl", input="n\n"
    )
    assert declined.exit_code == 1
    assert len(cli.json("entities", "list", "--type", "organization")["items"]) == 2

    merged = cli.json(
        "entities", "merge", "organization:Globex", "organization:Globex Intl", "--yes"
    )
    assert merged["survivor"]["name"] == "Globex Corporation"
    assert len(cli.json("entities", "list", "--type", "organization")["items"]) == 1
    with investigation.database.transaction(readonly=True) as session:
        entry = session.scalars(select(AuditLog).where(AuditLog.action == "entity.merge")).one()
    assert entry.metadata_["via"] == "cli"


def test_split_risk_rescore_enrich_and_analyses(cli: Cli, investigation: Investigation) -> None:
    seed(investigation)
    cli.json("entities", "merge", "organization:Globex", "organization:Globex Intl", "--yes")
    shown = cli.json("entities", "show", "organization:Globex")
    link = shown["sources"][0]["id"]

    split = cli.json(
        "entities",
        "split",
        "organization:Globex",
        "--source",
        link,
        "--name",
        "Globex Intl",
        "--yes",
    )
    assert split["moved_sources"] == 1 and split["created"]["name"] == "Globex Intl"

    history = cli.json("entities", "risk", "organization:Globex")
    assert history[0]["score"] >= 60
    rescored = cli.json("entities", "rescore", "--all")
    assert rescored["rescored"] == 3
    assert (
        "Rescored 1 entities" in cli.ok("entities", "rescore", "domain:globex.example.com").stdout
    )

    added = cli.json(
        "entities", "enrich", "domain:globex.example.com", "--type", "whois",
        "--enricher", "rdap", "--data", '{"registrar": "Example"}', "--confidence", "0.7",
    )  # fmt: skip
    assert added["enricher"] == "rdap" and added["confidence"] == 0.7
    listed = cli.json("entities", "enrich", "domain:globex.example.com")
    assert [row["data"] for row in listed["items"]] == [{"registrar": "Example"}]
    assert cli.json("entities", "analyses")["items"] == []


def test_search_finds_entities_by_part_of_the_name(cli: Cli, investigation: Investigation) -> None:
    seed(investigation)
    found = cli.json("entities", "search", "globex")
    assert {hit["title"] for hit in found["items"]} >= {"Globex Corporation", "globex.example.com"}
