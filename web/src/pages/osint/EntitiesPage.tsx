// Entities found by the collections, riskiest first. Type, risk, tag, name and sort live in the URL.
import { Anchor, Badge, Button, Group, Select, Stack, TextInput } from "@mantine/core";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { Link, useNavigate } from "react-router-dom";

import { api, unwrap, type Schemas } from "../../api/client";
import { useDebouncedQuery, useUrlState } from "../../app/urlState";
import { DataTable, type Column } from "../../components/DataTable";
import { formatScore, SeverityBadge, Time, Value } from "../../components/format";
import { PageHeader } from "../../components/PageHeader";
import { Pager } from "../../components/Pager";
import { ProblemAlert } from "../../components/ProblemAlert";
import { ENTITY_TYPES } from "./graphData";
import { label } from "./format";

type Entity = Schemas["EntityRead"];
type EntityType = Schemas["EntityType"];
type Sort = Schemas["EntitySort"];

export const RISK_FILTERS = [
  { value: "26", label: "Medium or higher (26+)" },
  { value: "51", label: "High or higher (51+)" },
  { value: "76", label: "Critical (76+)" },
];

export function entityHref(id: string): string {
  return `/osint/entities/${encodeURIComponent(id)}`;
}

const COLUMNS: Column<Entity>[] = [
  {
    key: "name",
    header: "Name",
    sort: "name",
    render: (row) => (
      <Anchor component={Link} to={entityHref(row.id)} size="sm">
        <Value text={row.name} max={70} />
      </Anchor>
    ),
  },
  { key: "type", header: "Type", render: (row) => label(row.entity_type), width: 140 },
  { key: "risk", header: "Risk", sort: "risk", align: "right", width: 70, render: (row) => formatScore(row.risk_score) },
  { key: "level", header: "Level", width: 90, render: (row) => <SeverityBadge value={row.risk_level} /> },
  { key: "confidence", header: "Confidence", align: "right", width: 100,
    render: (row) => (row.confidence === null ? "—" : `${Math.round(row.confidence * 100)}%`) },
  {
    key: "tags",
    header: "Tags",
    render: (row) => (
      <Group gap={4}>
        {(row.tags ?? []).slice(0, 4).map((tag) => (
          <Badge key={tag} size="xs" variant="light" color="gray">{tag}</Badge>
        ))}
      </Group>
    ),
  },
  { key: "first", header: "First seen", sort: "first_seen", width: 150, render: (row) => <Time value={row.first_seen} /> },
  { key: "last", header: "Last seen", sort: "last_seen", width: 150, render: (row) => <Time value={row.last_seen} /> },
];

export default function EntitiesPage() {
  const navigate = useNavigate();
  const [url, set] = useUrlState<"q" | "type" | "risk" | "tag" | "sort">({ sort: "-risk" });
  const [text, setText] = useState(url.q ?? "");
  const pushQuery = useDebouncedQuery(set);
  const query = useQuery({
    queryKey: ["entities", "list", url.q, url.type, url.risk, url.tag, url.sort, url.cursor],
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/entities", {
          params: {
            query: {
              q: url.q || undefined,
              type: (url.type as EntityType) || undefined,
              min_risk: url.risk ? Number(url.risk) : undefined,
              tag: url.tag || undefined,
              sort: (url.sort as Sort) || "-risk",
              cursor: url.cursor || undefined,
              limit: 50,
            },
          },
        }),
      ),
    placeholderData: keepPreviousData,
  });
  const rows = query.data?.items;
  const filtered = !!(url.q || url.type || url.risk || url.tag);
  return (
    <Stack gap="sm">
      <PageHeader title="Entities" help="People, organisations, domains, addresses and more, found in collected items and scored for risk." />
      <Group gap="xs" align="flex-end" wrap="wrap">
        <TextInput label="Name starts with" placeholder="acme, 203.0.113., ops@" w={260} value={text}
          onChange={(event) => {
            setText(event.currentTarget.value);
            pushQuery(event.currentTarget.value);
          }} />
        <Select label="Type" placeholder="Any" clearable searchable w={190} value={url.type ?? null}
          data={ENTITY_TYPES.map((type) => ({ value: type, label: label(type) }))}
          onChange={(value) => set({ type: value ?? undefined })} />
        <Select label="Risk" placeholder="Any" clearable w={210} data={RISK_FILTERS} value={url.risk ?? null}
          onChange={(value) => set({ risk: value ?? undefined })} />
        <TextInput label="Tag" placeholder="Exact tag" w={140} defaultValue={url.tag ?? ""}
          onBlur={(event) => set({ tag: event.currentTarget.value.trim() || undefined })}
          onKeyDown={(event) => {
            if (event.key === "Enter") set({ tag: event.currentTarget.value.trim() || undefined });
          }} />
        {filtered && (
          <Button variant="subtle" onClick={() => {
            setText("");
            set({ q: undefined, type: undefined, risk: undefined, tag: undefined });
          }}>
            Clear filters
          </Button>
        )}
      </Group>
      {query.error && <ProblemAlert error={query.error} />}
      <DataTable caption="Entities" columns={COLUMNS} rows={rows} rowKey={(row) => row.id}
        loading={query.isPending} sort={url.sort} onSort={(sort) => set({ sort })}
        onRowOpen={(row) => navigate(entityHref(row.id))}
        empty={filtered
          ? "No entity matches these filters."
          : "No entities yet. Run a collection or upload a document to one (OSINT → Collections)."} />
      <Pager nextCursor={query.data?.next_cursor} total={query.data?.total} shown={rows?.length ?? 0} />
    </Stack>
  );
}
