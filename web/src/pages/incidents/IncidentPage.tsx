// One incident: its state and owner, the alerts and indicators involved, and the timeline with
// the analysts' notes. Reached by id or by number (/incidents/INC-2026-0001).
import { Anchor, Group, Stack, Text } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { Link, useParams } from "react-router-dom";

import { api, ApiError, unwrap } from "../../api/client";
import { useStream } from "../../app/stream";
import { EmptyState } from "../../components/EmptyState";
import { SeverityBadge, StatusBadge } from "../../components/format";
import { PageHeader } from "../../components/PageHeader";
import { PageSkeleton } from "../../components/PageSkeleton";
import { ProblemAlert } from "../../components/ProblemAlert";
import { IncidentDetails } from "./IncidentDetails";
import { IncidentTimeline } from "./IncidentTimeline";
import { LinkedAlerts } from "./LinkedAlerts";
import { LinkedIndicators } from "./LinkedIndicators";
import { count } from "./incidents";

export default function IncidentPage() {
  const key = useParams().incident ?? "";
  const [message, setMessage] = useState<string | null>(null);
  useStream(["incident"]);
  const query = useQuery({
    queryKey: ["incidents", "detail", key],
    queryFn: () => unwrap(api.GET("/api/v1/incidents/{incident}", { params: { path: { incident: key } } })),
    enabled: !!key,
  });
  const incident = query.data;
  if (query.isPending) return <PageSkeleton />;
  if (query.error || !incident) {
    const missing = query.error instanceof ApiError && query.error.status === 404;
    return (
      <Stack gap="sm">
        <PageHeader title="Incident" />
        {missing ? (
          <EmptyState title="No such incident">
            It may have been deleted, or the link is wrong. <Anchor component={Link} to="/incidents">See every incident</Anchor>.
          </EmptyState>
        ) : (
          <ProblemAlert error={query.error} />
        )}
      </Stack>
    );
  }
  return (
    <Stack gap="sm">
      <PageHeader title={`${incident.incident_number} · ${incident.title}`}
        help={<Anchor component={Link} to="/incidents" size="sm">All incidents</Anchor>} />
      <Group gap={6} mt={-6}>
        <StatusBadge value={incident.status} />
        <SeverityBadge value={incident.severity} />
        <Text size="sm" c="dimmed">
          {incident.assigned_analyst ? `Assigned to ${incident.assigned_analyst}` : "Nobody is assigned"} ·{" "}
          {count(incident.alert_count, "alert")} · {count(incident.indicator_count, "indicator")}
        </Text>
      </Group>
      {message && (
        <Text size="sm" c="var(--mantine-color-green-text)" role="status">
          {message}
        </Text>
      )}
      <div style={{ display: "grid", gridTemplateColumns: "minmax(0, 3fr) minmax(0, 2fr)", gap: 12, alignItems: "start" }}>
        <Stack gap="sm">
          <IncidentDetails key={incident.id} incident={incident} onDone={setMessage} />
          <LinkedAlerts incident={incident} onDone={setMessage} />
          <LinkedIndicators incident={incident} onDone={setMessage} />
        </Stack>
        <IncidentTimeline incidentId={incident.id} onDone={setMessage} />
      </div>
    </Stack>
  );
}
