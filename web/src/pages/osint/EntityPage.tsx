// One entity: what it is called, where it was found, what enrichers said, its risk and why,
// and its neighbourhood in the graph.
import { Anchor, Badge, Code, Group, Paper, Stack, Table, Text, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { Link, useParams } from "react-router-dom";

import { api, unwrap } from "../../api/client";
import { formatScore, SeverityBadge, Time, Value } from "../../components/format";
import { PageHeader } from "../../components/PageHeader";
import { PageSkeleton } from "../../components/PageSkeleton";
import { ProblemAlert } from "../../components/ProblemAlert";
import { EntityGraph } from "./EntityGraph";
import { Enrichments } from "./Enrichments";
import { label } from "./format";
import { TwoColumns } from "./TwoColumns";
import { RiskPanel } from "./RiskPanel";

export default function EntityPage() {
  const { id = "" } = useParams();
  const detail = useQuery({
    queryKey: ["entities", "detail", id],
    queryFn: () => unwrap(api.GET("/api/v1/entities/{entity_id}", { params: { path: { entity_id: id } } })),
  });
  if (detail.isPending) return <PageSkeleton />;
  if (detail.error || !detail.data) {
    return (
      <Stack>
        <PageHeader title="Entity" />
        <ProblemAlert error={detail.error} />
        <Anchor component={Link} to="/osint/entities">Back to the entities</Anchor>
      </Stack>
    );
  }
  const entity = detail.data;
  const properties = entity.properties && Object.keys(entity.properties).length > 0 ? entity.properties : null;
  return (
    <Stack gap="md">
      <PageHeader
        title={entity.name}
        help={`${label(entity.entity_type)} · seen ${entity.source_count} ${entity.source_count === 1 ? "time" : "times"}`}
      />
      <TwoColumns>
        <RiskPanel entityId={entity.id} score={entity.risk_score} level={entity.risk_level} />
        <Paper withBorder p="md" radius="sm" style={{ flex: 1 }}>
          <Title order={2} size="h4" mb="xs">Identity</Title>
          <Stack gap={6}>
            <Text size="sm">Type: {label(entity.entity_type)}</Text>
            <Text size="sm">
              Confidence: {entity.confidence === null ? "—" : `${Math.round(entity.confidence * 100)}%`}
              {entity.is_verified ? " · verified" : ""}
            </Text>
            <Text size="sm">First seen <Time value={entity.first_seen} />, last seen <Time value={entity.last_seen} /></Text>
            {entity.indicator && (
              <Text size="sm">
                Threat indicator:{" "}
                <Anchor component={Link} to={`/indicators/${encodeURIComponent(entity.indicator.id)}`} size="sm" underline="always">
                  <Value text={entity.indicator.value} max={60} />
                </Anchor>{" "}
                <SeverityBadge value={entity.indicator.severity} /> score {formatScore(entity.indicator.threat_score)}
                {entity.indicator.is_active ? "" : " (inactive)"}
              </Text>
            )}
            <Text size="sm" fw={500} mt={4}>Aliases</Text>
            {entity.aliases.length === 0 ? (
              <Text size="sm" c="dimmed">None.</Text>
            ) : (
              <Group gap={4}>
                {entity.aliases.map((alias) => (
                  <Badge key={alias.normalized_name} variant="light" color="gray" size="sm" tt="none" title={`From ${alias.origin}`}>
                    {alias.name}
                  </Badge>
                ))}
              </Group>
            )}
            {(entity.tags ?? []).length > 0 && (
              <>
                <Text size="sm" fw={500} mt={4}>Tags</Text>
                <Group gap={4}>
                  {(entity.tags ?? []).map((tag) => (
                    <Badge key={tag} variant="outline" color="gray" size="sm" tt="none">{tag}</Badge>
                  ))}
                </Group>
              </>
            )}
            {properties && (
              <>
                <Text size="sm" fw={500} mt={4}>Properties</Text>
                <Code block style={{ maxHeight: 200, overflow: "auto" }}>{JSON.stringify(properties, null, 2)}</Code>
              </>
            )}
          </Stack>
        </Paper>
      </TwoColumns>
      <EntityGraph entityId={entity.id} />
      <Paper withBorder p="md" radius="sm">
        <Title order={2} size="h4" mb="xs">Sources</Title>
        {entity.sources.length === 0 ? (
          <Text size="sm" c="dimmed">No source item is recorded for this entity.</Text>
        ) : (
          <Table fz="sm" verticalSpacing={4} striped>
            <Table.Caption className="visually-hidden">Items this entity was found in</Table.Caption>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Collection</Table.Th>
                <Table.Th>Item</Table.Th>
                <Table.Th>Source</Table.Th>
                <Table.Th>Found by</Table.Th>
                <Table.Th ta="right">Confidence</Table.Th>
                <Table.Th>Collected</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {entity.sources.map((source) => (
                <Table.Tr key={source.id}>
                  <Table.Td>
                    <Anchor component={Link} to={`/osint/collections/${encodeURIComponent(source.collection_id)}`} size="sm">
                      Open collection
                    </Anchor>
                  </Table.Td>
                  <Table.Td>{source.item_type ?? "—"}</Table.Td>
                  <Table.Td>{source.source_name ?? "—"}</Table.Td>
                  <Table.Td>{source.extraction_method ?? "—"}</Table.Td>
                  <Table.Td ta="right">{source.confidence === null ? "—" : `${Math.round(source.confidence * 100)}%`}</Table.Td>
                  <Table.Td><Time value={source.collected_at} /></Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
        {entity.source_count > entity.sources.length && (
          <Text size="xs" c="dimmed" mt={4}>
            The latest {entity.sources.length} of {entity.source_count} are shown.
          </Text>
        )}
      </Paper>
      <Enrichments items={entity.enrichments} />
    </Stack>
  );
}
