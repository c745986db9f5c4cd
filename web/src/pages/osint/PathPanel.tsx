// The shortest path between the two picked nodes: its ends, its hops in order, or why there is none.
import { Button, Group, List, Paper, Stack, Text, Title, UnstyledButton } from "@mantine/core";

import { ProblemAlert } from "../../components/ProblemAlert";
import type { NodeLabel } from "./graphData";

interface Props {
  from?: NodeLabel | string;
  to?: NodeLabel | string;
  result?: { found: boolean; length?: number | null };
  order: string[];
  labels: Map<string, NodeLabel>;
  loading: boolean;
  error: unknown;
  onSelect: (node: string) => void;
  onClear: () => void;
}

const name = (end?: NodeLabel | string) => (end === undefined ? "—" : typeof end === "string" ? end : end.label);

export function PathPanel({ from, to, result, order, labels, loading, error, onSelect, onClear }: Props) {
  return (
    <Paper component="section" withBorder p="sm" radius="sm" aria-label="Shortest path">
      <Title order={2} size="h5" mb={4}>
        Shortest path
      </Title>
      <Stack gap={4}>
        <Text size="sm">
          From: <span className="mono" data-testid="path-from">{name(from)}</span>
        </Text>
        <Text size="sm">
          To: <span className="mono" data-testid="path-to">{name(to)}</span>
        </Text>
        {(!from || !to) && (
          <Text size="xs" c="dimmed">
            Shift-click two nodes, or use Path start and Path end on the selected node.
          </Text>
        )}
        {loading && <Text size="sm" c="dimmed">Searching for a path…</Text>}
        {error ? <ProblemAlert error={error} /> : null}
        {result && !loading && (
          <Text size="sm" role="status" fw={500}>
            {result.found
              ? `Path found: ${result.length ?? order.length - 1} ${result.length === 1 ? "hop" : "hops"}.`
              : "No path between these nodes."}
          </Text>
        )}
        {result?.found && order.length > 0 && (
          <List type="ordered" size="sm" spacing={2}>
            {order.map((node) => (
              <List.Item key={node}>
                <UnstyledButton fz="sm" onClick={() => onSelect(node)}>
                  <span className="mono">{labels.get(node)?.label ?? node}</span>
                </UnstyledButton>
              </List.Item>
            ))}
          </List>
        )}
        {(from || to) && (
          <Group>
            <Button size="xs" variant="subtle" onClick={onClear}>
              Clear path
            </Button>
          </Group>
        )}
      </Stack>
    </Paper>
  );
}
