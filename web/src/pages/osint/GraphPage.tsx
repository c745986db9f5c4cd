// The graph explorer: start from a node, expand neighbourhoods, find the shortest path between
// two nodes, colour by type or risk. What is shown (start, expansions, selection, path, colours)
// lives in the URL, so a view survives reload and can be shared; the neighbourhoods themselves
// are cached queries merged into one graph.
import { Box, Flex, Group, Loader, Paper, SegmentedControl, Select, Stack, Text, Title } from "@mantine/core";
import { useHotkeys } from "@mantine/hooks";
import { useQueries, useQuery } from "@tanstack/react-query";
import { useCallback, useMemo } from "react";

import { api, ApiError, unwrap } from "../../api/client";
import { useUrlState } from "../../app/urlState";
import GraphView from "../../components/graph/GraphView";
import { PageHeader } from "../../components/PageHeader";
import { ProblemAlert } from "../../components/ProblemAlert";
import { GraphSearch, StartMatches } from "./GraphSearch";
import { NodeDetails } from "./NodeDetails";
import { PathPanel } from "./PathPanel";
import { mergePieces, parseNodeList, pathOrder, toNodeRef, withNode, type GraphPiece } from "./graphData";

const DEPTHS = ["1", "2", "3"];
const LIMITS = ["100", "500", "1000", "5000"];

type Keys = "node" | "depth" | "limit" | "colour" | "sel" | "from" | "to" | "expand";

function neighbours(node: string, depth: number, limit: number): Promise<GraphPiece> {
  return unwrap(
    api.GET("/api/v1/graph/neighbours", { params: { query: { node, depth, max_nodes: limit } } }),
  );
}

export default function GraphPage() {
  const [url, set] = useUrlState<Keys>({ depth: "1", limit: "500", colour: "type" });
  const depth = Number(url.depth) || 1;
  const limit = Number(url.limit) || 500;
  const colourBy = url.colour === "risk" ? "risk" : "type";
  const ref = url.node ? toNodeRef(url.node) : null;
  const expanded = useMemo(() => parseNodeList(url.expand), [url.expand]);

  const start = useQuery({
    queryKey: ["graph", "node", ref],
    enabled: !!ref,
    queryFn: async () => (await unwrap(api.GET("/api/v1/graph/nodes", { params: { query: { node: [ref!] } } })))[0],
    staleTime: 60_000,
  });
  const startId = start.data?.exists ? start.data.node : undefined;
  const base = useQuery({
    queryKey: ["graph", "neighbours", startId, depth, limit],
    enabled: !!startId,
    queryFn: () => neighbours(startId!, depth, limit),
    staleTime: 60_000,
  });
  const expansions = useQueries({
    queries: expanded.map((node) => ({
      queryKey: ["graph", "neighbours", node, 1, limit],
      queryFn: () => neighbours(node, 1, limit),
      staleTime: 60_000,
    })),
    combine: (results) => ({
      data: results.map((result) => result.data),
      pending: results.some((result) => result.isFetching),
      error: results.find((result) => result.error)?.error ?? null,
    }),
  });
  const pathWanted = !!url.from && !!url.to && url.from !== url.to;
  const path = useQuery({
    queryKey: ["graph", "path", url.from, url.to],
    enabled: pathWanted,
    queryFn: () =>
      unwrap(api.GET("/api/v1/graph/path", { params: { query: { source: url.from!, target: url.to! } } })),
    staleTime: 60_000,
  });

  const merged = useMemo(
    () => mergePieces([base.data, ...expansions.data, pathWanted ? path.data : undefined]),
    [base.data, expansions.data, path.data, pathWanted],
  );
  const pathNodes = useMemo(
    () => (pathWanted && path.data ? pathOrder(path.data, url.from!) : []),
    [path.data, pathWanted, url.from],
  );
  const selected = useMemo(() => (url.sel ? [url.sel] : []), [url.sel]);

  const expand = useCallback(
    (node: string) => set({ expand: withNode(expanded, node).join(",") }),
    [expanded, set],
  );
  const pick = useCallback(
    (node: string) => {
      if (!url.from || (url.from && url.to)) set({ from: node, to: undefined });
      else if (node !== url.from) set({ to: node });
    },
    [set, url.from, url.to],
  );
  useHotkeys([
    ["e", () => url.sel && expand(url.sel)],
    ["s", () => url.sel && set({ from: url.sel })],
    ["t", () => url.sel && set({ to: url.sel })],
    ["Escape", () => set({ sel: undefined })],
  ]);

  const notFound =
    (!!url.node && !ref) ||
    (start.error instanceof ApiError && start.error.status === 404) ||
    (start.data && !start.data.exists);
  const loading = start.isFetching || base.isFetching || expansions.pending || path.isFetching;
  const selectedLabel = url.sel ? merged.labels.get(url.sel) : undefined;

  return (
    <Stack gap="sm">
      <PageHeader
        title="Graph explorer"
        help="Click a node to select it, double-click (or E) to expand its neighbours, shift-click two nodes for the shortest path between them."
      />
      <GraphSearch
        initial={url.node ?? ""}
        onStart={(node) => set({ node, expand: undefined, sel: undefined, from: undefined, to: undefined })}
      />
      {notFound && url.node && (
        <StartMatches
          text={url.node}
          onStart={(node) => set({ node, expand: undefined, sel: undefined, from: undefined, to: undefined })}
        />
      )}
      {start.error && !notFound && <ProblemAlert error={start.error} />}
      {base.error && <ProblemAlert error={base.error} />}
      {expansions.error && <ProblemAlert error={expansions.error} title="A neighbourhood could not be loaded" />}
      {!url.node && (
        <Paper withBorder p="xl" radius="sm" data-testid="empty">
          <Text fw={600} ta="center">Choose where to start</Text>
          <Text size="sm" c="dimmed" ta="center">
            Search above for an entity or indicator by its name or value, or open the graph from an entity's page.
          </Text>
        </Paper>
      )}
      {startId && (
        <Flex gap="md" align="flex-start">
          <Box style={{ flex: 1, minWidth: 0 }}>
            <Group justify="space-between" mb={4}>
              <Text size="sm" role="status" aria-live="polite" data-testid="graph-counts">
                {merged.nodes.length} nodes, {merged.edges.length} edges
                {expanded.length > 0 ? ` · ${expanded.length} expanded` : ""}
              </Text>
              {loading && (
                <Group gap={4} aria-busy="true">
                  <Loader size="xs" />
                  <Text size="xs" c="dimmed">Loading…</Text>
                </Group>
              )}
            </Group>
            <GraphView
              nodes={merged.nodes}
              edges={merged.edges}
              height={600}
              colourBy={colourBy}
              selected={selected}
              highlighted={pathNodes}
              label="Investigation graph"
              nodeList="visible"
              onNodeClick={(node, modifiers) => (modifiers?.shiftKey ? pick(node) : set({ sel: node }))}
              onNodeDoubleClick={expand}
            />
            {merged.truncations.map((reason) => (
              <Text key={reason} size="xs" c="dimmed" mt={4}>
                Cut to stay fast: {reason}
              </Text>
            ))}
          </Box>
          <Stack gap="sm" w={320} style={{ flexShrink: 0 }}>
            <Paper withBorder p="sm" radius="sm">
              <Stack gap="xs">
                <Title order={2} size="h5">View</Title>
                <div>
                  <Text size="sm" fw={500} id="colour-by-label">Colour by</Text>
                  <SegmentedControl
                    size="xs"
                    fullWidth
                    aria-labelledby="colour-by-label"
                    value={colourBy}
                    onChange={(value) => set({ colour: value === "type" ? undefined : value })}
                    data={[
                      { value: "type", label: "Type" },
                      { value: "risk", label: "Risk" },
                    ]}
                  />
                </div>
                <Group gap="xs" grow>
                  <Select size="xs" label="Depth" data={DEPTHS} value={String(depth)} allowDeselect={false}
                    onChange={(value) => set({ depth: value === "1" ? undefined : value ?? undefined })} />
                  <Select size="xs" label="Max nodes" data={LIMITS} value={String(limit)} allowDeselect={false}
                    onChange={(value) => set({ limit: value === "500" ? undefined : value ?? undefined })} />
                </Group>
              </Stack>
            </Paper>
            <NodeDetails
              label={selectedLabel}
              degree={url.sel ? merged.edges.filter((edge) => edge.source === url.sel || edge.target === url.sel).length : 0}
              expanded={!!url.sel && expanded.includes(url.sel)}
              onExpand={() => url.sel && expand(url.sel)}
              onPickStart={() => url.sel && set({ from: url.sel })}
              onPickEnd={() => url.sel && set({ to: url.sel })}
              onRoot={() => url.sel && set({ node: url.sel, expand: undefined, from: undefined, to: undefined })}
            />
            <PathPanel
              from={url.from ? merged.labels.get(url.from) ?? url.from : undefined}
              to={url.to ? merged.labels.get(url.to) ?? url.to : undefined}
              result={pathWanted ? path.data : undefined}
              order={pathNodes}
              labels={merged.labels}
              loading={path.isFetching}
              error={path.error}
              onSelect={(node) => set({ sel: node })}
              onClear={() => set({ from: undefined, to: undefined })}
            />
          </Stack>
        </Flex>
      )}
    </Stack>
  );
}
