// From the graph API to what the graph view draws: nodes and edges of several neighbourhoods
// and a path merged into one set, node references as the API writes them, and where each
// node's own page is. No renderer here, so that it is tested without WebGL.
import type { Schemas } from "../../api/client";
import type { GraphEdge, GraphNode } from "../../components/graph/model";

export type NodeLabel = Schemas["NodeLabel"];
export type EdgeRead = Schemas["EdgeRead"];
export interface GraphPiece {
  nodes: NodeLabel[];
  edges: EdgeRead[];
  truncated?: boolean;
  reason?: string | null;
}

const KINDS = new Set(["entity", "indicator", "actor", "campaign", "technique", "source"]);
export const ENTITY_TYPES = [
  "person", "organization", "location", "domain", "ip_address", "email", "phone",
  "cryptocurrency_address", "username", "document", "url", "hash", "cve",
] as const;
const ENTITY_TYPE_SET = new Set<string>(ENTITY_TYPES);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** What the view calls a node's type: an entity's type, or the kind of anything else. */
export function nodeType(label: NodeLabel): string {
  return label.kind === "entity" ? label.type || "entity" : label.kind;
}

export function toGraphNode(label: NodeLabel): GraphNode {
  // Only entities and indicators carry a risk or threat score; a source's score is its reliability.
  const scored = label.kind === "entity" || label.kind === "indicator";
  return { id: label.node, label: label.label || label.id, type: nodeType(label), risk: scored ? (label.score ?? null) : null };
}

/** Links kept in the threat-intel tables have no id: one is made from their ends and type. */
export function edgeId(edge: EdgeRead): string {
  return edge.id ?? `${edge.source}|${edge.relation}|${edge.type ?? ""}|${edge.target}`;
}

export function toGraphEdge(edge: EdgeRead): GraphEdge {
  return { id: edgeId(edge), source: edge.source, target: edge.target, type: edge.type ?? edge.relation };
}

export interface MergedGraph {
  nodes: GraphNode[];
  edges: GraphEdge[];
  labels: Map<string, NodeLabel>;
  edgesById: Map<string, EdgeRead>;
  /** Why some neighbourhoods were cut, once each. */
  truncations: string[];
}

/** One graph out of several answers (a start, its expansions, a path): each node and edge once. */
export function mergePieces(pieces: (GraphPiece | undefined | null)[]): MergedGraph {
  const labels = new Map<string, NodeLabel>();
  const edgesById = new Map<string, EdgeRead>();
  const truncations = new Set<string>();
  for (const piece of pieces) {
    if (!piece) continue;
    for (const label of piece.nodes) {
      const known = labels.get(label.node);
      if (!known || (!known.exists && label.exists)) labels.set(label.node, label);
    }
    for (const edge of piece.edges) edgesById.set(edgeId(edge), edge);
    if (piece.truncated) truncations.add(piece.reason || "Some neighbours were left out.");
  }
  const nodes = [...labels.values()].map(toGraphNode);
  const edges = [...edgesById.values()]
    .filter((edge) => labels.has(edge.source) && labels.has(edge.target))
    .map(toGraphEdge);
  return { nodes, edges, labels, edgesById, truncations: [...truncations] };
}

/**
 * A node reference the API understands (kind:id or entity_type:value) from what a person or a
 * link gave: a bare id is an entity's, a bare value is guessed from its shape. Null when it
 * cannot be told (a name): search for it instead.
 */
export function toNodeRef(input: string): string | null {
  const text = input.trim();
  if (!text) return null;
  if (UUID.test(text)) return `entity:${text.toLowerCase()}`;
  const colon = text.indexOf(":");
  if (colon > 0) {
    const prefix = text.slice(0, colon).toLowerCase();
    if (KINDS.has(prefix) || ENTITY_TYPE_SET.has(prefix)) return `${prefix}:${text.slice(colon + 1).trim()}`;
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) return `url:${text}`;
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(text) || (/^[0-9a-f:]+$/i.test(text) && text.split(":").length > 2)) {
    return `ip_address:${text}`;
  }
  if (/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(text)) return `email:${text}`;
  if (/^cve-\d{4}-\d{4,}$/i.test(text)) return `cve:${text.toUpperCase()}`;
  if (/^([0-9a-f]{32}|[0-9a-f]{40}|[0-9a-f]{64})$/i.test(text)) return `hash:${text.toLowerCase()}`;
  if (/^(?=.{3,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{1,62}$/i.test(text)) {
    return `domain:${text.toLowerCase()}`;
  }
  return null;
}

/** The page of a node inside this app, when it has one. */
export function nodeHref(label: Pick<NodeLabel, "kind" | "id">): string | null {
  const id = encodeURIComponent(label.id);
  switch (label.kind) {
    case "entity":
      return `/osint/entities/${id}`;
    case "indicator":
      return `/indicators/${id}`;
    case "actor":
      return `/actors/${id}`;
    case "campaign":
      return `/campaigns/${id}`;
    case "technique":
      return "/attack";
    default:
      return null;
  }
}

/** The expanded nodes as kept in the URL, in order and once each. */
export function parseNodeList(value: string | undefined): string[] {
  if (!value) return [];
  return [...new Set(value.split(",").map((item) => item.trim()).filter(Boolean))];
}

export function withNode(list: string[], node: string): string[] {
  return list.includes(node) ? list : [...list, node];
}

/** The nodes of a path in order from its source, following its edges whatever their direction. */
export function pathOrder(path: GraphPiece & { found: boolean }, source: string): string[] {
  if (!path.found || path.nodes.length === 0) return [];
  const ids = path.nodes.map((node) => node.node);
  const start = ids.includes(source) ? source : ids[0];
  const next = new Map<string, string[]>();
  for (const edge of path.edges) {
    next.set(edge.source, [...(next.get(edge.source) ?? []), edge.target]);
    next.set(edge.target, [...(next.get(edge.target) ?? []), edge.source]);
  }
  const order = [start];
  const seen = new Set(order);
  while (order.length < ids.length) {
    const step = (next.get(order[order.length - 1]) ?? []).find((id) => !seen.has(id));
    if (!step) break;
    order.push(step);
    seen.add(step);
  }
  // The API already lists a path's nodes in order; this only guards against another order.
  return order.length === ids.length ? order : ids;
}
