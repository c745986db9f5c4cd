// The indicator page's tabs: what each source said, sightings, alerts, correlations,
// enrichments and ATT&CK techniques. Each loads when its tab opens; lists page on the server.
import { Anchor, Badge, Code, Stack, Table, Text } from "@mantine/core";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { Link } from "react-router-dom";

import { api, unwrap, type Schemas } from "../../api/client";
import { usePaging } from "../../app/urlState";
import { DataTable, type Column } from "../../components/DataTable";
import { formatScore, SeverityBadge, StatusBadge, Time, Value } from "../../components/format";
import { Pager } from "../../components/Pager";
import { ProblemAlert } from "../../components/ProblemAlert";
import { jsonPreview, scoreFactors, techniquesOf, type TechniqueRow } from "./IndicatorLogic";

type Indicator = Schemas["IndicatorRead"];
type Intelligence = Schemas["IntelligenceRead"];

/** A stored JSON document, folded: a one-line preview, the whole of it on demand. */
function JsonDetails({ value, label }: { value: unknown; label: string }) {
  if (value === null || value === undefined) return <>—</>;
  return (
    <details>
      <summary>
        <span className="visually-hidden">{label}: </span>
        <span className="mono">{jsonPreview(value, 80)}</span>
      </summary>
      <Code block>{JSON.stringify(value, null, 2)}</Code>
    </details>
  );
}

export function ScorePanel({ indicator }: { indicator: Indicator }) {
  const { model, rows } = scoreFactors(indicator);
  if (rows.length === 0) {
    return <Text size="sm" c="dimmed">No score explanation is stored for this indicator; the next feed run that reports it adds one.</Text>;
  }
  return (
    <Stack gap={4}>
      <Table fz="sm" striped withTableBorder verticalSpacing={4}>
        <Table.Caption>Why it scores {formatScore(indicator.threat_score)}{model ? ` (scoring model ${model})` : ""}</Table.Caption>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Factor</Table.Th>
            <Table.Th ta="right">Value</Table.Th>
            <Table.Th>How it counts</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {rows.map((row) => (
            <Table.Tr key={row.factor}>
              <Table.Td>{row.factor}</Table.Td>
              <Table.Td ta="right" className="mono">{row.value}</Table.Td>
              <Table.Td c="dimmed">{row.how}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Stack>
  );
}

const SOURCE_COLUMNS: Column<Intelligence>[] = [
  { key: "source", header: "Source", render: (row) => row.source ?? "—" },
  { key: "status", header: "Status", render: (row) => <StatusBadge value={row.status} />, width: 120 },
  { key: "confidence", header: "Confidence", render: (row) => formatScore(row.source_confidence), align: "right", width: 100 },
  { key: "ingested", header: "Ingested", render: (row) => <Time value={row.ingested_at} />, width: 150 },
  { key: "processed", header: "As stored", render: (row) => <JsonDetails value={row.processed_data} label="Stored record" /> },
  { key: "raw", header: "As received", render: (row) => <JsonDetails value={row.raw_data} label="Record as received" /> },
];

export function SourcesPanel({ records }: { records: Intelligence[] }) {
  return (
    <DataTable caption="Intelligence records, one per source report" columns={SOURCE_COLUMNS} rows={records}
      rowKey={(row) => row.id} empty="No source reports this indicator any more." />
  );
}

const SIGHTING_COLUMNS: Column<Schemas["SightingRead"]>[] = [
  { key: "observed", header: "Observed", render: (row) => <Time value={row.observed_at} />, width: 150 },
  { key: "value", header: "Value seen", render: (row) => <Value text={row.value} /> },
  { key: "matched", header: "Matched", render: (row) => <Value text={row.matched} /> },
  { key: "host", header: "Host", render: (row) => <Value text={row.host} max={40} /> },
  { key: "sensor", header: "Sensor", render: (row) => <Value text={row.sensor} max={40} /> },
  { key: "log", header: "Log source", render: (row) => <Value text={row.log_source} max={40} /> },
  { key: "context", header: "Context", render: (row) => <JsonDetails value={row.context} label="Sighting context" /> },
];

export function SightingsPanel({ id }: { id: string }) {
  const paging = usePaging();
  const query = useQuery({
    queryKey: ["sightings", "indicator", id, paging.cursor],
    queryFn: () =>
      unwrap(api.GET("/api/v1/sightings", { params: { query: { indicator_id: id, cursor: paging.cursor || undefined, limit: 25 } } })),
    placeholderData: keepPreviousData,
  });
  return (
    <Stack gap="xs">
      {query.error && <ProblemAlert error={query.error} />}
      <DataTable caption="Sightings of this indicator" columns={SIGHTING_COLUMNS} rows={query.data?.items}
        rowKey={(row) => row.id} loading={query.isPending}
        empty="Not seen in your environment yet. Sensors report sightings to the sightings API." />
      <Pager nextCursor={query.data?.next_cursor} total={query.data?.total} shown={query.data?.items.length ?? 0} />
    </Stack>
  );
}

const ALERT_COLUMNS: Column<Schemas["AlertRead"]>[] = [
  { key: "triggered", header: "Triggered", render: (row) => <Time value={row.triggered_at} />, width: 150 },
  { key: "title", header: "Title", render: (row) => <Value text={row.title} max={100} /> },
  { key: "severity", header: "Severity", render: (row) => <SeverityBadge value={row.severity} />, width: 90 },
  { key: "status", header: "Status", render: (row) => <StatusBadge value={row.status} />, width: 120 },
  { key: "count", header: "Seen", render: (row) => row.occurrence_count.toLocaleString(), align: "right", width: 70 },
  { key: "rule", header: "Rule", render: (row) => <Value text={row.rule_name} max={40} /> },
  { key: "assigned", header: "Assigned", render: (row) => row.assigned_username ?? "—", width: 110 },
];

export function AlertsPanel({ id }: { id: string }) {
  const paging = usePaging();
  const query = useQuery({
    queryKey: ["alerts", "indicator", id, paging.cursor],
    queryFn: () =>
      unwrap(api.GET("/api/v1/alerts", { params: { query: { indicator_id: id, cursor: paging.cursor || undefined, limit: 25 } } })),
    placeholderData: keepPreviousData,
  });
  return (
    <Stack gap="xs">
      {query.error && <ProblemAlert error={query.error} />}
      <DataTable caption="Alerts on this indicator" columns={ALERT_COLUMNS} rows={query.data?.items} rowKey={(row) => row.id}
        loading={query.isPending} empty="No alert has fired on this indicator." />
      <Pager nextCursor={query.data?.next_cursor} total={query.data?.total} shown={query.data?.items.length ?? 0} />
    </Stack>
  );
}

export function CorrelationsPanel({ id }: { id: string }) {
  const paging = usePaging();
  const query = useQuery({
    queryKey: ["correlations", "indicator", id, paging.cursor],
    queryFn: () =>
      unwrap(api.GET("/api/v1/correlations", { params: { query: { indicator: id, cursor: paging.cursor || undefined, limit: 25 } } })),
    placeholderData: keepPreviousData,
  });
  const columns: Column<Schemas["CorrelationRead"]>[] = [
    {
      key: "other", header: "Correlated indicator",
      render: (row) => {
        const other = row.primary_indicator.id === id ? row.related_indicator : row.primary_indicator;
        return (
          <Anchor component={Link} to={`/indicators/${encodeURIComponent(other.id)}`} size="sm">
            <Value text={other.value} />
          </Anchor>
        );
      },
    },
    { key: "otherType", header: "Its type", render: (row) => (row.primary_indicator.id === id ? row.related_indicator : row.primary_indicator).type, width: 90 },
    { key: "type", header: "Correlation", render: (row) => row.correlation_type.replace(/_/g, " "), width: 120 },
    { key: "score", header: "Score", render: (row) => formatScore(row.correlation_score), align: "right", width: 70 },
    {
      key: "verified", header: "Verified", width: 90,
      render: (row) => (row.is_verified ? <Badge size="sm" variant="outline" color="teal" autoContrast>verified</Badge> : "—"),
    },
    { key: "found", header: "Found", render: (row) => <Time value={row.discovered_at} />, width: 150 },
    { key: "evidence", header: "Evidence", render: (row) => <JsonDetails value={row.correlation_data} label="Correlation evidence" /> },
  ];
  return (
    <Stack gap="xs">
      {query.error && <ProblemAlert error={query.error} />}
      <DataTable caption="Correlations with other indicators" columns={columns} rows={query.data?.items} rowKey={(row) => row.id}
        loading={query.isPending} empty="No correlation found yet. Correlation rules and discovery runs add them." />
      <Pager nextCursor={query.data?.next_cursor} total={query.data?.total} shown={query.data?.items.length ?? 0} />
    </Stack>
  );
}

const ENRICHMENT_COLUMNS: Column<Schemas["EnrichmentRead"]>[] = [
  { key: "type", header: "Type", render: (row) => row.enrichment_type.replace(/_/g, " "), width: 130 },
  { key: "enricher", header: "Enricher", render: (row) => <Value text={row.enricher} max={40} /> },
  { key: "confidence", header: "Confidence", render: (row) => formatScore(row.confidence), align: "right", width: 100 },
  { key: "when", header: "Enriched", render: (row) => <Time value={row.enriched_at} />, width: 150 },
  { key: "expires", header: "Expires", render: (row) => <Time value={row.expires_at} />, width: 150 },
  { key: "data", header: "Data", render: (row) => <JsonDetails value={row.data} label="Enrichment data" /> },
];

export function EnrichmentsPanel({ id }: { id: string }) {
  const paging = usePaging();
  const query = useQuery({
    queryKey: ["enrichments", "indicator", id, paging.cursor],
    queryFn: () =>
      unwrap(api.GET("/api/v1/enrichments", {
        params: { query: { indicator_id: id, include_expired: true, cursor: paging.cursor || undefined, limit: 25 } },
      })),
    placeholderData: keepPreviousData,
  });
  return (
    <Stack gap="xs">
      {query.error && <ProblemAlert error={query.error} />}
      <DataTable caption="Enrichments of this indicator" columns={ENRICHMENT_COLUMNS} rows={query.data?.items}
        rowKey={(row) => row.id} loading={query.isPending}
        empty="No enrichment yet. Enrichers (geolocation, WHOIS, reputation) attach theirs through the enrichments API." />
      <Pager nextCursor={query.data?.next_cursor} total={query.data?.total} shown={query.data?.items.length ?? 0} />
    </Stack>
  );
}

const TECHNIQUE_COLUMNS: Column<TechniqueRow>[] = [
  { key: "id", header: "Technique", render: (row) => <span className="mono">{row.id}</span>, width: 110 },
  { key: "name", header: "Name", render: (row) => row.name },
  { key: "tactic", header: "Tactic", render: (row) => row.tactic?.replace(/-/g, " ") ?? "—" },
  { key: "confidence", header: "Confidence", render: (row) => formatScore(row.confidence), align: "right", width: 100 },
];

export function TechniquesPanel({ id }: { id: string }) {
  const centre = `indicator:${id}`;
  const query = useQuery({
    queryKey: ["graph", "techniques", id],
    queryFn: () =>
      unwrap(api.GET("/api/v1/graph/neighbours", { params: { query: { node: centre, depth: 1, kind: ["technique"], max_nodes: 500 } } })),
  });
  const rows = query.data ? techniquesOf(query.data, centre) : undefined;
  return (
    <Stack gap="xs">
      {query.error && <ProblemAlert error={query.error} />}
      <DataTable caption="ATT&CK techniques this indicator is mapped to" columns={TECHNIQUE_COLUMNS} rows={rows}
        rowKey={(row) => row.id} loading={query.isPending}
        empty="Not mapped to any technique. Map it with the technique box above, or from a technique's page." />
    </Stack>
  );
}
