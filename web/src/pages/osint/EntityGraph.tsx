// An entity's neighbourhood, drawn by the graph view (loaded only when this panel shows).
import { Anchor, Group, Paper, Skeleton, Text, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { lazy, Suspense, useMemo, useState } from "react";
import { Link } from "react-router-dom";

import { api, unwrap } from "../../api/client";
import { EmptyState } from "../../components/EmptyState";
import { ProblemAlert } from "../../components/ProblemAlert";
import { mergePieces, nodeHref } from "./graphData";

const GraphView = lazy(() => import("../../components/graph/GraphView"));

export function EntityGraph({ entityId }: { entityId: string }) {
  const node = `entity:${entityId}`;
  const [selected, setSelected] = useState<string | null>(null);
  const query = useQuery({
    queryKey: ["graph", "neighbours", node, 1, 200],
    queryFn: () => unwrap(api.GET("/api/v1/graph/neighbours", { params: { query: { node, depth: 1, max_nodes: 200 } } })),
  });
  const merged = useMemo(() => mergePieces([query.data]), [query.data]);
  const picked = selected ? merged.labels.get(selected) : undefined;
  const href = picked ? nodeHref(picked) : null;
  const selection = useMemo(() => (selected ? [selected] : [node]), [selected, node]);
  return (
    <Paper withBorder p="md" radius="sm">
      <Group justify="space-between" mb="xs">
        <Title order={2} size="h4">Neighbourhood</Title>
        <Anchor component={Link} to={`/osint/graph?node=${encodeURIComponent(node)}`} size="sm">
          Open in graph explorer
        </Anchor>
      </Group>
      {query.error && <ProblemAlert error={query.error} />}
      {query.isPending && <Skeleton height={360} />}
      {query.data && merged.nodes.length <= 1 && (
        <EmptyState title="No links yet">
          Entities found in the same documents, DNS answers or registrations are linked to this one as they are collected.
        </EmptyState>
      )}
      {query.data && merged.nodes.length > 1 && (
        <Suspense fallback={<Skeleton height={360} />}>
          <GraphView
            nodes={merged.nodes}
            edges={merged.edges}
            height={360}
            selected={selection}
            label={`Neighbourhood of this entity`}
            onNodeClick={setSelected}
          />
          {picked && (
            <Text size="sm" mt={4}>
              Selected: <span className="mono">{picked.label}</span>{" "}
              {href && picked.node !== node && (
                <Anchor component={Link} to={href} size="sm" underline="always">open its page</Anchor>
              )}
            </Text>
          )}
          {query.data.truncated && <Text size="xs" c="dimmed">Cut to stay fast: {query.data.reason}</Text>}
        </Suspense>
      )}
    </Paper>
  );
}
