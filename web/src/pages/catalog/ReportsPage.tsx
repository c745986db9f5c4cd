// Threat reports: search, type, classification and draft/published filters, sort and page in
// the URL; a new report is written on its own page (/reports/new).
import { Anchor, Button, Group, Select, Stack } from "@mantine/core";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { Link, useNavigate } from "react-router-dom";

import { api, unwrap, type Schemas } from "../../api/client";
import { Can } from "../../app/auth";
import { useUrlState } from "../../app/urlState";
import { DataTable, type Column } from "../../components/DataTable";
import { Time } from "../../components/format";
import { PageHeader } from "../../components/PageHeader";
import { Pager } from "../../components/Pager";
import { ProblemAlert } from "../../components/ProblemAlert";
import { Notice, SearchField, StateBadge, TlpBadge, useNotice } from "./common";
import { CLASSIFICATIONS, REPORT_TYPES, type Report } from "./ReportEditor";

export function reportTypeLabel(value?: string | null): string {
  return REPORT_TYPES.find((item) => item.value === value)?.label ?? "—";
}

export function PublishedBadge({ at }: { at?: string | null }) {
  return (
    <StateBadge on={!!at} label={at ? "published" : "draft"} />
  );
}

const COLUMNS: Column<Report>[] = [
  {
    key: "title",
    header: "Title",
    sort: "title",
    render: (row) => (
      <Anchor component={Link} to={`/reports/${encodeURIComponent(row.id)}`} size="sm">
        {row.title}
      </Anchor>
    ),
  },
  { key: "type", header: "Type", width: 120, render: (row) => reportTypeLabel(row.report_type) },
  { key: "classification", header: "Classification", width: 120, render: (row) => row.classification },
  { key: "tlp", header: "TLP", width: 130, render: (row) => <TlpBadge value={row.tlp} /> },
  { key: "status", header: "Status", width: 100, render: (row) => <PublishedBadge at={row.published_at} /> },
  { key: "published", header: "Published", width: 150, render: (row) => <Time value={row.published_at} /> },
  { key: "updated", header: "Updated", sort: "updated", width: 150, render: (row) => <Time value={row.updated_at} /> },
];

export default function ReportsPage() {
  const [url, set] = useUrlState<"q" | "type" | "classification" | "published" | "sort">({ sort: "-created" });
  const [notice] = useNotice();
  const navigate = useNavigate();
  const query = useQuery({
    queryKey: ["reports", "list", url.q, url.type, url.classification, url.published, url.sort, url.cursor],
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/threat-reports", {
          params: {
            query: {
              q: url.q || undefined,
              type: (url.type as Schemas["ReportType"]) || undefined,
              classification: (url.classification as Schemas["Classification"]) || undefined,
              published: url.published === undefined ? undefined : url.published === "true",
              sort: (url.sort as Schemas["ReportSort"]) || "-created",
              cursor: url.cursor || undefined,
              limit: 50,
            },
          },
        }),
      ),
    placeholderData: keepPreviousData,
  });
  const rows = query.data?.items;
  const filtered = !!(url.q || url.type || url.classification || url.published);
  return (
    <Stack gap="sm">
      <PageHeader
        title="Threat reports"
        help="Written analyses: drafts until published, shared under their classification and TLP."
        actions={
          <Can permission="write_intel">
            <Button component={Link} to="/reports/new">
              New report
            </Button>
          </Can>
        }
      />
      <Notice text={notice} />
      <Group gap="xs" align="flex-end" wrap="wrap">
        <SearchField label="Title or summary contains" value={url.q} onSearch={(q) => set({ q }, true)} />
        <Select label="Type" placeholder="Any" clearable w={150} data={REPORT_TYPES} value={url.type ?? null}
          onChange={(value) => set({ type: value ?? undefined })} />
        <Select label="Classification" placeholder="Any" clearable w={150} data={CLASSIFICATIONS} value={url.classification ?? null}
          onChange={(value) => set({ classification: value ?? undefined })} />
        <Select label="Status" placeholder="Any" clearable w={130}
          data={[{ value: "true", label: "Published" }, { value: "false", label: "Draft" }]}
          value={url.published ?? null} onChange={(value) => set({ published: value ?? undefined })} />
        {filtered && (
          <Button variant="subtle" onClick={() => set({ q: undefined, type: undefined, classification: undefined, published: undefined })}>
            Clear filters
          </Button>
        )}
      </Group>
      {query.error ? <ProblemAlert error={query.error} /> : null}
      <DataTable caption="Threat reports" columns={COLUMNS} rows={rows} rowKey={(row) => row.id} loading={query.isPending}
        sort={url.sort} onSort={(sort) => set({ sort })} onRowOpen={(row) => navigate(`/reports/${encodeURIComponent(row.id)}`)}
        empty={filtered ? "No report matches these filters." : "No reports yet. Write one with “New report”; it stays a draft until you publish it."} />
      <Pager nextCursor={query.data?.next_cursor} total={query.data?.total} shown={rows?.length ?? 0} />
    </Stack>
  );
}
