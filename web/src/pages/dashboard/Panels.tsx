// The dashboard's smaller panels: counts as bars drawn with plain elements (no chart code),
// the feed health table and the most linked actors.
import { Anchor, Badge, Group, Stack, Text } from "@mantine/core";
import type { ReactNode } from "react";
import { Link } from "react-router-dom";

import { DataTable, type Column } from "../../components/DataTable";
import { SeverityBadge, Time, Value } from "../../components/format";
import { RunStatusBadge } from "../feeds/RunStatusBadge";
import {
  feedsByHealth,
  INCIDENT_ORDER,
  orderedCounts,
  SEVERITY_ORDER,
  type FeedHealth,
  type Summary,
} from "./chartData";

const BAR_COLOURS: Record<string, string> = {
  critical: "var(--mantine-color-red-7)",
  high: "var(--mantine-color-orange-7)",
  medium: "var(--mantine-color-yellow-6)",
  low: "var(--mantine-color-blue-6)",
  info: "var(--mantine-color-gray-5)",
  open: "var(--mantine-color-red-7)",
  investigating: "var(--mantine-color-yellow-6)",
  contained: "var(--mantine-color-blue-6)",
  resolved: "var(--mantine-color-green-7)",
};

function CountBars({
  rows,
  label,
  linkOf,
  badge,
}: {
  rows: { name: string; count: number; share: number }[];
  label: string;
  linkOf: (name: string) => string;
  badge: (name: string) => ReactNode;
}) {
  return (
    <Stack gap={6} component="ul" aria-label={label} style={{ listStyle: "none", padding: 0, margin: 0 }}>
      {rows.map((row) => (
        <li key={row.name}>
          <Group gap="xs" wrap="nowrap">
            <div style={{ width: 104, flexShrink: 0 }}>{badge(row.name)}</div>
            <div aria-hidden="true" style={{ flex: 1, height: 10, background: "var(--mantine-color-gray-1)", borderRadius: 4 }}>
              <div style={{
                width: `${Math.round(row.share * 100)}%`, height: "100%", borderRadius: 4,
                background: BAR_COLOURS[row.name] ?? "var(--mantine-color-gray-6)",
              }} />
            </div>
            <Anchor component={Link} to={linkOf(row.name)} size="sm" fw={600} w={56} ta="right"
              aria-label={`${row.count.toLocaleString("en")} ${row.name.replace(/_/g, " ")}`}>
              {row.count.toLocaleString("en")}
            </Anchor>
          </Group>
        </li>
      ))}
    </Stack>
  );
}

export function AlertsBySeverity({ counts }: { counts: Summary["alerts_open_by_severity"] }) {
  const rows = orderedCounts(counts, SEVERITY_ORDER);
  const total = rows.reduce((sum, row) => sum + row.count, 0);
  return (
    <>
      <CountBars rows={rows} label="Open alerts by severity" badge={(name) => <SeverityBadge value={name} />}
        linkOf={(name) => `/alerts?severity=${encodeURIComponent(name)}`} />
      {total === 0 && (
        <Text size="xs" c="dimmed" mt={6}>
          No open alerts. Alerts appear when a watchlist or a correlation rule matches incoming intelligence.
        </Text>
      )}
    </>
  );
}

// Solid colours: white text on them keeps 4.5:1, which pale outline text does not.
const INCIDENT_COLOURS: Record<string, string> = {
  open: "red.9",
  investigating: "grape.9",
  contained: "blue.9",
  resolved: "teal.9",
};

function IncidentStatus({ value }: { value: string }) {
  return (
    <Badge size="sm" variant="filled" color={INCIDENT_COLOURS[value] ?? "gray.7"}>
      {value.replace(/_/g, " ")}
    </Badge>
  );
}

export function IncidentsByStatus({ counts }: { counts: Summary["incidents_by_status"] }) {
  const rows = orderedCounts(counts, INCIDENT_ORDER);
  const total = rows.reduce((sum, row) => sum + row.count, 0);
  return (
    <>
      <CountBars rows={rows} label="Incidents by status" badge={(name) => <IncidentStatus value={name} />}
        linkOf={(name) => `/incidents?status=${encodeURIComponent(name)}`} />
      {total === 0 && (
        <Text size="xs" c="dimmed" mt={6}>
          No incidents. Open one from an alert when it needs an investigation.
        </Text>
      )}
    </>
  );
}

const NOWRAP = { whiteSpace: "nowrap", display: "inline-block" } as const;

const FEED_COLUMNS: Column<FeedHealth>[] = [
  {
    key: "name",
    header: "Feed",
    render: (row) => (
      <Anchor component={Link} to={`/feeds/${encodeURIComponent(row.id)}`} size="sm" style={{ display: "inline-block", minWidth: 160 }}>
        <Value text={row.name} max={48} />
      </Anchor>
    ),
  },
  { key: "last", header: "Last run", render: (row) => <span style={NOWRAP}><Time value={row.last_run} /></span> },
  { key: "status", header: "Status", render: (row) => <RunStatusBadge value={row.last_status ?? "never run"} /> },
  { key: "indicators", header: "Indicators", align: "right",
    render: (row) => (row.last_indicators === null ? "—" : row.last_indicators.toLocaleString("en")) },
  { key: "next", header: "Next run",
    render: (row) => <span style={NOWRAP}>{row.enabled ? <Time value={row.next_run} /> : "disabled"}</span> },
  {
    key: "error",
    header: "Error",
    render: (row) =>
      row.last_error ? (
        <Text size="xs" c="red.9" fw={600} title={row.last_error} lineClamp={2} miw={160}>
          {row.last_error}
        </Text>
      ) : (
        "—"
      ),
  },
];

export function FeedHealthTable({ feeds, loading }: { feeds: FeedHealth[] | undefined; loading: boolean }) {
  return (
    <DataTable caption="Feed health: the latest run of each feed, failing feeds first" columns={FEED_COLUMNS}
      rows={feeds ? feedsByHealth(feeds) : undefined} rowKey={(row) => row.id} loading={loading}
      empty="No feeds yet. Add one from Feeds → Templates gallery, or upload a saved feed file to a feed." />
  );
}

export function TopActors({ actors }: { actors: Summary["top_actors"] }) {
  if (actors.length === 0) {
    return (
      <Text size="sm" c="dimmed">
        No threat actor has linked indicators yet. Link indicators from an actor&apos;s page.
      </Text>
    );
  }
  return (
    <Stack gap={4} component="ol" aria-label="Threat actors by linked indicators" style={{ paddingLeft: 20, margin: 0 }}>
      {actors.map((actor) => (
        <li key={actor.id}>
          <Group justify="space-between" wrap="nowrap" gap="xs">
            <Anchor component={Link} to={`/actors/${encodeURIComponent(actor.id)}`} size="sm">
              <Value text={actor.name} max={40} />
            </Anchor>
            <Text size="sm" c="dimmed">
              {actor.indicators.toLocaleString("en")} indicators
            </Text>
          </Group>
        </li>
      ))}
    </Stack>
  );
}
