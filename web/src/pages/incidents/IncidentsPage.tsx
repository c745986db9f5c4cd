// Incidents: the list with its filters in the URL, and the form to open one by hand.
import { Anchor, Button, Group, Select, Stack, TextInput } from "@mantine/core";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { Link } from "react-router-dom";

import { api, unwrap, type Schemas } from "../../api/client";
import { Can, useAuth } from "../../app/auth";
import { useStream } from "../../app/stream";
import { useDebouncedQuery, useUrlState } from "../../app/urlState";
import { DataTable, type Column } from "../../components/DataTable";
import { SeverityBadge, StatusBadge, Time } from "../../components/format";
import { PageHeader } from "../../components/PageHeader";
import { Pager } from "../../components/Pager";
import { ProblemAlert } from "../../components/ProblemAlert";
import { useUserChoices } from "../alerts/people";
import { CreateIncidentForm } from "./CreateIncidentForm";
import { SEVERITIES, STATUSES, label, type IncidentStatus, type Severity } from "./incidents";

type Incident = Schemas["IncidentRead"];
type Sort = Schemas["IncidentSort"];

const SORTS: { value: Sort; label: string }[] = [
  { value: "-created", label: "Newest first" },
  { value: "created", label: "Oldest first" },
  { value: "-updated", label: "Recently changed" },
  { value: "-severity", label: "Most severe first" },
];

const link = (incident: Incident) => `/incidents/${encodeURIComponent(incident.id)}`;

const COLUMNS: Column<Incident>[] = [
  { key: "number", header: "Number", width: 130, sort: "created",
    render: (row) => (
      <Anchor component={Link} to={link(row)} size="sm" className="mono">
        {row.incident_number}
      </Anchor>
    ) },
  { key: "title", header: "Title",
    render: (row) => (
      <Anchor component={Link} to={link(row)} size="sm" style={{ overflowWrap: "anywhere" }}>
        {row.title}
      </Anchor>
    ) },
  { key: "severity", header: "Severity", sort: "severity", width: 100, render: (row) => <SeverityBadge value={row.severity} /> },
  { key: "status", header: "Status", width: 120, render: (row) => <StatusBadge value={row.status} /> },
  { key: "assignee", header: "Assigned to", width: 140, render: (row) => row.assigned_analyst ?? "—" },
  { key: "alerts", header: "Alerts", width: 70, align: "right", render: (row) => row.alert_count },
  { key: "indicators", header: "Indicators", width: 90, align: "right", render: (row) => row.indicator_count },
  { key: "updated", header: "Updated", sort: "updated", width: 150, render: (row) => <Time value={row.updated_at} /> },
];

export default function IncidentsPage() {
  const { me } = useAuth();
  const myId = me?.user.id;
  const [url, set] = useUrlState<"status" | "severity" | "assignee" | "q" | "sort" | "new">({ sort: "-created" });
  const [text, setText] = useState(url.q ?? "");
  const pushQuery = useDebouncedQuery(set);
  const users = useUserChoices();
  useStream(["incident"]);
  const assignee = url.assignee === "me" ? myId : url.assignee;
  const query = useQuery({
    queryKey: ["incidents", "list", url, myId],
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/incidents", {
          params: {
            query: {
              status: (url.status as IncidentStatus) || undefined,
              severity: (url.severity as Severity) || undefined,
              assigned_analyst_id: assignee || undefined,
              q: url.q || undefined,
              sort: (url.sort as Sort) || "-created",
              cursor: url.cursor || undefined,
              limit: 50,
            },
          },
        }),
      ),
    placeholderData: keepPreviousData,
  });
  const rows = query.data?.items;
  const filtered = !!(url.status || url.severity || url.assignee || url.q);
  return (
    <Stack gap="sm">
      <PageHeader title="Incidents"
        help="Investigations: the alerts and indicators involved, who works them, and every step in the timeline."
        actions={
          <Can permission="write_intel">
            {url.new ? null : (
              <Button size="sm" onClick={() => set({ new: "1" })}>
                New incident
              </Button>
            )}
          </Can>
        } />
      <Can permission="write_intel">{url.new && <CreateIncidentForm onCancel={() => set({ new: undefined })} />}</Can>
      <Group gap="xs" align="flex-end" wrap="wrap">
        <TextInput label="Title or number contains" placeholder="INC-2026-…, phishing…" w={240} value={text}
          onChange={(event) => {
            setText(event.currentTarget.value);
            pushQuery(event.currentTarget.value);
          }} />
        <Select label="Status" placeholder="Any" clearable w={150} value={url.status ?? null}
          data={STATUSES.map((status) => ({ value: status, label: label(status) }))}
          onChange={(value) => set({ status: value ?? undefined })} />
        <Select label="Severity" placeholder="Any" clearable w={130} data={SEVERITIES} value={url.severity ?? null}
          onChange={(value) => set({ severity: value ?? undefined })} />
        <Select label="Assigned to" placeholder="Anyone" clearable w={160} value={url.assignee ?? null}
          data={[{ value: "me", label: "Me" }, ...users.filter((user) => user.value !== myId)]}
          onChange={(value) => set({ assignee: value ?? undefined })} />
        <Select label="Order" w={170} data={SORTS} value={url.sort ?? "-created"} allowDeselect={false}
          onChange={(value) => set({ sort: value ?? undefined })} />
        {filtered && (
          <Button variant="subtle" size="sm" onClick={() => {
            setText("");
            set({ status: undefined, severity: undefined, assignee: undefined, q: undefined });
          }}>
            Clear filters
          </Button>
        )}
      </Group>
      {query.error && <ProblemAlert error={query.error} />}
      <DataTable caption="Incidents" columns={COLUMNS} rows={rows} rowKey={(row) => row.id} loading={query.isPending}
        sort={url.sort} onSort={(sort) => set({ sort })}
        empty={filtered
          ? "No incident matches these filters."
          : "No incidents yet. Open one with New incident, or press i on an alert in the Alerts queue."} />
      <Pager nextCursor={query.data?.next_cursor} total={query.data?.total} shown={rows?.length ?? 0} />
    </Stack>
  );
}
