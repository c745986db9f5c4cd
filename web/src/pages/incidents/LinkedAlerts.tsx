// The alerts an incident covers: open one in the triage queue, link another, unlink one.
import { Anchor, Button, Group, Paper, Select, Stack, Table, Text, Title } from "@mantine/core";
import { useDebouncedValue } from "@mantine/hooks";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { Link } from "react-router-dom";

import { api, unwrap, type Schemas } from "../../api/client";
import { Can } from "../../app/auth";
import { SeverityBadge, StatusBadge, Time } from "../../components/format";
import { ProblemAlert } from "../../components/ProblemAlert";

type Incident = Schemas["IncidentDetail"];

export function LinkedAlerts({ incident, onDone }: { incident: Incident; onDone: (message: string) => void }) {
  const client = useQueryClient();
  const [search, setSearch] = useState("");
  const [debounced] = useDebouncedValue(search.trim(), 250);
  const [chosen, setChosen] = useState<string | null>(null);
  const linked = new Set(incident.alerts.map((alert) => alert.alert_id));
  const candidates = useQuery({
    queryKey: ["alerts", "link-choices", debounced],
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/alerts", {
          params: { query: { q: debounced || undefined, status: ["open", "investigating"], limit: 25 } },
        }),
      ),
  });
  const refresh = async () => {
    await client.invalidateQueries({ queryKey: ["incidents"] });
    await client.invalidateQueries({ queryKey: ["alerts"] });
  };
  const link = useMutation({
    mutationFn: (alertId: string) =>
      unwrap(
        api.POST("/api/v1/incidents/{incident}/alerts", {
          params: { path: { incident: incident.id } },
          body: { alert_id: alertId },
        }),
      ),
    onSuccess: async (row) => {
      setChosen(null);
      setSearch("");
      await refresh();
      onDone(`Alert linked: ${row.title}`);
    },
  });
  const unlink = useMutation({
    mutationFn: (alertId: string) =>
      unwrap(
        api.DELETE("/api/v1/incidents/{incident}/alerts/{alert_id}", {
          params: { path: { incident: incident.id, alert_id: alertId } },
        }),
      ),
    onSuccess: async () => {
      await refresh();
      onDone("Alert unlinked.");
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (chosen) link.mutate(chosen);
  };
  const choices = (candidates.data?.items ?? [])
    .filter((alert) => !linked.has(alert.id))
    .map((alert) => ({ value: alert.id, label: alert.title }));
  return (
    <Paper component="section" withBorder p="md" radius="sm" aria-labelledby="linked-alerts">
      <Stack gap="xs">
        <Title order={2} size="h4" id="linked-alerts">
          Alerts ({incident.alerts.length})
        </Title>
        {incident.alerts.length === 0 ? (
          <Text size="sm" c="dimmed">
            No alert is linked. Link one below, or press i on an alert in the queue to open an incident from it.
          </Text>
        ) : (
          <Table fz="sm" verticalSpacing={4} striped>
            <Table.Caption className="visually-hidden">Alerts linked to this incident</Table.Caption>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Alert</Table.Th>
                <Table.Th w={90}>Severity</Table.Th>
                <Table.Th w={130}>Status</Table.Th>
                <Table.Th w={140}>Linked</Table.Th>
                <Can permission="write_intel">
                  <Table.Th w={80}>
                    <span className="visually-hidden">Actions</span>
                  </Table.Th>
                </Can>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {incident.alerts.map((alert) => (
                <Table.Tr key={alert.alert_id}>
                  <Table.Td>
                    <Anchor component={Link} to={`/alerts?status=all&alert=${encodeURIComponent(alert.alert_id)}`} size="sm"
                      style={{ overflowWrap: "anywhere" }}>
                      {alert.title}
                    </Anchor>
                  </Table.Td>
                  <Table.Td><SeverityBadge value={alert.severity} /></Table.Td>
                  <Table.Td><StatusBadge value={alert.status} /></Table.Td>
                  <Table.Td><Time value={alert.linked_at} /></Table.Td>
                  <Can permission="write_intel">
                    <Table.Td>
                      <Button size="compact-xs" variant="subtle" color="red" aria-label={`Unlink alert ${alert.title}`}
                        loading={unlink.isPending && unlink.variables === alert.alert_id}
                        onClick={() => unlink.mutate(alert.alert_id)}>
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
              <Select label="Link an active alert" placeholder="Search alert titles" searchable clearable w={360}
                data={choices} value={chosen} onChange={setChosen} searchValue={search} onSearchChange={setSearch}
                nothingFoundMessage={candidates.isFetching ? "Searching…" : "No active alert matches"}
                filter={({ options }) => options} />
              <Button type="submit" disabled={!chosen} loading={link.isPending}>
                Link alert
              </Button>
            </Group>
          </form>
        </Can>
        {(link.error || unlink.error) && <ProblemAlert error={link.error ?? unlink.error} />}
      </Stack>
    </Paper>
  );
}
