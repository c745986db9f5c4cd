// What the colours of the graph mean, with how many nodes of each are shown.
import { Group, Text } from "@mantine/core";
import { useMemo } from "react";

import { legendOf, type ColourBy, type GraphNode } from "./model";

export function GraphLegend({ nodes, colourBy }: { nodes: GraphNode[]; colourBy: ColourBy }) {
  const entries = useMemo(() => legendOf(nodes, colourBy), [nodes, colourBy]);
  if (entries.length === 0) return null;
  return (
    <Group gap="sm" role="list" aria-label={colourBy === "risk" ? "Legend: colour by risk" : "Legend: colour by type"}>
      {entries.map((entry) => (
        <Group key={entry.key} gap={4} role="listitem" wrap="nowrap">
          <span
            aria-hidden="true"
            style={{ display: "inline-block", width: 10, height: 10, borderRadius: "50%", background: entry.colour }}
          />
          <Text size="xs">
            {entry.label} <Text span size="xs" c="dimmed">({entry.count})</Text>
          </Text>
        </Group>
      ))}
    </Group>
  );
}
