// Threat campaigns: search, status and attributed actor filters, sort and page in the URL.
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
import { CAMPAIGN_STATUSES, CampaignForm, CampaignStatusBadge, type Campaign } from "./CampaignForm";
import { Notice, SearchField, useNotice } from "./common";

const COLUMNS: Column<Campaign>[] = [
  {
    key: "name",
    header: "Name",
    sort: "name",
    render: (row) => (
      <Anchor component={Link} to={`/campaigns/${encodeURIComponent(row.id)}`} size="sm">
        {row.campaign_name}
      </Anchor>
    ),
  },
  { key: "status", header: "Status", width: 100, render: (row) => <CampaignStatusBadge value={row.status} /> },
  {
    key: "actors",
    header: "Attributed to",
    render: (row) => (
      <Text size="sm">{row.attributed_actors.length ? row.attributed_actors.map((actor) => actor.name).join(", ") : "—"}</Text>
    ),
  },
  { key: "techniques", header: "Techniques", align: "right", width: 100, render: (row) => row.techniques.length.toLocaleString() },
  { key: "indicators", header: "Indicators", align: "right", width: 100, render: (row) => row.indicator_count.toLocaleString() },
  { key: "first", header: "First observed", width: 150, render: (row) => <Time value={row.first_observed} /> },
  { key: "last", header: "Last observed", width: 150, render: (row) => <Time value={row.last_observed} /> },
];

export default function CampaignsPage() {
  const [url, set] = useUrlState<"q" | "status" | "actor" | "sort">({ sort: "name" });
  const [creating, setCreating] = useState(false);
  const [notice] = useNotice();
  const navigate = useNavigate();
  const query = useQuery({
    queryKey: ["campaigns", "list", url.q, url.status, url.actor, url.sort, url.cursor],
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/threat-campaigns", {
          params: {
            query: {
              q: url.q || undefined,
              status: (url.status as Schemas["CampaignStatus"]) || undefined,
              actor_id: url.actor || undefined,
              sort: (url.sort as Schemas["ListSort"]) || "name",
              cursor: url.cursor || undefined,
              limit: 50,
            },
          },
        }),
      ),
    placeholderData: keepPreviousData,
  });
  const actors = useQuery({
    queryKey: ["actors", "choices"],
    queryFn: () => unwrap(api.GET("/api/v1/threat-actors", { params: { query: { limit: 500, sort: "name" } } })),
    staleTime: 60_000,
  });
  const rows = query.data?.items;
  const filtered = !!(url.q || url.status || url.actor);
  return (
    <Stack gap="sm">
      <PageHeader
        title="Campaigns"
        help="Operations over a period, attributed to actors, with the techniques used and the indicators seen."
        actions={
          <Can permission="write_intel">
            <Button onClick={() => setCreating(true)}>New campaign</Button>
          </Can>
        }
      />
      <Notice text={notice} />
      <Group gap="xs" align="flex-end" wrap="wrap">
        <SearchField label="Name contains" value={url.q} onSearch={(q) => set({ q }, true)} />
        <Select label="Status" placeholder="Any" clearable w={140} data={CAMPAIGN_STATUSES} value={url.status ?? null}
          onChange={(value) => set({ status: value ?? undefined })} />
        <Select label="Attributed to" placeholder="Any actor" clearable searchable w={220}
          data={(actors.data?.items ?? []).map((actor) => ({ value: actor.id, label: actor.actor_name }))}
          value={url.actor ?? null} onChange={(value) => set({ actor: value ?? undefined })} />
        {filtered && (
          <Button variant="subtle" onClick={() => set({ q: undefined, status: undefined, actor: undefined })}>
            Clear filters
          </Button>
        )}
      </Group>
      {query.error ? <ProblemAlert error={query.error} /> : null}
      <DataTable caption="Campaigns" columns={COLUMNS} rows={rows} rowKey={(row) => row.id} loading={query.isPending}
        sort={url.sort} onSort={(sort) => set({ sort })} onRowOpen={(row) => navigate(`/campaigns/${encodeURIComponent(row.id)}`)}
        empty={filtered ? "No campaign matches these filters." : "No campaigns yet. Import ATT&CK or add one with “New campaign”."} />
      <Pager nextCursor={query.data?.next_cursor} total={query.data?.total} shown={rows?.length ?? 0} />
      <CampaignForm opened={creating} onClose={() => setCreating(false)}
        onSaved={(saved) => navigate(`/campaigns/${encodeURIComponent(saved.id)}`, { state: { notice: `Added ${saved.campaign_name}.` } })} />
    </Stack>
  );
}
