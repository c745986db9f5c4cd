// CONTRACT (kept for every caller): the props below. Pass memoised node and edge arrays: the view
// keeps one graphology instance and applies only the difference, so thousands of nodes stay
// smooth; sigma draws them with WebGL and React never re-renders the graph itself.
import { ActionIcon, Box, Group, Stack, Text, TextInput, UnstyledButton } from "@mantine/core";
import { useEffect, useMemo, useRef, useState, type MouseEvent as ReactMouseEvent } from "react";
import Sigma from "sigma";

import { GraphLegend } from "./GraphLegend";
import {
  changedBy,
  createGraph,
  LARGE_GRAPH,
  layout,
  paint,
  syncGraph,
  type EdgeAttributes,
  type GraphEdge,
  type GraphNode,
  type NodeAttributes,
} from "./model";

export type { ColourBy, GraphEdge, GraphNode } from "./model";

export interface NodeClickModifiers {
  shiftKey: boolean;
}

export interface GraphViewProps {
  nodes: GraphNode[];
  edges: GraphEdge[];
  height?: number;
  colourBy?: "type" | "risk";
  selected?: string[];
  highlighted?: string[];
  onNodeClick?: (id: string, modifiers?: NodeClickModifiers) => void;
  onNodeDoubleClick?: (id: string) => void;
  label?: string;
  /** The keyboard list of nodes: shown, or visually hidden until it gets focus (default). */
  nodeList?: "visible" | "on-focus";
  /** Show the colour legend under the canvas (default true). */
  legend?: boolean;
}

const LIST_LIMIT = 100;

export default function GraphView({
  nodes,
  edges,
  height = 480,
  colourBy = "type",
  selected,
  highlighted,
  onNodeClick,
  onNodeDoubleClick,
  label,
  nodeList = "on-focus",
  legend = true,
}: GraphViewProps) {
  const container = useRef<HTMLDivElement>(null);
  const graph = useRef(createGraph());
  const renderer = useRef<Sigma<NodeAttributes, EdgeAttributes> | null>(null);
  const [failed, setFailed] = useState<string | null>(null);
  const clicks = useRef({ onNodeClick, onNodeDoubleClick });
  clicks.current = { onNodeClick, onNodeDoubleClick };

  const selectedKey = (selected ?? []).join("\n");
  const highlightedKey = (highlighted ?? []).join("\n");
  const emphasis = useMemo(
    () => ({
      selected: selectedKey ? selectedKey.split("\n") : [],
      highlighted: highlightedKey ? highlightedKey.split("\n") : [],
    }),
    [selectedKey, highlightedKey],
  );
  const current = useRef({ colourBy, emphasis });
  current.current = { colourBy, emphasis };

  useEffect(() => {
    const element = container.current;
    if (!element) return;
    let sigma: Sigma<NodeAttributes, EdgeAttributes>;
    try {
      sigma = new Sigma(graph.current, element, {
        settings: {
          // Node sizes are pixels on screen, whatever the graph's extent.
          itemSizesReference: "screen",
          renderEdgeLabels: false,
          labelDensity: 0.6,
          labelRenderedSizeThreshold: 5,
          enableCameraRotation: false,
          minCameraRatio: 0.02,
          maxCameraRatio: 20,
        },
        styles: {
          nodes: {
            x: { attribute: "x" },
            y: { attribute: "y" },
            size: (attributes, state) => (state.isHovered ? attributes.size + 2 : attributes.size),
            color: { attribute: "color", defaultValue: "#868e96" },
            label: { attribute: "label" },
            zIndex: { attribute: "zIndex", defaultValue: 0 },
            visibility: { whenState: "isHidden", then: "hidden", else: "visible" },
            labelVisibility: (attributes, state) => (state.isHovered || attributes.forceLabel ? "visible" : "auto"),
            backdropVisibility: { whenState: "isHovered", then: "visible", else: "hidden" },
            backdropColor: "#ffffff",
            backdropShadowColor: "rgba(0, 0, 0, 0.4)",
            backdropShadowBlur: 10,
            backdropPadding: 5,
            cursor: "pointer",
          },
          edges: {
            size: { attribute: "size", defaultValue: 1 },
            color: { attribute: "color", defaultValue: "#ced4da" },
            zIndex: { attribute: "zIndex", defaultValue: 0 },
            visibility: { whenState: "isHidden", then: "hidden", else: "visible" },
          },
        },
      });
    } catch (error) {
      setFailed(error instanceof Error ? error.message : String(error));
      return;
    }
    setFailed(null);
    renderer.current = sigma;
    sigma.on("clickNode", ({ node, event }) => {
      clicks.current.onNodeClick?.(node, { shiftKey: event.original.shiftKey });
    });
    sigma.on("doubleClickNode", ({ node, event }) => {
      // Double-click expands the node; the camera must not zoom at the same time.
      event.preventSigmaDefault();
      clicks.current.onNodeDoubleClick?.(node);
    });
    return () => {
      renderer.current = null;
      sigma.kill();
    };
  }, []);

  useEffect(() => {
    const result = syncGraph(graph.current, nodes, edges, current.current.colourBy);
    // Each repaint makes the renderer process every node again: only when something changed.
    if (!changedBy(result)) return;
    if (result.added.length > 0 || result.addedEdges > 0) layout(graph.current, result.initial);
    const large = graph.current.order > LARGE_GRAPH;
    renderer.current?.setSettings({ hideEdgesOnMove: large, hideLabelsOnMove: large });
    paint(graph.current, current.current.colourBy, current.current.emphasis);
  }, [nodes, edges]);

  useEffect(() => {
    paint(graph.current, colourBy, emphasis);
  }, [colourBy, emphasis]);

  const summary = `${label ?? "Graph"}: ${nodes.length} ${nodes.length === 1 ? "node" : "nodes"}, ${edges.length} ${
    edges.length === 1 ? "edge" : "edges"
  }`;
  const camera = () => renderer.current?.getCamera();

  return (
    <Stack gap={4}>
      <Box pos="relative" style={{ height }}>
        <div
          ref={container}
          role="img"
          aria-label={summary}
          className="graph-canvas"
          style={{ height, minHeight: height }}
          data-testid="graph-canvas"
        />
        {failed && (
          <Text size="sm" c="dimmed" pos="absolute" top={8} left={8} right={8} role="note">
            This browser cannot draw the graph ({failed}). The list of nodes below still works.
          </Text>
        )}
        <Group gap={4} pos="absolute" top={6} right={6}>
          <ActionIcon size="sm" variant="default" aria-label="Zoom in" onClick={() => void camera()?.zoomIn({ duration: 200 })}>
            +
          </ActionIcon>
          <ActionIcon size="sm" variant="default" aria-label="Zoom out" onClick={() => void camera()?.zoomOut({ duration: 200 })}>
            −
          </ActionIcon>
          <ActionIcon size="sm" variant="default" aria-label="Fit the whole graph" onClick={() => void camera()?.reset({ duration: 200 })}>
            ⤢
          </ActionIcon>
        </Group>
      </Box>
      {legend && <GraphLegend nodes={nodes} colourBy={colourBy} />}
      <NodeList
        nodes={nodes}
        selected={emphasis.selected}
        visible={nodeList === "visible" || !!failed}
        onPick={(id, event) => onNodeClick?.(id, { shiftKey: event.shiftKey })}
        onOpen={onNodeDoubleClick}
      />
    </Stack>
  );
}

/** The nodes as buttons, so that a keyboard or a screen reader can do what a click on the canvas does. */
function NodeList({
  nodes,
  selected,
  visible,
  onPick,
  onOpen,
}: {
  nodes: GraphNode[];
  selected: string[];
  visible: boolean;
  onPick: (id: string, event: ReactMouseEvent) => void;
  onOpen?: (id: string) => void;
}) {
  const [focused, setFocused] = useState(false);
  const [filter, setFilter] = useState("");
  const shown = visible || focused;
  const matching = useMemo(() => {
    const needle = filter.trim().toLowerCase();
    const found = needle ? nodes.filter((node) => node.label.toLowerCase().includes(needle)) : nodes;
    return { items: found.slice(0, LIST_LIMIT), total: found.length };
  }, [nodes, filter]);
  const picked = new Set(selected);
  return (
    <section
      aria-label="Nodes of the graph"
      className={shown ? undefined : "visually-hidden"}
      onFocus={() => setFocused(true)}
      onBlur={(event) => {
        if (!event.currentTarget.contains(event.relatedTarget as Node | null)) setFocused(false);
      }}
    >
      <Group gap="xs" align="flex-end" mb={4}>
        <TextInput
          size="xs"
          label="Find a node in the graph"
          placeholder="Part of a label"
          value={filter}
          onChange={(event) => setFilter(event.currentTarget.value)}
        />
        <Text size="xs" c="dimmed">
          {matching.total > matching.items.length
            ? `First ${matching.items.length} of ${matching.total}; type to narrow.`
            : `${matching.total} shown. Enter selects${onOpen ? ", the Expand button opens more" : ""}.`}
        </Text>
      </Group>
      <Box style={{ maxHeight: 220, overflowY: "auto" }}>
        <Group gap={4}>
          {matching.items.map((node) => (
            <UnstyledButton
              key={node.id}
              onClick={(event) => onPick(node.id, event)}
              onDoubleClick={() => onOpen?.(node.id)}
              aria-pressed={picked.has(node.id)}
              fz="xs"
              px={6}
              py={2}
              bd="1px solid var(--mantine-color-default-border)"
              bg={picked.has(node.id) ? "var(--mantine-color-blue-light)" : undefined}
              style={{ borderRadius: 4 }}
            >
              <span className="mono">{node.label}</span> <Text span size="xs" c="dimmed">{node.type.replace(/_/g, " ")}</Text>
            </UnstyledButton>
          ))}
        </Group>
      </Box>
    </section>
  );
}
