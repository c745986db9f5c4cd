// Indicators: every filter, the sort and the page live in the URL; the server filters and pages,
// so the table stays fast over a million rows.
import { Anchor, Button, Group, Select, Stack, TextInput } from "@mantine/core";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { Link } from "react-router-dom";

import { api, unwrap, type Schemas } from "../../api/client";
import { Can, useAuth } from "../../app/auth";
import { useDebouncedQuery, useUrlState } from "../../app/urlState";
import { DataTable, type Column } from "../../components/DataTable";
import { formatScore, SeverityBadge, Time, Value } from "../../components/format";
import { PageHeader } from "../../components/PageHeader";
import { Pager } from "../../components/Pager";
import { ProblemAlert } from "../../components/ProblemAlert";
import { BulkActions } from "./BulkActions";

type Indicator = Schemas["IndicatorRead"];
type Sort = Schemas["IndicatorSort"];
type Kind = Schemas["IndicatorType"];
type Severity = Schemas["Severity"];

const TYPES: Kind[] = ["ip", "domain", "url", "hash", "email"];
const SEVERITIES: Severity[] = ["critical", "high", "medium", "low"];

export const INDICATOR_COLUMNS: Column<Indicator>[] = [
  {
    key: "value",
    header: "Value",
    render: (row) => (
      <Anchor component={Link} to={`/indicators/${encodeURIComponent(row.id)}`} size="sm">
        <Value text={row.indicator_value} />
      </Anchor>
    ),
  },
  { key: "type", header: "Type", render: (row) => row.indicator_type, width: 80 },
  { key: "severity", header: "Severity", render: (row) => <SeverityBadge value={row.severity} />, width: 90 },
  { key: "score", header: "Score", sort: "threat_score", align: "right", width: 80,
    render: (row) => formatScore(row.decayed_threat_score ?? row.threat_score) },
  { key: "confidence", header: "Confidence", sort: "confidence", align: "right", width: 100,
    render: (row) => formatScore(row.confidence_score) },
  { key: "tlp", header: "TLP", render: (row) => row.tlp ?? "—", width: 90 },
  { key: "first", header: "First seen", sort: "first_seen", render: (row) => <Time value={row.first_seen_at} />, width: 150 },
  { key: "last", header: "Last seen", sort: "last_seen", render: (row) => <Time value={row.last_seen_at} />, width: 150 },
];

export default function IndicatorsPage() {
  const [url, set] = useUrlState<"q" | "type" | "severity" | "source" | "tag" | "active" | "sort">({ sort: "-updated" });
  const [text, setText] = useState(url.q ?? "");
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const canWrite = useAuth().can("write_intel");
  const pushQuery = useDebouncedQuery(set);
  const query = useQuery({
    queryKey: ["indicators", "list", url],
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/indicators", {
          params: {
            query: {
              q: url.q || undefined,
              type: (url.type as Kind) || undefined,
              severity: (url.severity as Severity) || undefined,
              source: url.source || undefined,
              tag: url.tag ? [url.tag] : undefined,
              is_active: url.active === undefined ? undefined : url.active === "true",
              sort: (url.sort as Sort) || "-updated",
              cursor: url.cursor || undefined,
              limit: 50,
            },
          },
        }),
      ),
    placeholderData: keepPreviousData,
  });
  const rows = query.data?.items;
  return (
    <Stack gap="sm">
      <PageHeader title="Indicators"
        help="One deduplicated, scored set from every feed. Type to filter by the start of a value; full-text search finds a word anywhere in a value (any label of a domain, a part of a URL)." />
      <Group gap="xs" align="flex-end" wrap="wrap">
        <TextInput label="Value starts with" placeholder="evil.example, 203.0.113., hxxp://…" w={280} value={text}
          onChange={(event) => {
            setText(event.currentTarget.value);
            pushQuery(event.currentTarget.value);
          }} />
        <Select label="Type" placeholder="Any" clearable w={120} data={TYPES} value={url.type ?? null}
          onChange={(value) => set({ type: value ?? undefined })} />
        <Select label="Severity" placeholder="Any" clearable w={130} data={SEVERITIES} value={url.severity ?? null}
          onChange={(value) => set({ severity: value ?? undefined })} />
        <TextInput label="Source" placeholder="Name or id" w={160} defaultValue={url.source ?? ""}
          onBlur={(event) => set({ source: event.currentTarget.value.trim() || undefined })}
          onKeyDown={(event) => {
            if (event.key === "Enter") set({ source: event.currentTarget.value.trim() || undefined });
          }} />
        <TextInput label="Tag" placeholder="Exact tag" w={140} defaultValue={url.tag ?? ""}
          onBlur={(event) => set({ tag: event.currentTarget.value.trim() || undefined })}
          onKeyDown={(event) => {
            if (event.key === "Enter") set({ tag: event.currentTarget.value.trim() || undefined });
          }} />
        <Select label="Active" placeholder="Any" clearable w={110} data={[{ value: "true", label: "Active" }, { value: "false", label: "Inactive" }]}
          value={url.active ?? null} onChange={(value) => set({ active: value ?? undefined })} />
        <Anchor component={Link} size="sm" pb={8}
          to={`/search?index=indicators${text.trim() ? `&q=${encodeURIComponent(text.trim())}` : ""}`}>
          Full-text search
        </Anchor>
        <Button variant="subtle" size="sm" onClick={() => {
          setText("");
          set({ q: undefined, type: undefined, severity: undefined, source: undefined, tag: undefined, active: undefined });
        }}>
          Clear filters
        </Button>
      </Group>
      <Can permission="write_intel">
        <BulkActions items={(rows ?? []).filter((row) => selected.has(row.id))} onDone={() => setSelected(new Set())} />
      </Can>
      {query.error && <ProblemAlert error={query.error} />}
      <DataTable caption="Indicators" columns={INDICATOR_COLUMNS} rows={rows} rowKey={(row) => row.id}
        loading={query.isPending} sort={url.sort} onSort={(sort) => set({ sort })}
        selected={canWrite ? selected : undefined} onSelect={canWrite ? setSelected : undefined}
        empty={url.q || url.type || url.severity || url.source || url.tag
          ? "No indicator matches these filters."
          : "No indicators yet. Add a feed (Feeds → Templates) or upload a saved feed file."} />
      <Pager nextCursor={query.data?.next_cursor} total={query.data?.total} shown={rows?.length ?? 0} />
    </Stack>
  );
}
