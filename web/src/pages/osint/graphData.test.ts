import { describe, expect, it } from "vitest";

import { edgeId, mergePieces, nodeHref, parseNodeList, pathOrder, toGraphNode, toNodeRef, withNode, type EdgeRead, type NodeLabel } from "./graphData";

const label = (node: string, extra: Partial<NodeLabel> = {}): NodeLabel => {
  const [kind, id] = node.split(":") as [NodeLabel["kind"], string];
  return { node, kind, id, label: id, type: kind === "entity" ? "domain" : null, score: 40, exists: true, ...extra };
};
const link = (source: string, target: string, extra: Partial<EdgeRead> = {}): EdgeRead => ({
  source,
  target,
  relation: "RELATED_TO",
  type: "ASSOCIATED_WITH",
  id: `${source}>${target}`,
  origin: "entity_relationships",
  ...extra,
});

describe("toGraphNode", () => {
  it("types entities by their entity type and other nodes by their kind", () => {
    expect(toGraphNode(label("entity:1", { type: "ip_address" }))).toEqual({ id: "entity:1", label: "1", type: "ip_address", risk: 40 });
    expect(toGraphNode(label("technique:T1059", { type: "execution", label: "T1059 Command" })).type).toBe("technique");
  });

  it("keeps a score as risk only for entities and indicators", () => {
    expect(toGraphNode(label("indicator:9", { score: 88 })).risk).toBe(88);
    expect(toGraphNode(label("source:3", { score: 0.9 })).risk).toBeNull();
    expect(toGraphNode(label("entity:2", { score: null })).risk).toBeNull();
  });
});

describe("mergePieces", () => {
  it("merges a start, its expansions and a path, each node and edge once", () => {
    const start = { nodes: [label("entity:a"), label("entity:b")], edges: [link("entity:a", "entity:b")] };
    const expansion = {
      nodes: [label("entity:b"), label("entity:c")],
      edges: [link("entity:a", "entity:b"), link("entity:b", "entity:c")],
      truncated: true,
      reason: "hub cut",
    };
    const merged = mergePieces([start, undefined, expansion, expansion]);
    expect(merged.nodes.map((n) => n.id)).toEqual(["entity:a", "entity:b", "entity:c"]);
    expect(merged.edges).toHaveLength(2);
    expect(merged.truncations).toEqual(["hub cut"]);
  });

  it("makes stable ids for links without one and drops edges to unknown nodes", () => {
    const noId = link("actor:x", "technique:T1", { id: null, relation: "USES", type: null });
    expect(edgeId(noId)).toBe("actor:x|USES||technique:T1");
    const merged = mergePieces([{ nodes: [label("actor:x"), label("technique:T1")], edges: [noId, link("actor:x", "entity:zz")] }]);
    expect(merged.edges).toEqual([{ id: "actor:x|USES||technique:T1", source: "actor:x", target: "technique:T1", type: "USES" }]);
  });

  it("prefers a node that exists over a stale copy", () => {
    const merged = mergePieces([{ nodes: [label("entity:a", { exists: false, label: "?" })], edges: [] }, { nodes: [label("entity:a", { label: "real" })], edges: [] }]);
    expect(merged.nodes[0].label).toBe("real");
  });
});

describe("toNodeRef", () => {
  it.each([
    ["entity:1234", "entity:1234"],
    ["Domain:Example.com", "domain:Example.com"],
    ["3f2504e0-4f89-11d3-9a0c-0305e82c3301", "entity:3f2504e0-4f89-11d3-9a0c-0305e82c3301"],
    ["198.51.100.7", "ip_address:198.51.100.7"],
    ["2001:db8::1", "ip_address:2001:db8::1"],
    ["ops@evil.com", "email:ops@evil.com"],
    ["Evil-Corp.COM", "domain:evil-corp.com"],
    ["https://evil.com/x", "url:https://evil.com/x"],
    ["cve-2024-1234", "cve:CVE-2024-1234"],
    ["d41d8cd98f00b204e9800998ecf8427e", "hash:d41d8cd98f00b204e9800998ecf8427e"],
  ])("reads %s as %s", (input, expected) => {
    expect(toNodeRef(input)).toBe(expected);
  });

  it("gives up on names, which are searched instead", () => {
    expect(toNodeRef("APT28")).toBeNull();
    expect(toNodeRef("Fancy Bear")).toBeNull();
    expect(toNodeRef("  ")).toBeNull();
  });
});

describe("links and lists", () => {
  it("links nodes to their own pages, encoded, and nothing else", () => {
    expect(nodeHref({ kind: "entity", id: "a/b" })).toBe("/osint/entities/a%2Fb");
    expect(nodeHref({ kind: "indicator", id: "9" })).toBe("/indicators/9");
    expect(nodeHref({ kind: "source", id: "9" })).toBeNull();
  });

  it("keeps the expanded nodes once each, in order", () => {
    expect(parseNodeList("entity:a, entity:b,,entity:a")).toEqual(["entity:a", "entity:b"]);
    expect(parseNodeList(undefined)).toEqual([]);
    expect(withNode(["a"], "a")).toEqual(["a"]);
    expect(withNode(["a"], "b")).toEqual(["a", "b"]);
  });

  it("orders a path from its source", () => {
    const path = {
      found: true,
      nodes: [label("entity:c"), label("entity:a"), label("entity:b")],
      edges: [link("entity:b", "entity:a"), link("entity:b", "entity:c")],
    };
    expect(pathOrder(path, "entity:a")).toEqual(["entity:a", "entity:b", "entity:c"]);
    expect(pathOrder({ ...path, found: false }, "entity:a")).toEqual([]);
  });
});
