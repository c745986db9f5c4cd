// Threat actors: search by name or alias, filter by sophistication, sort and page in the URL.
import { Anchor, Button, Group, Select, Stack, Text } from "@mantine/core";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { Link, useNavigate } from "react-router-dom";

import { api, unwrap, type Schemas } from "../../api/client";
import { Can } from "../../app/auth";
import { useUrlState } from "../../app/urlState";
import { DataTable, type Column } from "../../components/DataTable";
import { Time } from "../../components/format";
import { PageHeader } from "../../components/PageHeader";
import { Pager } from "../../components/Pager";
import { ProblemAlert } from "../../components/ProblemAlert";
import { ActorForm, SOPHISTICATION } from "./ActorForm";
import { Notice, SearchField, useNotice } from "./common";

type ActorRow = Schemas["ActorRead"];

/** The first few aliases and how many more. */
export function aliasSummary(aliases: readonly string[], name: string, shown = 3): string {
  const others = aliases.filter((alias) => alias.toLowerCase() !== name.toLowerCase());
  if (others.length === 0) return "—";
  const head = others.slice(0, shown).join(", ");
  return others.length > shown ? `${head} +${others.length - shown}` : head;
}

const COLUMNS: Column<ActorRow>[] = [
  {
    key: "name",
    header: "Name",
    sort: "name",
    render: (row) => (
      <Anchor component={Link} to={`/actors/${encodeURIComponent(row.id)}`} size="sm">
        {row.actor_name}
      </Anchor>
    ),
  },
  {
    key: "aliases",
    header: "Aliases",
    render: (row) => (
      <Text size="sm" title={row.aliases.join(", ")}>
        {aliasSummary(row.aliases, row.actor_name)}
      </Text>
    ),
  },
  { key: "attack", header: "ATT&CK", width: 90, render: (row) => row.attack_id ?? "—" },
  { key: "sophistication", header: "Sophistication", width: 120, render: (row) => row.sophistication ?? "—" },
  { key: "indicators", header: "Indicators", align: "right", width: 100, render: (row) => row.indicator_count.toLocaleString() },
  { key: "last", header: "Last observed", width: 150, render: (row) => <Time value={row.last_observed} /> },
  { key: "updated", header: "Updated", sort: "updated", width: 150, render: (row) => <Time value={row.updated_at} /> },
];

export default function ActorsPage() {
  const [url, set] = useUrlState<"q" | "sophistication" | "sort">({ sort: "name" });
  const [creating, setCreating] = useState(false);
  const [notice] = useNotice();
  const navigate = useNavigate();
  const query = useQuery({
    queryKey: ["actors", "list", url.q, url.sophistication, url.sort, url.cursor],
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/threat-actors", {
          params: {
            query: {
              q: url.q || undefined,
              sophistication: (url.sophistication as Schemas["Sophistication"]) || undefined,
              sort: (url.sort as Schemas["ListSort"]) || "name",
              cursor: url.cursor || undefined,
              limit: 50,
            },
          },
        }),
      ),
    placeholderData: keepPreviousData,
  });
  const rows = query.data?.items;
  const filtered = !!(url.q || url.sophistication);
  return (
    <Stack gap="sm">
      <PageHeader
        title="Threat actors"
        help="Groups behind attacks: from the ATT&CK import and your own, with their tools, techniques and linked indicators."
        actions={
          <Can permission="write_intel">
            <Button onClick={() => setCreating(true)}>New actor</Button>
          </Can>
        }
      />
      <Notice text={notice} />
      <Group gap="xs" align="flex-end" wrap="wrap">
        <SearchField label="Name or alias" placeholder="APT29, Cozy Bear" value={url.q} onSearch={(q) => set({ q }, true)} />
        <Select label="Sophistication" placeholder="Any" clearable w={150} data={SOPHISTICATION} value={url.sophistication ?? null}
          onChange={(value) => set({ sophistication: value ?? undefined })} />
        {filtered && (
          <Button variant="subtle" onClick={() => set({ q: undefined, sophistication: undefined })}>
            Clear filters
          </Button>
        )}
      </Group>
      {query.error ? <ProblemAlert error={query.error} /> : null}
      <DataTable caption="Threat actors" columns={COLUMNS} rows={rows} rowKey={(row) => row.id} loading={query.isPending}
        sort={url.sort} onSort={(sort) => set({ sort })} onRowOpen={(row) => navigate(`/actors/${encodeURIComponent(row.id)}`)}
        empty={filtered ? "No actor matches this search." : "No threat actors yet. Import ATT&CK (krsn attack import) or add one with “New actor”."} />
      <Pager nextCursor={query.data?.next_cursor} total={query.data?.total} shown={rows?.length ?? 0} />
      <ActorForm opened={creating} onClose={() => setCreating(false)}
        onSaved={(saved) => navigate(`/actors/${encodeURIComponent(saved.id)}`, { state: { notice: `Added ${saved.actor_name}.` } })} />
    </Stack>
  );
}
