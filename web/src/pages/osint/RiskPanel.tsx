// An entity's risk score and why: the factors of the latest computation, and its history.
import { Badge, Button, Group, Paper, Stack, Table, Text, Title } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";

import { api, unwrap, type Schemas } from "../../api/client";
import { Can } from "../../app/auth";
import { formatScore, SeverityBadge, Time } from "../../components/format";
import { ProblemAlert } from "../../components/ProblemAlert";
import { evidenceText } from "./format";

type Risk = Schemas["RiskRead"];

export function formatFactor(value: number, digits = 2): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(digits);
}

export function RiskPanel({ entityId, score, level }: { entityId: string; score: number | null; level: string | null }) {
  const client = useQueryClient();
  const [message, setMessage] = useState<string | null>(null);
  const history = useQuery({
    queryKey: ["entities", "risk", entityId],
    queryFn: () =>
      unwrap(api.GET("/api/v1/entities/{entity_id}/risk", { params: { path: { entity_id: entityId }, query: { limit: 20 } } })),
  });
  const rescore = useMutation({
    mutationFn: () => unwrap(api.POST("/api/v1/entities/{entity_id}/rescore", { params: { path: { entity_id: entityId } } })),
    onSuccess: async (result: Risk) => {
      setMessage(`Rescored: ${result.score} (${result.level ?? "no level"}).`);
      await Promise.all([
        client.invalidateQueries({ queryKey: ["entities"] }),
        client.invalidateQueries({ queryKey: ["graph"] }),
      ]);
    },
  });
  const latest = history.data?.[0];
  const factors = latest ? [...latest.factors].sort((a, b) => b.contribution - a.contribution) : [];
  return (
    <Paper withBorder p="md" radius="sm" style={{ flex: 1 }}>
      <Group justify="space-between" mb="xs">
        <Title order={2} size="h4">Risk</Title>
        <Can permission="write_intel">
          <Button size="xs" variant="default" onClick={() => rescore.mutate()} loading={rescore.isPending}>
            Rescore
          </Button>
        </Can>
      </Group>
      <Stack gap="xs">
        <Group gap="sm" align="baseline">
          <Text fz={32} fw={700} lh={1} data-testid="risk-score">{formatScore(score)}</Text>
          <Text size="sm" c="dimmed">/ 100</Text>
          <SeverityBadge value={level} />
        </Group>
        {message && <Text size="sm" role="status">{message}</Text>}
        {rescore.error && <ProblemAlert error={rescore.error} />}
        {history.error && <ProblemAlert error={history.error} />}
        {latest ? (
          <>
            <Text size="xs" c="dimmed">
              Computed <Time value={latest.calculated_at} /> by {latest.calculation_method ?? "the risk model"}: each factor's
              contribution is its weight times its value (0–1); the score is their sum, capped at 100.
            </Text>
            <Table fz="sm" verticalSpacing={4} striped>
              <Table.Caption className="visually-hidden">Risk factors of the latest computation</Table.Caption>
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Factor</Table.Th>
                  <Table.Th ta="right">Weight</Table.Th>
                  <Table.Th ta="right">Value</Table.Th>
                  <Table.Th ta="right">Contribution</Table.Th>
                  <Table.Th>Evidence</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {factors.map((factor) => (
                  <Table.Tr key={factor.factor}>
                    <Table.Td>{factor.factor}</Table.Td>
                    <Table.Td ta="right">{factor.weight}</Table.Td>
                    <Table.Td ta="right">{formatFactor(factor.value)}</Table.Td>
                    <Table.Td ta="right" fw={factor.contribution > 0 ? 700 : undefined}>{formatFactor(factor.contribution, 1)}</Table.Td>
                    <Table.Td><span className="mono">{evidenceText(factor.evidence)}</span></Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
            {history.data && history.data.length > 1 && (
              <Group gap={6}>
                <Text size="xs" c="dimmed">Earlier:</Text>
                {history.data.slice(1, 8).map((row) => (
                  <Badge key={row.id} size="sm" variant="outline" color="gray" title={row.calculated_at ?? undefined}>
                    {row.score}
                  </Badge>
                ))}
              </Group>
            )}
          </>
        ) : (
          !history.isPending && <Text size="sm" c="dimmed">Not scored yet. Rescore computes it now.</Text>
        )}
      </Stack>
    </Paper>
  );
}
