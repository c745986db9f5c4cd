import { describe, expect, it } from "vitest";

import {
  changedBy,
  createGraph,
  layout,
  layoutIterations,
  legendOf,
  nodeColour,
  paint,
  pathEdges,
  RISK_COLOURS,
  riskBand,
  syncGraph,
  typeColour,
  type GraphEdge,
  type GraphNode,
} from "./model";

const node = (id: string, type = "domain", risk: number | null = null): GraphNode => ({ id, label: id, type, risk });
const edge = (source: string, target: string, type = "ASSOCIATED_WITH"): GraphEdge => ({
  id: `${source}|${type}|${target}`,
  source,
  target,
  type,
});

describe("colours", () => {
  it("bands risk like the backend's levels", () => {
    expect([null, 0, 25, 26, 50, 51, 75, 76, 100].map(riskBand)).toEqual([
      "unscored", "low", "low", "medium", "medium", "high", "high", "critical", "critical",
    ]);
  });

  it("colours by type or by risk", () => {
    const n = node("a", "ip_address", 90);
    expect(nodeColour(n, "type")).toBe(typeColour("ip_address"));
    expect(nodeColour(n, "risk")).toBe(RISK_COLOURS.critical);
    expect(typeColour("something_new")).toBe(typeColour("something_new"));
    expect(typeColour("domain")).not.toBe(typeColour("ip_address"));
  });

  it("builds a legend: types by frequency, risk bands in order", () => {
    const nodes = [node("a", "domain", 10), node("b", "ip_address", 80), node("c", "ip_address", 55)];
    expect(legendOf(nodes, "type").map((e) => [e.key, e.count])).toEqual([["ip_address", 2], ["domain", 1]]);
    expect(legendOf(nodes, "type")[0].label).toBe("ip address");
    expect(legendOf(nodes, "risk").map((e) => [e.key, e.count])).toEqual([["critical", 1], ["high", 1], ["low", 1]]);
  });
});

describe("syncGraph", () => {
  it("adds nodes and edges with their colours and skips dangling edges", () => {
    const graph = createGraph();
    const result = syncGraph(graph, [node("a"), node("b", "email")], [edge("a", "b"), edge("a", "missing")], "type");
    expect(result.initial).toBe(true);
    expect(result.added).toEqual(["a", "b"]);
    expect(graph.order).toBe(2);
    expect(graph.size).toBe(1);
    expect(graph.getNodeAttribute("b", "color")).toBe(typeColour("email"));
  });

  it("merges an expansion incrementally, placing new nodes near their anchor", () => {
    const graph = createGraph();
    syncGraph(graph, [node("a"), node("b")], [edge("a", "b")], "type");
    layout(graph, true);
    const before = { ...graph.getNodeAttributes("a") };
    const result = syncGraph(graph, [node("a"), node("b"), node("c")], [edge("a", "b"), edge("c", "a")], "type");
    expect(result.initial).toBe(false);
    expect(result.added).toEqual(["c"]);
    expect(result.addedEdges).toBe(1);
    // Existing nodes keep their place; the new one lands next to its neighbour.
    expect(graph.getNodeAttribute("a", "x")).toBe(before.x);
    const c = graph.getNodeAttributes("c");
    expect(Math.hypot(c.x - before.x, c.y - before.y)).toBeLessThanOrEqual(6.01);
  });

  it("drops nodes and edges no longer given and updates changed attributes", () => {
    const graph = createGraph();
    syncGraph(graph, [node("a"), node("b"), node("c")], [edge("a", "b"), edge("b", "c")], "risk");
    const result = syncGraph(graph, [node("a", "domain", 90), node("b")], [edge("a", "b")], "risk");
    expect(result.removed).toEqual(["c"]);
    expect(graph.order).toBe(2);
    expect(graph.size).toBe(1);
    expect(graph.getNodeAttribute("a", "color")).toBe(RISK_COLOURS.critical);
  });

  it("tells when nothing changed, so that the renderer is spared a repaint", () => {
    const graph = createGraph();
    const nodes = [node("a"), node("b")];
    const edges = [edge("a", "b")];
    expect(changedBy(syncGraph(graph, nodes, edges, "type"))).toBe(true);
    expect(changedBy(syncGraph(graph, [...nodes], [...edges], "type"))).toBe(false);
    expect(changedBy(syncGraph(graph, [node("a", "domain", 50), node("b")], edges, "type"))).toBe(true);
  });

  it("keeps parallel edges of different types", () => {
    const graph = createGraph();
    syncGraph(graph, [node("a"), node("b")], [edge("a", "b", "RESOLVES_TO"), edge("b", "a", "PART_OF")], "type");
    expect(graph.size).toBe(2);
  });
});

describe("path highlighting", () => {
  it("finds the path's edges either way and fades everything else", () => {
    const graph = createGraph();
    syncGraph(graph, ["a", "b", "c", "d"].map((id) => node(id)), [edge("a", "b"), edge("c", "b"), edge("c", "d")], "type");
    const path = ["a", "b", "c"];
    expect(pathEdges(graph, path).sort()).toEqual(["a|ASSOCIATED_WITH|b", "c|ASSOCIATED_WITH|b"]);
    paint(graph, "type", { selected: ["a"], highlighted: path });
    expect(graph.getEdgeAttribute("a|ASSOCIATED_WITH|b", "size")).toBe(3);
    expect(graph.getEdgeAttribute("c|ASSOCIATED_WITH|d", "size")).toBe(1);
    expect(graph.getNodeAttribute("b", "forceLabel")).toBe(true);
    expect(graph.getNodeAttribute("d", "forceLabel")).toBe(false);
    expect(graph.getNodeAttribute("d", "color")).not.toBe(typeColour("domain"));
    expect(graph.getNodeAttribute("a", "size")).toBeGreaterThan(graph.getNodeAttribute("b", "size"));
    // Clearing the path restores the colours.
    paint(graph, "type", { selected: [], highlighted: [] });
    expect(graph.getNodeAttribute("d", "color")).toBe(typeColour("domain"));
    expect(graph.getEdgeAttribute("a|ASSOCIATED_WITH|b", "size")).toBe(1);
  });
});

describe("layout at scale", () => {
  it("bounds the iterations by the graph's size", () => {
    expect(layoutIterations(1)).toBe(0);
    expect(layoutIterations(50)).toBe(300);
    expect(layoutIterations(5000)).toBeLessThan(layoutIterations(500));
    expect(layoutIterations(500, false)).toBeLessThan(layoutIterations(500));
    expect(layoutIterations(5000, false)).toBe(0);
  });

  it("merges and lays out 5,000 nodes in well under a few seconds", () => {
    const nodes: GraphNode[] = [];
    const edges: GraphEdge[] = [];
    for (let index = 0; index < 5000; index++) {
      nodes.push(node(`n${index}`, index % 3 ? "ip_address" : "domain", index % 100));
      if (index > 0) edges.push(edge(`n${index}`, `n${Math.floor(index / 7)}`));
      if (index > 10) edges.push(edge(`n${index}`, `n${(index * 31) % index}`, "RESOLVES_TO"));
    }
    const graph = createGraph();
    const started = performance.now();
    syncGraph(graph, nodes, edges, "type");
    const iterations = layout(graph, true);
    paint(graph, "risk", { selected: ["n1"], highlighted: ["n0", "n1"] });
    const elapsed = performance.now() - started;
    expect(graph.order).toBe(5000);
    expect(iterations).toBe(layoutIterations(5000));
    let finite = true;
    graph.forEachNode((_, attributes) => {
      if (!Number.isFinite(attributes.x) || !Number.isFinite(attributes.y)) finite = false;
    });
    expect(finite).toBe(true);
    expect(elapsed).toBeLessThan(4000);
    // An expansion of 100 more nodes is incremental: cheap next to the first layout.
    const more = Array.from({ length: 100 }, (_, index) => node(`m${index}`));
    const moreEdges = more.map((m) => edge(m.id, "n42"));
    const again = performance.now();
    const result = syncGraph(graph, [...nodes, ...more], [...edges, ...moreEdges], "risk");
    layout(graph, result.initial);
    expect(result.added).toHaveLength(100);
    expect(performance.now() - again).toBeLessThan(elapsed);
  });
});
