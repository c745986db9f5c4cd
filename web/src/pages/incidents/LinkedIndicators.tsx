// The indicators an incident involves, and how: root cause, related or consequence. Linking
// takes a value as an analyst pastes it (defanged is fine) or an indicator id.
import { Anchor, Button, Group, Paper, Select, Stack, Table, Text, TextInput, Title } from "@mantine/core";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { Link } from "react-router-dom";

import { api, unwrap, type Schemas } from "../../api/client";
import { Can } from "../../app/auth";
import { Time, Value } from "../../components/format";
import { ProblemAlert } from "../../components/ProblemAlert";
import { label, RELATIONSHIPS } from "./incidents";

type Incident = Schemas["IncidentDetail"];
type Relationship = Schemas["IncidentRelationship"];

export function LinkedIndicators({ incident, onDone }: { incident: Incident; onDone: (message: string) => void }) {
  const client = useQueryClient();
  const [key, setKey] = useState("");
  const [relationship, setRelationship] = useState<Relationship>("related");
  const link = useMutation({
    mutationFn: async () => {
      // The indicator route reads an id or a value, so one lookup serves both.
      const found = await unwrap(api.GET("/api/v1/indicators/{key}", { params: { path: { key: key.trim() } } }));
      return unwrap(
        api.POST("/api/v1/incidents/{incident}/indicators", {
          params: { path: { incident: incident.id } },
          body: { indicator_id: found.indicator.id, relationship_type: relationship },
        }),
      );
    },
    onSuccess: async (row) => {
      setKey("");
      await client.invalidateQueries({ queryKey: ["incidents"] });
      onDone(`Indicator linked: ${row.indicator_value}`);
    },
  });
  const unlink = useMutation({
    mutationFn: (indicatorId: string) =>
      unwrap(
        api.DELETE("/api/v1/incidents/{incident}/indicators/{indicator_id}", {
          params: { path: { incident: incident.id, indicator_id: indicatorId } },
        }),
      ),
    onSuccess: async () => {
      await client.invalidateQueries({ queryKey: ["incidents"] });
      onDone("Indicator unlinked.");
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (key.trim()) link.mutate();
  };
  return (
    <Paper component="section" withBorder p="md" radius="sm" aria-labelledby="linked-indicators">
      <Stack gap="xs">
        <Title order={2} size="h4" id="linked-indicators">
          Indicators ({incident.indicators.length})
        </Title>
        {incident.indicators.length === 0 ? (
          <Text size="sm" c="dimmed">
            No indicator is linked. Paste a value or an indicator id below to link one.
          </Text>
        ) : (
          <Table fz="sm" verticalSpacing={4} striped>
            <Table.Caption className="visually-hidden">Indicators linked to this incident</Table.Caption>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Indicator</Table.Th>
                <Table.Th w={70}>Type</Table.Th>
                <Table.Th w={110}>Relationship</Table.Th>
                <Table.Th w={140}>Linked</Table.Th>
                <Can permission="write_intel">
                  <Table.Th w={80}>
                    <span className="visually-hidden">Actions</span>
                  </Table.Th>
                </Can>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {incident.indicators.map((indicator) => (
                <Table.Tr key={indicator.indicator_id}>
                  <Table.Td>
                    <Anchor component={Link} to={`/indicators/${encodeURIComponent(indicator.indicator_id)}`} size="sm">
                      <Value text={indicator.indicator_value} />
                    </Anchor>
                  </Table.Td>
                  <Table.Td>{indicator.indicator_type}</Table.Td>
                  <Table.Td>{label(indicator.relationship_type)}</Table.Td>
                  <Table.Td><Time value={indicator.added_at} /></Table.Td>
                  <Can permission="write_intel">
                    <Table.Td>
                      <Button size="compact-xs" variant="subtle" color="red"
                        aria-label={`Unlink indicator ${indicator.indicator_value}`}
                        loading={unlink.isPending && unlink.variables === indicator.indicator_id}
                        onClick={() => unlink.mutate(indicator.indicator_id)}>
                        Unlink
                      </Button>
                    </Table.Td>
                  </Can>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
        <Can permission="write_intel">
          <form onSubmit={submit}>
            <Group gap="xs" align="flex-end">
              <TextInput label="Indicator value or id" placeholder="evil[.]example, 203.0.113.9, …" w={280}
                value={key} onChange={(event) => setKey(event.currentTarget.value)} />
              <Select label="Relationship" w={150} data={RELATIONSHIPS} value={relationship} allowDeselect={false}
                onChange={(value) => value && setRelationship(value as Relationship)} />
              <Button type="submit" disabled={!key.trim()} loading={link.isPending}>
                Link indicator
              </Button>
            </Group>
          </form>
        </Can>
        {(link.error || unlink.error) && <ProblemAlert error={link.error ?? unlink.error} />}
      </Stack>
    </Paper>
  );
}
