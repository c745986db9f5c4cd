// The incident's state and who owns it. Each control sends only its own field, so every change
// gets its own timeline entry; resolving asks for the summary the API requires.
import { Button, Group, Paper, Select, Stack, Table, Text, Textarea, Title } from "@mantine/core";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";

import { api, unwrap, type Schemas } from "../../api/client";
import { useAuth } from "../../app/auth";
import { SeverityBadge, StatusBadge, Time } from "../../components/format";
import { ProblemAlert } from "../../components/ProblemAlert";
import { useUserChoices } from "../alerts/people";
import { label, nextStatuses, SEVERITIES, type IncidentStatus, type Severity } from "./incidents";

type Incident = Schemas["IncidentDetail"];
type Update = Schemas["IncidentUpdate"];

const NOBODY = "none";

export function IncidentDetails({ incident, onDone }: { incident: Incident; onDone: (message: string) => void }) {
  const { me, can } = useAuth();
  const canWrite = can("write_intel");
  const client = useQueryClient();
  const users = useUserChoices();
  const [resolving, setResolving] = useState(false);
  const [summary, setSummary] = useState(incident.resolution_summary ?? "");
  const update = useMutation({
    mutationFn: ({ body }: { body: Update; message: string }) =>
      unwrap(api.PATCH("/api/v1/incidents/{incident}", { params: { path: { incident: incident.id } }, body })),
    // Said here, not in mutate's callback: that one is lost if the refetch re-renders this away.
    onSuccess: async (_, { message }) => {
      setResolving(false);
      onDone(message);
      await client.invalidateQueries({ queryKey: ["incidents"] });
    },
  });
  const change = (body: Update, message: string) => update.mutate({ body, message });

  const statusChoices = [incident.status, ...nextStatuses(incident.status)].map((status) => ({
    value: status,
    label: status === incident.status ? `${label(status)} (now)` : label(status),
  }));
  const people = new Map<string, string>([[NOBODY, "Nobody"]]);
  if (me) people.set(me.user.id, `${me.user.username} (me)`);
  for (const user of users) if (!people.has(user.value)) people.set(user.value, user.label);
  if (incident.assigned_analyst_id && !people.has(incident.assigned_analyst_id)) {
    people.set(incident.assigned_analyst_id, incident.assigned_analyst ?? incident.assigned_analyst_id);
  }
  const resolve = (event: FormEvent) => {
    event.preventDefault();
    const text = summary.trim();
    if (!text) return;
    change({ status: "resolved", resolution_summary: text }, "Incident resolved.");
  };

  return (
    <Paper component="section" withBorder p="md" radius="sm" aria-labelledby="incident-details">
      <Stack gap="sm">
        <Title order={2} size="h4" id="incident-details">
          Details
        </Title>
        {canWrite ? (
          <Group gap="xs" align="flex-end" wrap="wrap">
            <Select label="Status" w={190} data={statusChoices} value={incident.status} allowDeselect={false}
              disabled={update.isPending}
              onChange={(value) => {
                if (!value || value === incident.status) return;
                if (value === "resolved") setResolving(true);
                else change({ status: value as IncidentStatus }, `Status changed to ${label(value)}.`);
              }} />
            <Select label="Severity" w={130} data={SEVERITIES} value={incident.severity} allowDeselect={false}
              disabled={update.isPending}
              onChange={(value) => value && value !== incident.severity &&
                change({ severity: value as Severity }, `Severity changed to ${value}.`)} />
            <Select label="Assigned to" w={200} searchable allowDeselect={false} disabled={update.isPending}
              data={[...people].map(([value, name]) => ({ value, label: name }))}
              value={incident.assigned_analyst_id ?? NOBODY}
              onChange={(value) => {
                if (!value || value === (incident.assigned_analyst_id ?? NOBODY)) return;
                const id = value === NOBODY ? null : value;
                change({ assigned_analyst_id: id }, id ? `Assigned to ${people.get(value)}.` : "Unassigned.");
              }} />
            {me && incident.assigned_analyst_id !== me.user.id && (
              <Button variant="default" size="sm" disabled={update.isPending}
                onClick={() => change({ assigned_analyst_id: me.user.id }, "Assigned to you.")}>
                Assign to me
              </Button>
            )}
          </Group>
        ) : (
          <Group gap="xs">
            <StatusBadge value={incident.status} />
            <SeverityBadge value={incident.severity} />
            <Text size="sm">Assigned to {incident.assigned_analyst ?? "nobody"}</Text>
          </Group>
        )}
        {resolving && canWrite && (
          <form onSubmit={resolve}>
            <Stack gap="xs">
              <Textarea label="Resolution summary: what happened and what was done" required autosize minRows={3}
                maxRows={10} autoFocus value={summary} onChange={(event) => setSummary(event.currentTarget.value)}
                onKeyDown={(event) => {
                  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) resolve(event);
                }} />
              <Group gap="xs">
                <Button type="submit" color="green" disabled={!summary.trim()} loading={update.isPending}>
                  Resolve incident
                </Button>
                <Button variant="default" onClick={() => setResolving(false)}>
                  Cancel
                </Button>
              </Group>
            </Stack>
          </form>
        )}
        {update.error && <ProblemAlert error={update.error} />}
        <Table fz="sm" verticalSpacing={4} withRowBorders={false}>
          <Table.Caption className="visually-hidden">Incident facts</Table.Caption>
          <Table.Tbody>
            <Table.Tr>
              <Table.Th scope="row" w={150}>Description</Table.Th>
              <Table.Td>
                <Text size="sm" style={{ whiteSpace: "pre-wrap", overflowWrap: "anywhere" }}>
                  {incident.description || "—"}
                </Text>
              </Table.Td>
            </Table.Tr>
            <Table.Tr>
              <Table.Th scope="row">Affected assets</Table.Th>
              <Table.Td>
                {incident.affected_assets.length === 0
                  ? "—"
                  : incident.affected_assets.map((asset, index) => (
                      <Text key={index} size="sm" className="mono">
                        {asset}
                      </Text>
                    ))}
              </Table.Td>
            </Table.Tr>
            <Table.Tr>
              <Table.Th scope="row">Opened</Table.Th>
              <Table.Td><Time value={incident.created_at} /></Table.Td>
            </Table.Tr>
            <Table.Tr>
              <Table.Th scope="row">Last changed</Table.Th>
              <Table.Td><Time value={incident.updated_at} /></Table.Td>
            </Table.Tr>
            {incident.resolved_at && (
              <Table.Tr>
                <Table.Th scope="row">Resolved</Table.Th>
                <Table.Td><Time value={incident.resolved_at} /></Table.Td>
              </Table.Tr>
            )}
            {incident.resolution_summary && (
              <Table.Tr>
                <Table.Th scope="row">Resolution summary</Table.Th>
                <Table.Td>
                  <Text size="sm" style={{ whiteSpace: "pre-wrap", overflowWrap: "anywhere" }}>
                    {incident.resolution_summary}
                  </Text>
                </Table.Td>
              </Table.Tr>
            )}
          </Table.Tbody>
        </Table>
      </Stack>
    </Paper>
  );
}
