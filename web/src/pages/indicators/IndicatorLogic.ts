// What the indicator page derives from the API's data: why it scores what it does (from the
// score factors stored with it), which tags an analyst may remove, and its neighbourhood as
// the graph view's nodes and edges.
import type { Schemas } from "../../api/client";
import type { GraphEdge, GraphNode } from "../../components/graph/GraphView";

type Indicator = Schemas["IndicatorRead"];
type Meta = Record<string, unknown>;

export interface ScoreRow {
  factor: string;
  value: string;
  how: string;
}

function record(value: unknown): Meta | null {
  return value && typeof value === "object" && !Array.isArray(value) ? (value as Meta) : null;
}

function num(value: unknown): number | null {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

function fixed(value: number | null, digits = 2): string {
  if (value === null) return "—";
  return Number.isInteger(value) ? String(value) : value.toFixed(digits).replace(/0+$/, "").replace(/\.$/, "");
}

/** The score's model and factors as table rows, in the order the score is worked out. */
export function scoreFactors(indicator: Indicator): { model: string | null; rows: ScoreRow[] } {
  const score = record(record(indicator.metadata)?.score);
  if (!score) return { model: null, rows: [] };
  const factors = record(score.factors) ?? {};
  const rows: ScoreRow[] = [];
  const sources = record(factors.source_confidences) ?? {};
  for (const [source, confidence] of Object.entries(sources)) {
    rows.push({
      factor: `Source confidence: ${source}`,
      value: fixed(num(confidence)),
      how: "This source's reliability × the confidence of its report ÷ 100.",
    });
  }
  const override = num(factors.confidence_override);
  const computed = override !== null ? num(factors.computed_confidence) : num(score.confidence);
  rows.push({
    factor: "Combined confidence",
    value: fixed(computed),
    how: "The chance that at least one source is right: 100 × (1 − Π(1 − cᵢ ÷ 100)).",
  });
  if (override !== null) {
    rows.push({
      factor: "Analyst confidence override",
      value: fixed(override),
      how: "Set by an analyst; used instead of the combined confidence.",
    });
  }
  rows.push({
    factor: "Type weight",
    value: fixed(num(factors.type_weight)),
    how: "How specific a value of this type is: hash 1, URL 0.95, domain 0.85, e-mail 0.8, IP 0.75, range 0.6.",
  });
  const bonus = num(factors.malware_family_bonus);
  rows.push({
    factor: "Malware family bonus",
    value: bonus ? `+${fixed(bonus)}` : "0",
    how: "Added when a source names a malware family.",
  });
  rows.push({
    factor: "Threat score",
    value: fixed(num(score.threat_score) ?? indicator.threat_score ?? null),
    how: "Confidence × type weight + bonus, at most 100.",
  });
  rows.push({
    factor: "Severity",
    value: typeof score.severity === "string" ? score.severity : indicator.severity ?? "—",
    how: "From the threat score: 85 and up critical, 65 high, 40 medium, below low.",
  });
  rows.push({
    factor: "Threat score now",
    value: fixed(indicator.decayed_threat_score ?? null),
    how: "Whole for a tenth of the type's lifetime unseen, then falling to 0 at its end.",
  });
  return { model: typeof score.model === "string" ? score.model : null, rows };
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === "string") : [];
}

/** Every tag, and those an analyst added (the only ones that can be removed). */
export function tagsOf(indicator: Indicator): { all: string[]; analyst: Set<string> } {
  const meta = record(indicator.metadata) ?? {};
  const analyst = new Set(strings(record(meta.analyst)?.tags));
  const all = [...new Set([...strings(meta.tags), ...analyst])].sort();
  return { all, analyst };
}

export function malwareFamilies(indicator: Indicator): string[] {
  return strings(record(indicator.metadata)?.malware_families);
}

/** When and by whom it was marked a false positive, or null. */
export function falsePositive(indicator: Indicator): { at: string | null } | null {
  const mark = record(record(indicator.metadata)?.analyst)?.false_positive;
  if (!mark) return null;
  const at = record(mark)?.at;
  return { at: typeof at === "string" ? at : null };
}

export function confidenceOverride(indicator: Indicator): number | null {
  return num(record(record(indicator.metadata)?.analyst)?.confidence_override);
}

/** The API's neighbourhood as the graph view draws it; edges to nodes not returned are dropped. */
export function toGraph(result: Schemas["GraphResult"]): { nodes: GraphNode[]; edges: GraphEdge[] } {
  const nodes: GraphNode[] = [];
  const seen = new Set<string>();
  for (const node of result.nodes) {
    if (seen.has(node.node)) continue;
    seen.add(node.node);
    nodes.push({ id: node.node, label: node.label, type: node.kind, risk: node.score ?? null });
  }
  const edges: GraphEdge[] = [];
  const ids = new Set<string>();
  for (const edge of result.edges) {
    if (!seen.has(edge.source) || !seen.has(edge.target)) continue;
    const type = edge.type ?? edge.relation;
    const id = edge.id ?? `${edge.source}|${type}|${edge.target}`;
    if (ids.has(id)) continue;
    ids.add(id);
    edges.push({ id, source: edge.source, target: edge.target, type });
  }
  return { nodes, edges };
}

export interface TechniqueRow {
  id: string;
  name: string;
  tactic: string | null;
  confidence: number | null;
}

/** The techniques next to the indicator, with the link's confidence (0–1 on the edge → %). */
export function techniquesOf(result: Schemas["GraphResult"], centre: string): TechniqueRow[] {
  const rows: TechniqueRow[] = [];
  for (const node of result.nodes) {
    if (node.kind !== "technique") continue;
    const edge = result.edges.find(
      (item) => (item.source === centre && item.target === node.node) || (item.target === centre && item.source === node.node),
    );
    if (!edge) continue;
    const name = node.label.startsWith(`${node.id} `) ? node.label.slice(node.id.length + 1) : node.label;
    rows.push({
      id: node.id,
      name,
      tactic: node.type ?? null,
      confidence: typeof edge.confidence === "number" ? Math.round(edge.confidence * 100) : null,
    });
  }
  return rows.sort((a, b) => a.id.localeCompare(b.id));
}

/** JSON of a stored record, cut for a table cell. */
export function jsonPreview(value: unknown, max = 120): string {
  if (value === null || value === undefined) return "—";
  const text = JSON.stringify(value) ?? "—";
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
