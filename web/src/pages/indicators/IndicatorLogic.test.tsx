import { MantineProvider } from "@mantine/core";
import { render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";

import type { Schemas } from "../../api/client";
import { falsePositive, scoreFactors, tagsOf, techniquesOf, toGraph } from "./IndicatorLogic";
import { ScorePanel } from "./IndicatorPanels";

function indicator(metadata: Record<string, unknown> | null): Schemas["IndicatorRead"] {
  return {
    id: "i1", indicator_value: "evil.example", indicator_type: "domain", severity: "medium", confidence_score: 84,
    threat_score: 81.4, is_active: true, first_seen_at: null, last_seen_at: null, created_at: null, updated_at: null,
    metadata, tlp: null, decayed_threat_score: 70.5,
  };
}

const SCORED = {
  score: {
    model: "krsn-1", confidence: 84, threat_score: 81.4, severity: "high",
    factors: { source_confidences: { alpha: 60, beta: 60 }, type_weight: 0.85, malware_family_bonus: 10 },
  },
};

describe("score factors", () => {
  it("explains the score from each source's confidence to the aged score", () => {
    const { model, rows } = scoreFactors(indicator(SCORED));
    expect(model).toBe("krsn-1");
    expect(rows.map((row) => [row.factor, row.value])).toEqual([
      ["Source confidence: alpha", "60"],
      ["Source confidence: beta", "60"],
      ["Combined confidence", "84"],
      ["Type weight", "0.85"],
      ["Malware family bonus", "+10"],
      ["Threat score", "81.4"],
      ["Severity", "high"],
      ["Threat score now", "70.5"],
    ]);
  });

  it("shows the computed confidence and the analyst's override when there is one", () => {
    const meta = { score: { ...SCORED.score, confidence: 30, factors: { ...SCORED.score.factors, computed_confidence: 84, confidence_override: 30 } } };
    const rows = scoreFactors(indicator(meta)).rows;
    expect(rows.find((row) => row.factor === "Combined confidence")?.value).toBe("84");
    expect(rows.find((row) => row.factor === "Analyst confidence override")?.value).toBe("30");
  });

  it("has nothing to explain without a stored score", () => {
    expect(scoreFactors(indicator(null)).rows).toEqual([]);
    expect(scoreFactors(indicator({ score: "broken" })).rows).toEqual([]);
  });

  it("renders a hostile source name as text", () => {
    const name = "<img src=x onerror=alert(1)>";
    render(
      <MantineProvider>
        <ScorePanel indicator={indicator({ score: { ...SCORED.score, factors: { source_confidences: { [name]: 50 } } } })} />
      </MantineProvider>,
    );
    expect(screen.getByText(`Source confidence: ${name}`)).toBeInTheDocument();
    expect(document.querySelector("img")).toBeNull();
  });
});

describe("tags and state", () => {
  it("knows which tags an analyst added (only those can be removed)", () => {
    const tags = tagsOf(indicator({ tags: ["feed-tag", "mine"], analyst: { tags: ["mine"] } }));
    expect(tags.all).toEqual(["feed-tag", "mine"]);
    expect([...tags.analyst]).toEqual(["mine"]);
    expect(tagsOf(indicator(null)).all).toEqual([]);
  });

  it("reads the false-positive mark", () => {
    expect(falsePositive(indicator({ analyst: { false_positive: { at: "2026-01-02T00:00:00Z" } } }))).toEqual({ at: "2026-01-02T00:00:00Z" });
    expect(falsePositive(indicator({ analyst: {} }))).toBeNull();
  });
});

const GRAPH: Schemas["GraphResult"] = {
  nodes: [
    { node: "indicator:i1", kind: "indicator", id: "i1", label: "evil.example", type: "domain", score: 81, exists: true },
    { node: "technique:T1071", kind: "technique", id: "T1071", label: "T1071 Application Layer Protocol", type: "command-and-control", score: null, exists: true },
    { node: "actor:a1", kind: "actor", id: "a1", label: "Some Actor", type: null, score: null, exists: true },
    { node: "actor:a1", kind: "actor", id: "a1", label: "Some Actor", type: null, score: null, exists: true },
  ],
  edges: [
    { source: "indicator:i1", target: "technique:T1071", relation: "RELATED_TO", type: "INDICATES", origin: "indicator_techniques", confidence: 0.7 },
    { source: "indicator:i1", target: "technique:T1071", relation: "RELATED_TO", type: "INDICATES", origin: "indicator_techniques", confidence: 0.7 },
    { source: "actor:a1", target: "technique:T1071", relation: "RELATED_TO", type: "USES", origin: "x", id: "e9" },
    { source: "indicator:i1", target: "entity:gone", relation: "RELATED_TO", type: "RESOLVES_TO", origin: "x" },
  ],
  truncated: false,
};

describe("graph", () => {
  it("maps nodes and edges for the graph view, without duplicates or dangling edges", () => {
    const graph = toGraph(GRAPH);
    expect(graph.nodes).toEqual([
      { id: "indicator:i1", label: "evil.example", type: "indicator", risk: 81 },
      { id: "technique:T1071", label: "T1071 Application Layer Protocol", type: "technique", risk: null },
      { id: "actor:a1", label: "Some Actor", type: "actor", risk: null },
    ]);
    expect(graph.edges).toEqual([
      { id: "indicator:i1|INDICATES|technique:T1071", source: "indicator:i1", target: "technique:T1071", type: "INDICATES" },
      { id: "e9", source: "actor:a1", target: "technique:T1071", type: "USES" },
    ]);
  });

  it("lists the techniques linked to the indicator itself with the link's confidence", () => {
    expect(techniquesOf(GRAPH, "indicator:i1")).toEqual([
      { id: "T1071", name: "Application Layer Protocol", tactic: "command-and-control", confidence: 70 },
    ]);
    expect(techniquesOf(GRAPH, "indicator:other")).toEqual([]);
  });
});

describe("tab keys", () => {
  it("opens the tab of a digit and ignores other keys", async () => {
    const { tabForKey } = await import("./IndicatorPage");
    expect(tabForKey("1")).toBe("score");
    expect(tabForKey("3")).toBe("sightings");
    expect(tabForKey("8")).toBe("graph");
    expect(tabForKey("9")).toBeNull();
    expect(tabForKey("0")).toBeNull();
    expect(tabForKey("g")).toBeNull();
  });
});
