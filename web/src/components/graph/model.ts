// The graph's data side, kept apart from the renderer so that it can be tested without WebGL:
// colours and legend, incremental merging of nodes and edges into one graphology instance,
// path highlighting, and a layout whose cost is bounded by the graph's size.
import Graph from "graphology";
import circular from "graphology-layout/circular";
import forceAtlas2 from "graphology-layout-forceatlas2";

export type ColourBy = "type" | "risk";

export interface GraphNode {
  id: string;
  label: string;
  type: string;
  risk?: number | null;
}

export interface GraphEdge {
  id: string;
  source: string;
  target: string;
  type: string;
}

export interface NodeAttributes {
  label: string;
  /** The node's type; not called "type", which the renderer reads as its own. */
  category: string;
  risk: number | null;
  x: number;
  y: number;
  size: number;
  color: string;
  /** Shown whatever the label density: the selected node and the path. */
  forceLabel: boolean;
  zIndex: number;
}

export interface EdgeAttributes {
  relation: string;
  size: number;
  color: string;
  zIndex: number;
}

export type ExplorerGraph = Graph<NodeAttributes, EdgeAttributes>;

export function createGraph(): ExplorerGraph {
  // Two entities can be linked by several relationship types, in either direction.
  return new Graph<NodeAttributes, EdgeAttributes>({ multi: true, allowSelfLoops: true, type: "directed" });
}

export const TYPE_COLOURS: Record<string, string> = {
  domain: "#1c7ed6",
  ip_address: "#f76707",
  email: "#0ca678",
  url: "#7048e8",
  hash: "#868e96",
  person: "#d6336c",
  organization: "#ae3ec9",
  location: "#37b24d",
  phone: "#f59f00",
  cryptocurrency_address: "#e8590c",
  username: "#4263eb",
  document: "#495057",
  cve: "#c92a2a",
  indicator: "#e03131",
  actor: "#862e9c",
  campaign: "#5f3dc4",
  technique: "#1098ad",
  source: "#5c940d",
};

const SPARE_COLOURS = ["#2f9e44", "#9c36b5", "#1971c2", "#e67700", "#c2255c", "#087f5b", "#5f3dc4", "#a61e4d"];

export type RiskBand = "critical" | "high" | "medium" | "low" | "unscored";

export const RISK_BANDS: RiskBand[] = ["critical", "high", "medium", "low", "unscored"];

export const RISK_COLOURS: Record<RiskBand, string> = {
  critical: "#e03131",
  high: "#fd7e14",
  medium: "#fab005",
  low: "#40c057",
  unscored: "#adb5bd",
};

const EDGE_COLOUR = "#ced4da";
const PATH_COLOUR = "#d9480f";
const FADED_COLOUR = "#dee2e6";

function hash(text: string): number {
  let value = 2166136261;
  for (let index = 0; index < text.length; index++) {
    value ^= text.charCodeAt(index);
    value = Math.imul(value, 16777619);
  }
  return value >>> 0;
}

/** The same type gets the same colour on every page, known or not. */
export function typeColour(type: string): string {
  return TYPE_COLOURS[type] ?? SPARE_COLOURS[hash(type) % SPARE_COLOURS.length];
}

/** The backend's risk levels: low 0–25, medium 26–50, high 51–75, critical 76–100. */
export function riskBand(risk: number | null | undefined): RiskBand {
  if (risk === null || risk === undefined || Number.isNaN(risk)) return "unscored";
  if (risk >= 76) return "critical";
  if (risk >= 51) return "high";
  if (risk >= 26) return "medium";
  return "low";
}

export function nodeColour(node: { type: string; risk?: number | null }, colourBy: ColourBy): string {
  return colourBy === "risk" ? RISK_COLOURS[riskBand(node.risk)] : typeColour(node.type);
}

export interface LegendEntry {
  key: string;
  label: string;
  colour: string;
  count: number;
}

/** What each colour means, for the nodes shown: types by frequency, risk bands in order. */
export function legendOf(nodes: Iterable<{ type: string; risk?: number | null }>, colourBy: ColourBy): LegendEntry[] {
  const counts = new Map<string, number>();
  for (const node of nodes) {
    const key = colourBy === "risk" ? riskBand(node.risk) : node.type;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  if (colourBy === "risk") {
    return RISK_BANDS.filter((band) => counts.has(band)).map((band) => ({
      key: band,
      label: band,
      colour: RISK_COLOURS[band],
      count: counts.get(band) ?? 0,
    }));
  }
  return [...counts.entries()]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([type, count]) => ({ key: type, label: type.replace(/_/g, " "), colour: typeColour(type), count }));
}

/** A deterministic pseudo-random number in [0, 1) per key, so that layouts repeat. */
function unit(key: string, salt: number): number {
  return (hash(`${salt}:${key}`) % 100_000) / 100_000;
}

export function baseSize(degree: number, order: number): number {
  if (order > 2000) return 2 + Math.min(4, Math.sqrt(degree) * 0.5);
  if (order > 300) return 3 + Math.min(6, Math.sqrt(degree) * 0.7);
  return 5 + Math.min(10, Math.sqrt(degree) * 1.5);
}

export interface SyncResult {
  added: string[];
  removed: string[];
  /** Nodes whose label, type or risk changed. */
  updated: number;
  addedEdges: number;
  removedEdges: number;
  /** The graph was empty before: it needs a full layout rather than a settling one. */
  initial: boolean;
}

/**
 * Make the graph hold exactly these nodes and edges, touching only what changed: new nodes are
 * placed next to a neighbour already laid out, so an expansion grows where it was asked for.
 * Edges whose ends are missing are skipped.
 */
export function syncGraph(graph: ExplorerGraph, nodes: GraphNode[], edges: GraphEdge[], colourBy: ColourBy): SyncResult {
  const initial = graph.order === 0;
  const wanted = new Map(nodes.map((node) => [node.id, node]));
  const removed: string[] = [];
  graph.forEachNode((key) => {
    if (!wanted.has(key)) removed.push(key);
  });
  for (const key of removed) graph.dropNode(key);

  const wantedEdges = new Map<string, GraphEdge>();
  for (const edge of edges) {
    if (wanted.has(edge.source) && wanted.has(edge.target)) wantedEdges.set(edge.id, edge);
  }
  const staleEdges: string[] = [];
  graph.forEachEdge((key) => {
    if (!wantedEdges.has(key)) staleEdges.push(key);
  });
  for (const key of staleEdges) graph.dropEdge(key);

  const added: string[] = [];
  let updated = 0;
  for (const node of nodes) {
    if (graph.hasNode(node.id)) {
      const current = graph.getNodeAttributes(node.id);
      const risk = node.risk ?? null;
      if (current.label !== node.label || current.category !== node.type || current.risk !== risk) {
        graph.mergeNodeAttributes(node.id, { label: node.label, category: node.type, risk, color: nodeColour(node, colourBy) });
        updated++;
      }
      continue;
    }
    graph.addNode(node.id, {
      label: node.label,
      category: node.type,
      risk: node.risk ?? null,
      x: 0,
      y: 0,
      size: 4,
      color: nodeColour(node, colourBy),
      forceLabel: false,
      zIndex: 0,
    });
    added.push(node.id);
  }
  let addedEdges = 0;
  for (const edge of wantedEdges.values()) {
    if (graph.hasEdge(edge.id)) continue;
    graph.addDirectedEdgeWithKey(edge.id, edge.source, edge.target, { relation: edge.type, size: 1, color: EDGE_COLOUR, zIndex: 0 });
    addedEdges++;
  }
  placeNew(graph, added, initial);
  // Degrees (and so sizes) change only with the edges.
  if (addedEdges > 0 || staleEdges.length > 0 || removed.length > 0) resize(graph);
  return { added, removed, updated, addedEdges, removedEdges: staleEdges.length, initial };
}

/** Whether a sync changed anything the renderer must redraw. */
export function changedBy(result: SyncResult): boolean {
  return result.added.length + result.removed.length + result.updated + result.addedEdges + result.removedEdges > 0;
}

function placeNew(graph: ExplorerGraph, added: string[], initial: boolean) {
  if (added.length === 0) return;
  if (initial) {
    circular.assign(graph, { scale: Math.max(10, Math.sqrt(graph.order) * 10) });
    // A circle is symmetric enough to trap ForceAtlas2; a little noise lets it unfold.
    graph.updateEachNodeAttributes((key, attributes) => ({
      ...attributes,
      x: attributes.x + (unit(key, 1) - 0.5),
      y: attributes.y + (unit(key, 2) - 0.5),
    }));
    return;
  }
  const fresh = new Set(added);
  let spread = 10;
  graph.forEachNode((key, attributes) => {
    if (!fresh.has(key)) spread = Math.max(spread, Math.abs(attributes.x), Math.abs(attributes.y));
  });
  for (const key of added) {
    const anchor = graph.neighbors(key).find((neighbour) => !fresh.has(neighbour));
    const angle = unit(key, 3) * 2 * Math.PI;
    if (anchor) {
      const origin = graph.getNodeAttributes(anchor);
      const radius = 2 + unit(key, 4) * 4;
      graph.mergeNodeAttributes(key, { x: origin.x + Math.cos(angle) * radius, y: origin.y + Math.sin(angle) * radius });
    } else {
      const radius = spread * (0.5 + unit(key, 5));
      graph.mergeNodeAttributes(key, { x: Math.cos(angle) * radius, y: Math.sin(angle) * radius });
    }
  }
}

function resize(graph: ExplorerGraph) {
  const order = graph.order;
  // No attribute hints: the renderer would then skip indexing the nodes just added.
  graph.updateEachNodeAttributes((key, attributes) => ({ ...attributes, size: baseSize(graph.degree(key), order) }));
}

/**
 * ForceAtlas2 iterations for a graph of this order: plenty for a small neighbourhood, few for a
 * large one, so that one synchronous run stays in the tens of milliseconds' range per thousand.
 */
export function layoutIterations(order: number, initial = true): number {
  if (order <= 1) return 0;
  const full = order <= 150 ? 300 : Math.max(15, Math.min(300, Math.round(40_000 / order)));
  if (initial) return full;
  // Past this size a settling run costs more than it shows: new nodes stay where they were put.
  return order > LARGE_GRAPH ? 0 : Math.max(5, Math.round(full / 3));
}

/** From this many nodes on, layouts are cut short and edges hide while the camera moves. */
export const LARGE_GRAPH = 2000;

/** Lay the graph out in place: a bounded synchronous ForceAtlas2 run (no worker: the CSP forbids blob workers). */
export function layout(graph: ExplorerGraph, initial: boolean): number {
  const iterations = layoutIterations(graph.order, initial);
  if (iterations === 0) return 0;
  forceAtlas2.assign(graph, { iterations, settings: forceAtlas2.inferSettings(graph) });
  return iterations;
}

/** The edges joining consecutive nodes of a path, whichever way they point. */
export function pathEdges(graph: ExplorerGraph, path: string[]): string[] {
  const keys = new Set<string>();
  for (let index = 1; index < path.length; index++) {
    const [a, b] = [path[index - 1], path[index]];
    if (!graph.hasNode(a) || !graph.hasNode(b)) continue;
    for (const key of graph.edges(a, b)) keys.add(key);
    for (const key of graph.edges(b, a)) keys.add(key);
  }
  return [...keys];
}

export interface Emphasis {
  selected: string[];
  /** Nodes of a path, in order; when there are any, every other node fades. */
  highlighted: string[];
  /** The path's edges; by default those joining consecutive highlighted nodes. */
  highlightedEdges?: string[];
}

/** Colour, size and label every node and edge for the colouring and what is selected or on a path. */
export function paint(graph: ExplorerGraph, colourBy: ColourBy, emphasis: Emphasis): void {
  const selected = new Set(emphasis.selected);
  const onPath = new Set(emphasis.highlighted.filter((key) => graph.hasNode(key)));
  const pathing = onPath.size > 0;
  const order = graph.order;
  graph.updateEachNodeAttributes((key, attributes) => {
    const isSelected = selected.has(key);
    const isOnPath = onPath.has(key);
    const base = baseSize(graph.degree(key), order);
    return {
      ...attributes,
      color:
        pathing && !isOnPath && !isSelected
          ? FADED_COLOUR
          : nodeColour({ type: attributes.category, risk: attributes.risk }, colourBy),
      size: isSelected ? base * 1.8 + 2 : isOnPath ? base * 1.4 + 2 : base,
      forceLabel: isSelected || isOnPath,
      zIndex: isSelected ? 2 : isOnPath ? 1 : 0,
    };
  });
  const strong = new Set(emphasis.highlightedEdges ?? pathEdges(graph, emphasis.highlighted));
  graph.updateEachEdgeAttributes((key, attributes) => ({
    ...attributes,
    color: strong.has(key) ? PATH_COLOUR : pathing ? FADED_COLOUR : EDGE_COLOUR,
    size: strong.has(key) ? 3 : 1,
    zIndex: strong.has(key) ? 1 : 0,
  }),
  // zIndex in the hints makes the renderer index edges added since its last frame.
  { attributes: ["color", "size", "zIndex"] });
}
