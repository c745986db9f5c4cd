// IOC collections: the public ones and your own (admins see all). Filters, sort and page in
// the URL; a new collection opens on its own page, ready for indicators.
import { Anchor, Badge, Button, Group, Select, Stack } from "@mantine/core";
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
import { CollectionForm, type Collection } from "./CollectionForm";
import { Notice, SearchField, TlpBadge, useNotice } from "./common";

const COLUMNS: Column<Collection>[] = [
  {
    key: "name",
    header: "Name",
    sort: "name",
    render: (row) => (
      <Anchor component={Link} to={`/ioc-collections/${encodeURIComponent(row.id)}`} size="sm">
        {row.name}
      </Anchor>
    ),
  },
  { key: "count", header: "Indicators", align: "right", width: 110, render: (row) => row.indicator_count.toLocaleString() },
  {
    key: "visibility",
    header: "Visibility",
    width: 100,
    render: (row) => (
      <Badge size="sm" variant="light" c="gray.9" color={row.is_public ? "blue" : "gray"} autoContrast>
        {row.is_public ? "public" : "private"}
      </Badge>
    ),
  },
  { key: "tlp", header: "TLP", width: 130, render: (row) => <TlpBadge value={row.tlp} /> },
  { key: "created", header: "Created", sort: "created", width: 150, render: (row) => <Time value={row.created_at} /> },
  { key: "updated", header: "Updated", sort: "updated", width: 150, render: (row) => <Time value={row.updated_at} /> },
];

export default function IocCollectionsPage() {
  const [url, set] = useUrlState<"q" | "visibility" | "mine" | "sort">({ sort: "name" });
  const [creating, setCreating] = useState(false);
  const [notice] = useNotice();
  const navigate = useNavigate();
  const query = useQuery({
    queryKey: ["ioc-collections", "list", url.q, url.visibility, url.mine, url.sort, url.cursor],
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/ioc-collections", {
          params: {
            query: {
              q: url.q || undefined,
              is_public: url.visibility === undefined ? undefined : url.visibility === "public",
              mine: url.mine === undefined ? undefined : url.mine === "true",
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
  const filtered = !!(url.q || url.visibility || url.mine);
  return (
    <Stack gap="sm">
      <PageHeader
        title="IOC collections"
        help="Named sets of indicators to share, export or turn into a watchlist."
        actions={
          <Can permission="write_own">
            <Button onClick={() => setCreating(true)}>New collection</Button>
          </Can>
        }
      />
      <Notice text={notice} />
      <Group gap="xs" align="flex-end" wrap="wrap">
        <SearchField label="Name contains" value={url.q} onSearch={(q) => set({ q }, true)} />
        <Select label="Visibility" placeholder="Any" clearable w={130}
          data={[{ value: "public", label: "Public" }, { value: "private", label: "Private" }]}
          value={url.visibility ?? null} onChange={(value) => set({ visibility: value ?? undefined })} />
        <Select label="Owner" placeholder="Anyone" clearable w={150}
          data={[{ value: "true", label: "Mine" }, { value: "false", label: "Others’" }]}
          value={url.mine ?? null} onChange={(value) => set({ mine: value ?? undefined })} />
        {filtered && (
          <Button variant="subtle" onClick={() => set({ q: undefined, visibility: undefined, mine: undefined })}>
            Clear filters
          </Button>
        )}
      </Group>
      {query.error ? <ProblemAlert error={query.error} /> : null}
      <DataTable caption="IOC collections" columns={COLUMNS} rows={rows} rowKey={(row) => row.id} loading={query.isPending}
        sort={url.sort} onSort={(sort) => set({ sort })}
        onRowOpen={(row) => navigate(`/ioc-collections/${encodeURIComponent(row.id)}`)}
        empty={filtered ? "No collection matches these filters." : "No collections yet. Create one, or select indicators on the Indicators page and add them to a collection."} />
      <Pager nextCursor={query.data?.next_cursor} total={query.data?.total} shown={rows?.length ?? 0} />
      <CollectionForm opened={creating} onClose={() => setCreating(false)}
        onSaved={(saved) => navigate(`/ioc-collections/${encodeURIComponent(saved.id)}`, { state: { notice: `Created the collection ${saved.name}.` } })} />
    </Stack>
  );
}
