// The alerts an incident covers: open one in the triage queue, link another, unlink one.
import { Anchor, Button, Group, Select, Table } from "@mantine/core";
import { useDebouncedValue } from "@mantine/hooks";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { Link } from "react-router-dom";

import { api, unwrap, type Schemas } from "../../api/client";
import { SeverityBadge, StatusBadge, Time } from "../../components/format";
import { LinkedSection, UnlinkCell } from "./LinkedSection";

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
    <LinkedSection id="linked-alerts" heading="Alerts" count={incident.alerts.length}
      empty="No alert is linked. Link one below, or press i on an alert in the queue to open an incident from it."
      caption="Alerts linked to this incident"
      columns={[{ header: "Alert" }, { header: "Severity", width: 90 }, { header: "Status", width: 130 }, { header: "Linked", width: 140 }]}
      rows={incident.alerts.map((alert) => (
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
          <UnlinkCell label={`Unlink alert ${alert.title}`} loading={unlink.isPending && unlink.variables === alert.alert_id}
            onUnlink={() => unlink.mutate(alert.alert_id)} />
        </Table.Tr>
      ))}
      form={
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
      }
      error={link.error ?? unlink.error} />
  );
}
