// The home page: what came in, what is open and which feeds are failing, at a glance. The
// figures come in one request; the charting code loads after the page has painted.
import { Anchor, Badge, Group, Paper, SegmentedControl, Skeleton, Stack, Text, Title, Tooltip } from "@mantine/core";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { lazy, Suspense, useState, type ReactNode } from "react";
import { Link } from "react-router-dom";

import { api, unwrap } from "../../api/client";
import { useStream } from "../../app/stream";
import { useUrlState } from "../../app/urlState";
import { PageHeader } from "../../components/PageHeader";
import { ProblemAlert } from "../../components/ProblemAlert";
import { describeStack, stackByDay, WINDOWS, windowDays, type Summary } from "./chartData";
import { AlertsBySeverity, FeedHealthTable, IncidentsByStatus, TopActors } from "./Panels";

const StackedDayChart = lazy(() => import("./StackedDayChart"));

function Panel({ title, children, actions }: { title: string; children: ReactNode; actions?: ReactNode }) {
  return (
    <Paper withBorder radius="sm" p="sm">
      <Group justify="space-between" mb="xs" wrap="nowrap">
        <Title order={2} size="h5">
          {title}
        </Title>
        {actions}
      </Group>
      {children}
    </Paper>
  );
}

function StatCard({ label, value, to, help }: { label: string; value: number | undefined; to: string; help: string }) {
  return (
    <Paper withBorder radius="sm" p="sm" component={Link} to={to} style={{ textDecoration: "none", color: "inherit" }}
      aria-label={value === undefined ? label : `${label}: ${value.toLocaleString("en")}. ${help}`}>
      <Text size="xs" c="dimmed" tt="uppercase" fw={700}>
        {label}
      </Text>
      {value === undefined ? (
        <Skeleton height={28} width="60%" mt={4} />
      ) : (
        <Text fz={26} fw={700} lh={1.3}>
          {value.toLocaleString("en")}
        </Text>
      )}
      <Text size="xs" c="dimmed">
        {help}
      </Text>
    </Paper>
  );
}

function LiveBadge({ at }: { at: Date | null }) {
  const label = at
    ? `Alerts and incidents update as they happen; last change ${at.toISOString().slice(11, 19)}Z.`
    : "Alerts and incidents update as they happen.";
  return (
    <Tooltip label={label}>
      <Badge variant="dot" color="green" size="lg" data-testid="live">
        Live<span className="visually-hidden">. {label}</span>
      </Badge>
    </Tooltip>
  );
}

function IndicatorChart({ summary, by }: { summary: Summary; by: "type" | "source" }) {
  const days = summary.days;
  const stacked =
    by === "type"
      ? stackByDay(summary.indicators_per_day, (row) => row.type, summary.since, days)
      : stackByDay(summary.indicators_per_source, (row) => row.source, summary.since, days);
  const description = describeStack(stacked, by === "type" ? "new indicators" : "first reports by a source", days);
  return (
    <>
      <div role="img" aria-label={`New indicators per day, stacked by ${by}. ${description}`}>
        <Suspense fallback={<Skeleton height={260} />}>
          <StackedDayChart stacked={stacked} />
        </Suspense>
      </div>
      <Text size="xs" c="dimmed" mt={4} data-testid="chart-summary">
        {description}
      </Text>
    </>
  );
}

const GRID = { display: "grid", gap: "var(--mantine-spacing-sm)" } as const;

export default function DashboardPage() {
  const [url, set] = useUrlState<"days" | "by">({});
  const days = windowDays(url.days);
  const by = url.by === "source" ? "source" : "type";
  const [lastEvent, setLastEvent] = useState<Date | null>(null);
  useStream(["alert", "incident"], () => setLastEvent(new Date()));
  const query = useQuery({
    queryKey: ["dashboard", days],
    queryFn: () => unwrap(api.GET("/api/v1/dashboard", { params: { query: { days: Number(days) } } })),
    placeholderData: keepPreviousData,
    // Feeds run on the server's schedule, which sends no event: look again now and then.
    refetchInterval: 60_000,
  });
  const summary = query.data;
  const totals = summary?.totals;
  return (
    <Stack gap="sm" data-testid={summary ? "dashboard-ready" : undefined}>
      <PageHeader
        title="Dashboard"
        help="New intelligence, open alerts and incidents, and the health of every feed."
        actions={
          <>
            <LiveBadge at={lastEvent} />
            <SegmentedControl aria-label="Window in days" size="xs" value={days}
              onChange={(value) => set({ days: value === "14" ? undefined : value })}
              data={WINDOWS.map((value) => ({ value, label: `${value} days` }))} />
          </>
        }
      />
      {query.error && <ProblemAlert error={query.error} />}
      <section aria-label="Totals" style={{ ...GRID, gridTemplateColumns: "repeat(auto-fit, minmax(170px, 1fr))" }}>
        <StatCard label="Indicators" value={totals?.indicators} to="/indicators" help="Known, deduplicated" />
        <StatCard label="Open alerts" value={totals?.alerts_open} to="/alerts" help="Open or investigating" />
        <StatCard label="Open incidents" value={totals?.incidents_open} to="/incidents" help="Not resolved yet" />
        <StatCard label="Feeds" value={totals?.feeds} to="/feeds" help="Configured" />
        <StatCard label="OSINT entities" value={totals?.entities} to="/osint/entities" help="Collected" />
      </section>
      <div style={{ ...GRID, gridTemplateColumns: "minmax(0, 2fr) minmax(260px, 1fr)" }}>
        <Panel
          title={`New indicators per day, by ${by}`}
          actions={
            <SegmentedControl aria-label="Stack the bars by" size="xs" value={by}
              onChange={(value) => set({ by: value === "type" ? undefined : value })}
              data={[{ value: "type", label: "By type" }, { value: "source", label: "By source" }]} />
          }
        >
          {summary ? <IndicatorChart summary={summary} by={by} /> : <Skeleton height={280} />}
        </Panel>
        <Stack gap="sm">
          <Panel title="Open alerts by severity">
            {summary ? <AlertsBySeverity counts={summary.alerts_open_by_severity} /> : <Skeleton height={120} />}
          </Panel>
          <Panel title="Incidents by status">
            {summary ? <IncidentsByStatus counts={summary.incidents_by_status} /> : <Skeleton height={100} />}
          </Panel>
          <Panel title="Top threat actors" actions={<Anchor component={Link} to="/actors" size="sm">All actors</Anchor>}>
            {summary ? <TopActors actors={summary.top_actors} /> : <Skeleton height={120} />}
          </Panel>
        </Stack>
      </div>
      <Panel title="Feed health" actions={<Anchor component={Link} to="/feeds" size="sm">All feeds</Anchor>}>
        <FeedHealthTable feeds={summary?.feeds} loading={!summary} />
      </Panel>
    </Stack>
  );
}
