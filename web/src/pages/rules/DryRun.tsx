// The dry run: what the rule would have fired over a past period, replayed on the server.
// Nothing is written and no alert is raised; the firings show in a table.
import { Alert, Anchor, Button, Group, NumberInput, Paper, Stack, Text, TextInput, Title } from "@mantine/core";
import { useMutation } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { Link } from "react-router-dom";

import type { Schemas } from "../../api/client";
import { DataTable, type Column } from "../../components/DataTable";
import { formatTime, SeverityBadge, Time, Value } from "../../components/format";
import { ProblemAlert } from "../../components/ProblemAlert";
import { plural } from "../catalog/text";

export type DryRunResult = Schemas["DryRunRead"];
type Sample = Schemas["SampleFiringRead"] & { index: number };
type KeyCount = Schemas["KeyCountRead"];

export interface DryRunParams {
  since: string;
  until?: string;
  limit: number;
  samples: number;
}

const SAMPLE_COLUMNS: Column<Sample>[] = [
  { key: "at", header: "Observed", width: 150, render: (row) => <Time value={row.observed_at} /> },
  { key: "title", header: "Alert title", render: (row) => <Value text={row.title} max={70} /> },
  { key: "severity", header: "Severity", width: 90, render: (row) => <SeverityBadge value={row.severity} /> },
  { key: "origin", header: "Origin", width: 80, render: (row) => row.origin },
  {
    key: "value",
    header: "Value",
    render: (row) =>
      row.indicator_id ? (
        <Anchor component={Link} to={`/indicators/${encodeURIComponent(row.indicator_id)}`} size="sm">
          <Value text={row.indicator_value ?? row.value} max={50} />
        </Anchor>
      ) : (
        <Value text={row.value} max={50} />
      ),
  },
  { key: "key", header: "Key", render: (row) => <Value text={row.key} max={40} /> },
];

const KEY_COLUMNS: Column<KeyCount>[] = [
  { key: "key", header: "Key", render: (row) => <Value text={row.key} /> },
  { key: "count", header: "Firings", align: "right", width: 100, render: (row) => row.count.toLocaleString() },
];

/** The dry run's outcome in one sentence. */
export function summarise(result: DryRunResult): string {
  const fired =
    result.firings === 0
      ? "Would not have fired"
      : `Would have fired ${plural(result.firings, "time")} for ${plural(result.distinct_keys, "key")}`;
  return `${fired}: ${result.events_scanned.toLocaleString()} of ${plural(result.events_total, "event")} replayed ` +
    `(${result.sightings_scanned.toLocaleString()} sightings, ${result.ingests_scanned.toLocaleString()} ingested) ` +
    `from ${formatTime(result.since)} to ${formatTime(result.until)}.`;
}

export function DryRun({
  run,
  since,
  until,
  onPeriod,
  disabledReason,
  saved,
}: {
  run: (params: DryRunParams) => Promise<DryRunResult>;
  since: string;
  until?: string;
  onPeriod: (since: string, until?: string) => void;
  disabledReason?: string | null;
  saved: boolean;
}) {
  const [sinceText, setSince] = useState(since);
  const [untilText, setUntil] = useState(until ?? "");
  const [limit, setLimit] = useState<number | string>(100_000);
  const [samples, setSamples] = useState<number | string>(20);
  const dryRun = useMutation({ mutationFn: run });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const period = sinceText.trim() || "7d";
    onPeriod(period, untilText.trim() || undefined);
    dryRun.mutate({
      since: period,
      until: untilText.trim() || undefined,
      limit: typeof limit === "number" ? limit : 100_000,
      samples: typeof samples === "number" ? samples : 20,
    });
  };
  const result = dryRun.data;
  return (
    <Paper withBorder p="sm" radius="sm">
      <Stack gap="xs">
        <Title order={2} size="h4">
          Dry run
        </Title>
        <Text size="sm" c="dimmed">
          Replays the period’s sightings and ingested records through the rule {saved ? "as saved" : "as it stands in the form (unsaved)"}.
          Nothing is written and no alert is raised.
        </Text>
        <form onSubmit={submit} aria-label="Dry run">
          <Group gap="xs" align="flex-end" wrap="wrap">
            <TextInput label="Since" description="30m, 12h, 7d or an ISO time" w={170} value={sinceText}
              onChange={(event) => setSince(event.currentTarget.value)} />
            <TextInput label="Until" description="Empty: now" w={170} value={untilText}
              onChange={(event) => setUntil(event.currentTarget.value)} />
            <NumberInput label="Events read at most" description="The earliest first" w={170} min={1} max={1_000_000}
              step={10_000} thousandSeparator="," value={limit} onChange={setLimit} />
            <NumberInput label="Firings shown" description="Up to 100" w={130} min={0} max={100} value={samples} onChange={setSamples} />
            <Button type="submit" loading={dryRun.isPending} disabled={!!disabledReason}>
              Run dry run
            </Button>
          </Group>
        </form>
        {disabledReason && (
          <Text size="sm" c="dimmed">
            {disabledReason}
          </Text>
        )}
        {dryRun.error ? <ProblemAlert error={dryRun.error} title="The dry run failed" /> : null}
        {result && (
          <Stack gap="xs" data-testid="dry-run-result">
            <Text size="sm" fw={600} role="status">
              {summarise(result)}
            </Text>
            {result.capped && (
              <Alert color="yellow" variant="light" title="Not every event was read">
                The period held more events than the limit; the replay stopped at {formatTime(result.scanned_until)}. Raise the
                limit or shorten the period to see the rest.
              </Alert>
            )}
            <Title order={3} size="h5">
              First firings
            </Title>
            <DataTable caption="Firings the rule would have raised" columns={SAMPLE_COLUMNS}
              rows={result.samples.map((sample, index) => ({ ...sample, index }))} rowKey={(row) => String(row.index)}
              empty="The rule would not have fired in this period." />
            {result.keys.length > 0 && (
              <>
                <Title order={3} size="h5">
                  Keys that fired most
                </Title>
                <DataTable caption="Keys that fired most" columns={KEY_COLUMNS} rows={result.keys} rowKey={(row) => row.key} />
              </>
            )}
          </Stack>
        )}
      </Stack>
    </Paper>
  );
}
