// The indicator's neighbourhood: two hops drawn by the graph view (loaded only when this tab
// opens), with the same nodes as a table for keyboard and screen-reader use.
import { Alert, Anchor, Button, Group, Skeleton, Stack } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { lazy, Suspense, useMemo } from "react";
import { Link, useNavigate } from "react-router-dom";

import { api, unwrap, type Schemas } from "../../api/client";
import { DataTable, type Column } from "../../components/DataTable";
import { formatScore, Value } from "../../components/format";
import { ProblemAlert } from "../../components/ProblemAlert";
import { toGraph } from "./IndicatorLogic";

const GraphView = lazy(() => import("../../components/graph/GraphView"));

type Node = Schemas["NodeLabel"];

const MAX_NODES = 80;

export function IndicatorGraph({ id }: { id: string }) {
  const navigate = useNavigate();
  const centre = `indicator:${id}`;
  const query = useQuery({
    queryKey: ["graph", "neighbours", centre, 2],
    queryFn: () => unwrap(api.GET("/api/v1/graph/neighbours", { params: { query: { node: centre, depth: 2, max_nodes: MAX_NODES } } })),
  });
  const graph = useMemo(() => (query.data ? toGraph(query.data) : null), [query.data]);
  const open = (node: string) => {
    if (node.startsWith("indicator:") && node !== centre) navigate(`/indicators/${encodeURIComponent(node.slice("indicator:".length))}`);
  };
  const columns: Column<Node>[] = [
    { key: "kind", header: "Kind", render: (row) => row.kind, width: 100 },
    {
      key: "label", header: "Node",
      render: (row) =>
        row.kind === "indicator" && row.node !== centre ? (
          <Anchor component={Link} to={`/indicators/${encodeURIComponent(row.id)}`} size="sm">
            <Value text={row.label} />
          </Anchor>
        ) : (
          <Value text={row.label} />
        ),
    },
    { key: "type", header: "Type", render: (row) => row.type ?? "—", width: 160 },
    { key: "score", header: "Score", render: (row) => formatScore(row.score), align: "right", width: 80 },
  ];
  return (
    <Stack gap="xs">
      <Group justify="space-between">
        <span />
        <Button component={Link} to={`/osint/graph?node=${encodeURIComponent(centre)}`} variant="light" size="xs">
          Open in the graph explorer
        </Button>
      </Group>
      {query.error && <ProblemAlert error={query.error} />}
      {query.data?.truncated && (
        <Alert color="yellow" variant="light" title="Only part of the neighbourhood is shown">
          {query.data.reason ?? `At most ${MAX_NODES} nodes.`} The graph explorer can go further.
        </Alert>
      )}
      {graph ? (
        <Suspense fallback={<Skeleton height={420} />}>
          <GraphView nodes={graph.nodes} edges={graph.edges} height={420} colourBy="type" selected={[centre]}
            onNodeDoubleClick={open} label="Graph of the indicator's neighbourhood" />
        </Suspense>
      ) : (
        <Skeleton height={420} />
      )}
      <DataTable caption="Nodes around this indicator" columns={columns} rows={query.data?.nodes} rowKey={(row) => row.node}
        loading={query.isPending} activeKey={centre}
        empty="Nothing linked to this indicator yet: no actor, campaign, technique or entity." />
    </Stack>
  );
}
