// OSINT collections: what is collected, by which collector, and how its last run went. Filters,
// sort, page and the new-collection dialog live in the URL; running ones refresh on their own.
import { Anchor, Button, Checkbox, Group, Modal, Select, Stack, TextInput } from "@mantine/core";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { Link, useNavigate } from "react-router-dom";

import { api, unwrap, type Schemas } from "../../api/client";
import { Can } from "../../app/auth";
import { useUrlState } from "../../app/urlState";
import { DataTable, type Column } from "../../components/DataTable";
import { StatusBadge, Time, Value } from "../../components/format";
import { PageHeader } from "../../components/PageHeader";
import { Pager } from "../../components/Pager";
import { ProblemAlert } from "../../components/ProblemAlert";
import { CollectionForm } from "./CollectionForm";
import { progressText, scheduleText } from "./format";

type Collection = Schemas["krsn__osint__collections__schemas__CollectionRead"];
type Status = Schemas["CollectionStatus"];
type CollectorType = Schemas["CollectorType"];
type Sort = Schemas["CollectionSort"];

const STATUSES: Status[] = ["pending", "running", "completed", "failed", "cancelled"];
const TYPES: CollectorType[] = ["custom", "domain_intel", "news", "public_db", "social_media", "dark_web"];

const COLUMNS: Column<Collection>[] = [
  {
    key: "name",
    header: "Name",
    sort: "name",
    render: (row) => (
      <Anchor component={Link} to={`/osint/collections/${encodeURIComponent(row.id)}`} size="sm">
        <Value text={row.name} max={60} />
      </Anchor>
    ),
  },
  { key: "collector", header: "Collector", render: (row) => (row.collector ?? row.collector_type).replace(/_/g, " "), width: 130 },
  { key: "status", header: "Status", render: (row) => <StatusBadge value={row.status} />, width: 110 },
  { key: "progress", header: "Progress", align: "right", render: progressText, width: 90 },
  { key: "items", header: "New items", align: "right", render: (row) => row.items_collected ?? "—", width: 90 },
  { key: "schedule", header: "Schedule", render: (row) => scheduleText(row.schedule), width: 120 },
  { key: "started", header: "Last run", sort: "started", render: (row) => <Time value={row.started_at} />, width: 150 },
  { key: "created", header: "Created", sort: "created", render: (row) => <Time value={row.created_at} />, width: 150 },
];

export default function CollectionsPage() {
  const navigate = useNavigate();
  const [url, set] = useUrlState<"q" | "status" | "type" | "mine" | "sort" | "new">({ sort: "-created" });
  const query = useQuery({
    queryKey: ["collections", "list", url.q, url.status, url.type, url.mine, url.sort, url.cursor],
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/collections", {
          params: {
            query: {
              q: url.q || undefined,
              status: (url.status as Status) || undefined,
              collector_type: (url.type as CollectorType) || undefined,
              mine: url.mine === "true" || undefined,
              sort: (url.sort as Sort) || "-created",
              cursor: url.cursor || undefined,
              limit: 50,
            },
          },
        }),
      ),
    placeholderData: keepPreviousData,
    // Running collections move on their own: follow them while any is shown.
    refetchInterval: (current) => (current.state.data?.items.some((row) => row.status === "running") ? 2000 : false),
  });
  const rows = query.data?.items;
  const filtered = !!(url.q || url.status || url.type || url.mine);
  return (
    <Stack gap="sm">
      <PageHeader
        title="Collections"
        help="Collectors gather OSINT items; entities found in them feed the graph. Open a collection to run it or upload documents."
        actions={
          <Can permission="write_own">
            <Button onClick={() => set({ new: "1" })}>New collection</Button>
          </Can>
        }
      />
      <Group gap="xs" align="flex-end" wrap="wrap">
        <TextInput label="Name contains" placeholder="Part of a name" w={220} defaultValue={url.q ?? ""}
          onBlur={(event) => set({ q: event.currentTarget.value.trim() || undefined })}
          onKeyDown={(event) => {
            if (event.key === "Enter") set({ q: event.currentTarget.value.trim() || undefined });
          }} />
        <Select label="Status" placeholder="Any" clearable w={140} data={STATUSES} value={url.status ?? null}
          onChange={(value) => set({ status: value ?? undefined })} />
        <Select label="Collector type" placeholder="Any" clearable w={160}
          data={TYPES.map((type) => ({ value: type, label: type.replace(/_/g, " ") }))} value={url.type ?? null}
          onChange={(value) => set({ type: value ?? undefined })} />
        <Checkbox label="Only mine" mb={8} checked={url.mine === "true"}
          onChange={(event) => set({ mine: event.currentTarget.checked ? "true" : undefined })} />
        {filtered && (
          <Button variant="subtle" onClick={() => set({ q: undefined, status: undefined, type: undefined, mine: undefined })}>
            Clear filters
          </Button>
        )}
      </Group>
      {query.error && <ProblemAlert error={query.error} />}
      <DataTable caption="OSINT collections" columns={COLUMNS} rows={rows} rowKey={(row) => row.id}
        loading={query.isPending} sort={url.sort} onSort={(sort) => set({ sort })}
        onRowOpen={(row) => navigate(`/osint/collections/${encodeURIComponent(row.id)}`)}
        empty={filtered
          ? "No collection matches these filters."
          : "No collections yet. Create one with New collection: a domain to investigate, news feeds, or a file to import."} />
      <Pager nextCursor={query.data?.next_cursor} total={query.data?.total} shown={rows?.length ?? 0} />
      <Modal opened={url.new === "1"} onClose={() => set({ new: undefined })} title="New collection" size="lg"
        closeButtonProps={{ "aria-label": "Close the dialog" }}>
        <CollectionForm
          onCancel={() => set({ new: undefined })}
          onCreated={(created) => navigate(`/osint/collections/${encodeURIComponent(created.id)}`)}
        />
      </Modal>
    </Stack>
  );
}
