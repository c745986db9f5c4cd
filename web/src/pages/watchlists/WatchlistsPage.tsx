// Watchlists: filters, sort and page in the URL; a new list opens on its own page, ready for
// its items. Anyone may check a value against every active list.
import { Anchor, Button, Group, Select, Stack } from "@mantine/core";
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
import { Notice, SearchField, StateBadge, useNotice } from "../catalog/common";
import { CheckValue } from "./CheckValue";
import { LIST_TYPES, typeLabel, WatchlistForm } from "./WatchlistForm";

type Watchlist = Schemas["WatchlistRead"];

const COLUMNS: Column<Watchlist>[] = [
  {
    key: "name",
    header: "Name",
    sort: "name",
    render: (row) => (
      <Anchor component={Link} to={`/watchlists/${encodeURIComponent(row.id)}`} size="sm">
        {row.name}
      </Anchor>
    ),
  },
  { key: "type", header: "Type", width: 170, render: (row) => typeLabel(row.list_type) },
  { key: "items", header: "Items", align: "right", width: 90, render: (row) => row.item_count.toLocaleString() },
  {
    key: "active",
    header: "Status",
    width: 100,
    render: (row) => (
      <StateBadge on={row.is_active} label={row.is_active ? "active" : "inactive"} />
    ),
  },
  { key: "created", header: "Created", sort: "created", width: 150, render: (row) => <Time value={row.created_at} /> },
  { key: "updated", header: "Updated", sort: "updated", width: 150, render: (row) => <Time value={row.updated_at} /> },
];

export default function WatchlistsPage() {
  const [url, set] = useUrlState<"q" | "type" | "active" | "sort" | "check">({ sort: "name" });
  const [creating, setCreating] = useState(false);
  const navigate = useNavigate();
  const [notice] = useNotice();
  const query = useQuery({
    queryKey: ["watchlists", "list", url.q, url.type, url.active, url.sort, url.cursor],
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/watchlists", {
          params: {
            query: {
              q: url.q || undefined,
              list_type: (url.type as Schemas["WatchlistType"]) || undefined,
              is_active: url.active === undefined ? undefined : url.active === "true",
              sort: (url.sort as Schemas["WatchlistSort"]) || "name",
              cursor: url.cursor || undefined,
              limit: 50,
            },
          },
        }),
      ),
    placeholderData: keepPreviousData,
  });
  const rows = query.data?.items;
  const filtered = !!(url.q || url.type || url.active);
  return (
    <Stack gap="sm">
      <PageHeader
        title="Watchlists"
        help="Values you want to hear about (blacklists) or never to hear about (whitelists), matched on every ingest and sighting."
        actions={
          <Can permission="write_intel">
            <Button onClick={() => setCreating(true)}>New watchlist</Button>
          </Can>
        }
      />
      <Notice text={notice} />
      <CheckValue value={url.check} onCheck={(check) => set({ check }, true)} />
      <Group gap="xs" align="flex-end" wrap="wrap">
        <SearchField label="Name contains" placeholder="Known C2" value={url.q} onSearch={(q) => set({ q }, true)} />
        <Select label="Type" placeholder="Any" clearable w={220} data={LIST_TYPES} value={url.type ?? null}
          onChange={(value) => set({ type: value ?? undefined })} />
        <Select label="Status" placeholder="Any" clearable w={130}
          data={[{ value: "true", label: "Active" }, { value: "false", label: "Inactive" }]}
          value={url.active ?? null} onChange={(value) => set({ active: value ?? undefined })} />
        {filtered && (
          <Button variant="subtle" onClick={() => set({ q: undefined, type: undefined, active: undefined })}>
            Clear filters
          </Button>
        )}
      </Group>
      {query.error ? <ProblemAlert error={query.error} /> : null}
      <DataTable caption="Watchlists" columns={COLUMNS} rows={rows} rowKey={(row) => row.id} loading={query.isPending}
        sort={url.sort} onSort={(sort) => set({ sort })}
        onRowOpen={(row) => navigate(`/watchlists/${encodeURIComponent(row.id)}`)}
        empty={filtered ? "No watchlist matches these filters." : "No watchlists yet. Create one with “New watchlist”, then add values to it."} />
      <Pager nextCursor={query.data?.next_cursor} total={query.data?.total} shown={rows?.length ?? 0} />
      <WatchlistForm opened={creating} onClose={() => setCreating(false)}
        onSaved={(saved) => navigate(`/watchlists/${encodeURIComponent(saved.id)}`, { state: { notice: `Created the watchlist ${saved.name}.` } })} />
    </Stack>
  );
}
