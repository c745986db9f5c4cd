"""``krsn graph …`` on both engines, read back as JSON."""

from __future__ import annotations

from graph_factories import link_all, make_entities
from sqlalchemy import select

from krsn.db import Database
from krsn.identity.models import AuditLog
from krsn.osint.models import EntityType, RelationshipType


def test_neighbours_path_rank_and_components_print_json(db: Database, graph_cli):  # type: ignore[no-untyped-def]
    (domain,) = make_entities(db, ["example.com"], entity_type=EntityType.DOMAIN)
    hub, a, b = make_entities(db, ["hub", "A", "B"])
    link_all(db, [(domain, hub), (hub, a), (hub, b)])
    around = graph_cli.json("neighbours", "domain:example.com", "--depth", "1")
    assert {n["node"] for n in around["nodes"]} == {str(domain), str(hub)}
    typed = graph_cli.json("neighbours", str(domain), "--type", "OWNS")
    assert [n["node"] for n in typed["nodes"]] == [str(domain)]
    path = graph_cli.json("path", "domain:example.com", str(b))
    assert path["found"] and path["length"] == 2
    rank = graph_cli.json("rank", "--algorithm", "degree", "--limit", "1")
    assert rank["items"][0]["node"] == str(hub)
    components = graph_cli.json("components")
    assert components["count"] == 1 and components["groups"][0]["size"] == 4
    communities = graph_cli.json("communities", "--algorithm", "louvain")
    assert communities["count"] >= 1
    table = graph_cli("neighbours", str(hub))
    assert table.exit_code == 0 and "4 nodes" in table.stdout


def test_link_and_unlink_are_audited_and_errors_are_clean(db: Database, graph_cli):  # type: ignore[no-untyped-def]
    a, b = make_entities(db, ["A", "B"])
    edge = graph_cli.json("link", str(a), str(b), "--type", "CONTROLS")
    assert edge["type"] == "CONTROLS" and edge["asserted_by"] == "cli"
    again = graph_cli("link", str(a), str(b), "--type", "CONTROLS")
    assert again.exit_code == 1 and "already linked" in again.stderr
    removed = graph_cli.json("unlink", str(a), str(b), "--type", "CONTROLS")
    assert removed["removed"] == 1
    bad = graph_cli("neighbours", "nonsense")
    assert bad.exit_code == 1 and "kind:id" in bad.stderr
    with db.transaction(readonly=True) as session:
        rows = session.scalars(select(AuditLog).where(AuditLog.action.like("graph.%"))).all()
    assert sorted(r.action for r in rows) == ["graph.link", "graph.unlink"]
    assert all((r.metadata_ or {}).get("via") == "cli" for r in rows)
    assert link_all(db, [(a, b)], RelationshipType.CONTROLS) == 1  # the unlink really removed it
