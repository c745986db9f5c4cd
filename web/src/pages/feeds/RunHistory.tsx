// A feed's recent runs (downloads and file uploads) with their counts, totals over them, and
// the chosen run's row errors; the chosen run is in the URL.
import { Alert, Code, Group, List, Paper, Stack, Text, Title, UnstyledButton } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";

import { api, unwrap } from "../../api/client";
import { useUrlState } from "../../app/urlState";
import { DataTable, type Column } from "../../components/DataTable";
import { formatTime, Time, Value } from "../../components/format";
import { ProblemAlert } from "../../components/ProblemAlert";
import { runErrors, runStatistics, type FeedRun } from "./feedForm";
import { RunStatusBadge } from "./RunStatusBadge";

function count(value: number | null | undefined): string {
  return value === null || value === undefined ? "—" : value.toLocaleString("en");
}

function Figure({ label, value }: { label: string; value: string }) {
  return (
    <div>
      <Text size="xs" c="dimmed" tt="uppercase" fw={700}>
        {label}
      </Text>
      <Text fw={700}>{value}</Text>
    </div>
  );
}

function RunDetails({ run }: { run: FeedRun }) {
  const errors = runErrors(run);
  const extra = Object.entries(run).filter(
    ([key, value]) =>
      !["run_id", "errors", "error", "status", "started_at"].includes(key) && value !== null && typeof value !== "object",
  );
  return (
    <Paper withBorder p="sm" radius="sm" aria-label={`Run ${run.run_id}`} component="section">
      <Group justify="space-between" mb={4}>
        <Title order={2} size="h6">
          Run of {formatTime(run.started_at)}
        </Title>
        <RunStatusBadge value={run.status} />
      </Group>
      {run.error && (
        <Alert color="red" variant="light" title="Why it failed" mb="xs">
          <Text size="sm" style={{ whiteSpace: "pre-wrap", overflowWrap: "anywhere" }}>
            {run.error}
          </Text>
        </Alert>
      )}
      <Text size="xs" c="dimmed">
        {extra.map(([key, value]) => `${key.replace(/_/g, " ")}: ${String(value)}`).join(" · ")}
      </Text>
      {errors.length > 0 ? (
        <>
          <Text size="sm" fw={600} mt="xs">
            Row errors (first {errors.length})
          </Text>
          <List size="xs" spacing={2}>
            {errors.map((line, index) => (
              <List.Item key={index}>
                <Value text={line} max={200} />
              </List.Item>
            ))}
          </List>
        </>
      ) : (
        <Text size="xs" c="dimmed" mt="xs">
          No row errors recorded.
        </Text>
      )}
      <Text size="xs" c="dimmed" mt="xs">
        Run id <Code>{run.run_id}</Code>
      </Text>
    </Paper>
  );
}

export function RunHistory({ feed }: { feed: string }) {
  const [url, set] = useUrlState<"run">();
  const query = useQuery({
    queryKey: ["feeds", "runs", feed],
    queryFn: () => unwrap(api.GET("/api/v1/feeds/{feed}/runs", { params: { path: { feed } } })),
  });
  const runs = query.data?.runs;
  const stats = runStatistics(runs ?? []);
  const chosen = runs?.find((run) => run.run_id === url.run);
  const columns: Column<FeedRun>[] = [
    {
      key: "started",
      header: "Started",
      width: 160,
      render: (row) => (
        <UnstyledButton fz="sm" c="blue.9" td="underline" onClick={() => set({ run: row.run_id })}
          aria-label={`Details of the run of ${formatTime(row.started_at)}`} aria-pressed={row.run_id === url.run}
          style={{ whiteSpace: "nowrap" }}>
          <Time value={row.started_at} />
        </UnstyledButton>
      ),
    },
    { key: "trigger", header: "How", width: 90, render: (row) => (row.trigger === "upload" ? "upload" : "download") },
    { key: "status", header: "Status", width: 110, render: (row) => <RunStatusBadge value={row.status} /> },
    { key: "parsed", header: "Parsed", align: "right", width: 70, render: (row) => count(row.parsed) },
    { key: "new", header: "New", align: "right", width: 60, render: (row) => count(row.new) },
    { key: "updated", header: "Updated", align: "right", width: 70, render: (row) => count(row.updated) },
    { key: "rejected", header: "Rejected", align: "right", width: 70, render: (row) => count(row.rejected) },
    { key: "suppressed", header: "Suppressed", align: "right", width: 80, render: (row) => count(row.suppressed) },
    { key: "duration", header: "Seconds", align: "right", width: 70,
      render: (row) => (typeof row.duration_s === "number" ? row.duration_s.toFixed(1) : "—") },
    {
      key: "error",
      header: "Error",
      render: (row) =>
        row.error ? (
          <Text size="xs" c="red.9" fw={600} lineClamp={2} title={row.error}>
            {row.error}
          </Text>
        ) : (
          "—"
        ),
    },
  ];
  return (
    <Stack gap="sm">
      {query.error && <ProblemAlert error={query.error} />}
      {runs && runs.length > 0 && (
        <Group gap="xl" aria-label="Run statistics" role="group">
          <Figure label="Runs kept" value={count(stats.runs)} />
          <Figure label="Succeeded" value={count(stats.ok)} />
          <Figure label="Failed" value={count(stats.failed)} />
          <Figure label="Uploads" value={count(stats.uploads)} />
          <Figure label="Rows parsed" value={count(stats.parsed)} />
          <Figure label="Stored" value={count(stats.stored)} />
          <Figure label="Rejected" value={count(stats.rejected)} />
          <Figure label="Mean duration" value={stats.meanSeconds === null ? "—" : `${stats.meanSeconds.toFixed(1)} s`} />
          <Figure label="Last success" value={formatTime(stats.lastOk)} />
        </Group>
      )}
      <DataTable caption="Run history, newest first" columns={columns} rows={runs} rowKey={(row) => row.run_id}
        loading={query.isPending} activeKey={url.run} onRowOpen={(row) => set({ run: row.run_id })}
        empty="No runs yet. Run the feed now, wait for its schedule, or upload a saved copy of the feed." />
      {chosen && <RunDetails run={chosen} />}
    </Stack>
  );
}
