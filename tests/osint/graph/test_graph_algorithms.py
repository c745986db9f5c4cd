"""Paths, centrality, components and communities on both engines, checked against igraph run
on the same generated graph; the projection kept in step with writes."""

from __future__ import annotations

import random

import pytest
from graph_factories import generated, link_all, make_entities

from krsn.db import Database
from krsn.osint.graph import service
from krsn.osint.graph.edges import EdgeSpec, NodeRef, delete_node, remove_edges, repoint_node
from krsn.osint.graph.expand import Filters
from krsn.osint.graph.projection import Projection, loaded_projection, projection_for
from krsn.osint.graph.schemas import Algorithm, CommunityAlgorithm
from krsn.osint.models import RelationshipType


@pytest.mark.parametrize("method", ["projection", "sql"])
def test_shortest_paths_are_as_long_as_igraphs(db: Database, method: str):
    graph, nodes = generated(db, n=80, m=1)  # a tree: paths are long and unique
    rng = random.Random(3)
    pairs = [tuple(rng.sample(range(80), 2)) for _ in range(15)]
    with db.transaction(readonly=True) as session:
        for a, b in pairs:
            result = service.shortest_path(session, source=nodes[a], target=nodes[b], method=method)
            expected = graph.distances(a, b)[0][0]
            assert result.found and result.length == expected, (a, b)
            assert result.method == method
            assert result.nodes[0].node == str(nodes[a])
            assert result.nodes[-1].node == str(nodes[b])
            assert len(result.edges) == expected


def test_a_path_longer_than_asked_is_not_found_and_says_why(db: Database):
    a, b, c, d = make_entities(db, ["A", "B", "C", "D"])
    link_all(db, [(a, b), (b, c), (c, d)])
    (lonely,) = make_entities(db, ["E"])
    with db.transaction(readonly=True) as session:
        for method in ("projection", "sql"):
            short = service.shortest_path(session, source=a, target=d, max_length=2, method=method)
            assert not short.found and short.truncated and "2" in (short.reason or "")
            none = service.shortest_path(session, source=a, target=lonely, method=method)
            assert not none.found


def test_a_path_can_be_limited_to_edge_types(db: Database):
    a, b, c = make_entities(db, ["A", "B", "C"])
    link_all(db, [(a, c)], RelationshipType.OWNS)
    link_all(db, [(a, b), (b, c)], RelationshipType.WORKS_FOR)
    only = Filters(types=frozenset({RelationshipType.WORKS_FOR}))
    with db.transaction(readonly=True) as session:
        assert service.shortest_path(session, source=a, target=c).length == 1
        typed = service.shortest_path(session, source=a, target=c, filters=only)
    assert typed.method == "sql" and typed.length == 2
    assert {e.type for e in typed.edges} == {"WORKS_FOR"}


@pytest.mark.parametrize("algorithm", list(Algorithm))
def test_centrality_ranks_the_hub_first(db: Database, algorithm: Algorithm):
    hub, *leaves = make_entities(db, ["hub"] + [f"leaf {i}" for i in range(12)])
    # A chain among the leaves so betweenness has something besides the hub.
    link_all(db, [(hub, leaf) for leaf in leaves] + [(leaves[0], leaves[1])])
    with db.transaction(readonly=True) as session:
        whole = service.rank(session, algorithm=algorithm, limit=3)
        around = service.rank(session, algorithm=algorithm, around=leaves[5], limit=3)
    for result in (whole, around):
        assert result.items[0].node == str(hub)
        assert result.items[0].label == "hub" and result.items[0].rank == 1
        assert result.nodes_considered == 13
    assert whole.scope == "graph" and around.scope == f"around {leaves[5]}"


def test_pagerank_matches_igraph_on_a_generated_graph(db: Database):
    graph, nodes = generated(db, n=60, m=2)
    expected = graph.pagerank(directed=False)
    best = max(range(60), key=lambda v: expected[v])
    with db.transaction(readonly=True) as session:
        result = service.rank(session, limit=60)
    assert result.items[0].node == str(nodes[best])
    by_node = {item.node: item.value for item in result.items}
    assert by_node[str(nodes[best])] == pytest.approx(expected[best], rel=1e-6)


def test_components_are_counted_largest_first(db: Database):
    a, b, c, d, e, _alone = make_entities(db, list("ABCDEF"))
    link_all(db, [(a, b), (b, c), (d, e)])
    with db.transaction(readonly=True) as session:
        result = service.groups(session)
    # F has no edge: not a component of the graph.
    assert result.count == 2
    assert [g.size for g in result.groups] == [3, 2]
    assert result.groups[0].members[0].node == str(b)  # best connected first


@pytest.mark.parametrize("algorithm", list(CommunityAlgorithm))
def test_communities_split_two_cliques_joined_by_one_edge(
    db: Database, algorithm: CommunityAlgorithm
):
    left = make_entities(db, [f"L{i}" for i in range(6)])
    right = make_entities(db, [f"R{i}" for i in range(6)])
    clique = [
        (x, y) for group in (left, right) for i, x in enumerate(group) for y in group[i + 1 :]
    ]
    link_all(db, [*clique, (left[0], right[0])])
    with db.transaction(readonly=True) as session:
        result = service.groups(session, algorithm=algorithm)
    assert result.count == 2 and result.modularity and result.modularity > 0.3
    members = [{m.node for m in g.members} for g in result.groups]
    assert {str(n) for n in left} in members and {str(n) for n in right} in members


def test_the_projection_sees_an_edge_added_after_it_loaded(db: Database):
    a, b, c = make_entities(db, ["A", "B", "C"])
    link_all(db, [(a, b)])
    with db.transaction(readonly=True) as session:
        projection = projection_for(session)
        assert not service.shortest_path(session, source=a, target=c).found
    link_all(db, [(b, c)])
    with db.transaction(readonly=True) as session:
        assert loaded_projection(session) is projection  # not reloaded: told on commit
        assert service.shortest_path(session, source=a, target=c).length == 2


def test_a_rolled_back_edge_never_reaches_the_projection(db: Database):
    a, b = make_entities(db, ["A", "B"])
    with db.transaction(readonly=True) as session:
        projection_for(session)
    with pytest.raises(RuntimeError), db.transaction() as session:
        from krsn.osint.graph.edges import add_edges

        add_edges(session, [EdgeSpec(source=a, target=b, type=RelationshipType.OWNS)])
        raise RuntimeError("changed my mind")
    with db.transaction(readonly=True) as session:
        assert not service.shortest_path(session, source=a, target=b).found


def test_the_projection_forgets_a_deleted_node_and_follows_a_repoint(db: Database):
    a, b, c, d = make_entities(db, list("ABCD"))
    link_all(db, [(a, b), (b, c)])
    with db.transaction(readonly=True) as session:
        projection_for(session)
        assert service.shortest_path(session, source=a, target=c).length == 2
    with db.transaction() as session:
        assert delete_node(session, b) == 2
    with db.transaction(readonly=True) as session:
        assert not service.shortest_path(session, source=a, target=c).found
        assert not service.neighbours(session, node=a, depth=1).edges
        assert service.groups(session).count == 0
    link_all(db, [(a, c), (c, d)])
    with db.transaction() as session:
        # c merged into a: c's edge to d becomes a's; the a–c edge would be a loop, dropped.
        assert repoint_node(session, c, a) == 1
    with db.transaction(readonly=True) as session:
        assert service.shortest_path(session, source=a, target=d).length == 1
        assert not service.shortest_path(session, source=c, target=d).found
        assert {n.node for n in service.neighbours(session, node=a, depth=1).nodes} == {
            str(a),
            str(d),
        }


def test_another_process_changes_reach_a_projection_through_the_database(db: Database):
    a, b, c = make_entities(db, ["A", "B", "C"])
    link_all(db, [(a, b)])
    with db.transaction(readonly=True) as session:
        # A second projection on the same engine stands for another process's: it hears
        # of nothing on commit and has to find the changes by polling.
        other = Projection(db.engine, poll_s=0)
        other.load(session)
    link_all(db, [(b, c)])
    with db.transaction() as session:
        remove_edges(session, [EdgeSpec(source=a, target=b, type=RelationshipType.ASSOCIATED_WITH)])
    with db.transaction(readonly=True) as session:
        other.ready(session)
    graph = other.graph
    vb, vc, va = (other.vertex_of(str(n)) for n in (b, c, a))
    assert graph.get_eid(vb, vc, directed=False, error=False) >= 0
    assert graph.get_eid(va, vb, directed=False, error=False) < 0


def test_removing_one_of_two_edges_keeps_the_pair_connected(db: Database):
    a, b = make_entities(db, ["A", "B"])
    link_all(db, [(a, b)], RelationshipType.OWNS)
    link_all(db, [(b, a)], RelationshipType.CONTROLS)
    with db.transaction(readonly=True) as session:
        projection_for(session)
    with db.transaction() as session:
        remove_edges(session, [EdgeSpec(source=a, target=b, type=RelationshipType.OWNS)])
    with db.transaction(readonly=True) as session:
        assert service.shortest_path(session, source=a, target=b).length == 1


def test_nodes_of_other_kinds_take_part(db: Database):
    (actor_entity,) = make_entities(db, ["APT Example"])
    technique = NodeRef.of("technique", "T1059")
    link_all(db, [(actor_entity, technique)], RelationshipType.USES)
    with db.transaction(readonly=True) as session:
        result = service.shortest_path(session, source=technique, target=actor_entity)
    assert result.found and result.nodes[0].kind.value == "technique"
