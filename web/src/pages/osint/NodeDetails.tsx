// The selected node of the explorer: what it is, its own page, and what can be done from it.
import { Anchor, Badge, Button, Group, Paper, Stack, Text, Title } from "@mantine/core";
import { Link } from "react-router-dom";

import { formatScore, Value } from "../../components/format";
import { nodeHref, nodeType, type NodeLabel } from "./graphData";

interface Props {
  label?: NodeLabel;
  degree: number;
  expanded: boolean;
  onExpand: () => void;
  onPickStart: () => void;
  onPickEnd: () => void;
  onRoot: () => void;
}

export function NodeDetails({ label, degree, expanded, onExpand, onPickStart, onPickEnd, onRoot }: Props) {
  const href = label ? nodeHref(label) : null;
  return (
    <Paper component="section" withBorder p="sm" radius="sm" aria-label="Selected node">
      <Title order={2} size="h5" mb={4}>
        Selected node
      </Title>
      {!label ? (
        <Text size="sm" c="dimmed">
          Click a node in the graph, or pick one in the list under it.
        </Text>
      ) : (
        <Stack gap={6}>
          <Text fw={600} size="sm" data-testid="selected-node">
            <Value text={label.label} max={60} />
          </Text>
          <Group gap={4}>
            <Badge size="sm" variant="light" color="gray">{label.kind}</Badge>
            <Badge size="sm" variant="outline" color="gray">{nodeType(label).replace(/_/g, " ")}</Badge>
            {(label.kind === "entity" || label.kind === "indicator") && (
              <Text size="xs">{label.kind === "entity" ? "Risk" : "Threat score"} {formatScore(label.score)}</Text>
            )}
          </Group>
          <Text size="xs" c="dimmed">
            {degree} {degree === 1 ? "link" : "links"} in view{expanded ? " · expanded" : ""}
          </Text>
          {href && (
            <Anchor component={Link} to={href} size="sm">
              Open its page
            </Anchor>
          )}
          <Group gap={6}>
            <Button size="xs" onClick={onExpand} title="E">
              Expand neighbours
            </Button>
            <Button size="xs" variant="default" onClick={onRoot}>
              Start from here
            </Button>
          </Group>
          <Group gap={6}>
            <Button size="xs" variant="default" onClick={onPickStart} title="S">
              Path start
            </Button>
            <Button size="xs" variant="default" onClick={onPickEnd} title="T">
              Path end
            </Button>
          </Group>
        </Stack>
      )}
    </Paper>
  );
}
