// Feeds: the configured feeds (filters and page in the URL) and the gallery of built-in
// templates to add one from, as two tabs whose choice is in the URL too.
import { Anchor, Badge, Button, Group, Select, Stack, Tabs, Text } from "@mantine/core";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { Link, useLocation } from "react-router-dom";

import { api, unwrap } from "../../api/client";
import { Can } from "../../app/auth";
import { useUrlState } from "../../app/urlState";
import { DataTable, type Column } from "../../components/DataTable";
import { Time, Value } from "../../components/format";
import { PageHeader } from "../../components/PageHeader";
import { Pager } from "../../components/Pager";
import { ProblemAlert } from "../../components/ProblemAlert";
import { scheduleText, type Feed } from "./feedForm";
import { RunStatusBadge } from "./RunStatusBadge";
import { TemplateGallery } from "./TemplateGallery";

export const FEED_COLUMNS: Column<Feed>[] = [
  {
    key: "name",
    header: "Name",
    render: (row) => (
      <Anchor component={Link} to={`/feeds/${encodeURIComponent(row.id)}`} size="sm" style={{ display: "inline-block", minWidth: 160 }}>
        <Value text={row.name} max={48} />
      </Anchor>
    ),
  },
  { key: "source", header: "Source",
    render: (row) => <span style={{ display: "inline-block", minWidth: 120 }}><Value text={row.source} max={32} /></span> },
  { key: "format", header: "Format", width: 70, render: (row) => row.format ?? "—" },
  {
    key: "enabled",
    header: "Enabled",
    width: 80,
    render: (row) => (
      <Badge size="sm" variant="filled" color={row.is_active ? "teal.9" : "gray.7"}>
        {row.is_active ? "on" : "off"}
      </Badge>
    ),
  },
  { key: "schedule", header: "Schedule", width: 110, render: (row) => scheduleText(row.update_frequency_minutes) },
  { key: "last", header: "Last run", width: 150,
    render: (row) => <span style={{ whiteSpace: "nowrap" }}><Time value={row.last_run?.started_at} /></span> },
  {
    key: "status",
    header: "Status",
    width: 110,
    render: (row) => <RunStatusBadge value={row.last_run?.status ?? (row.is_active ? "pending" : null)} />,
  },
  {
    key: "error",
    header: "Last error",
    render: (row) =>
      row.last_run?.error ? (
        <Text size="xs" c="red.9" lineClamp={2} title={row.last_run.error} miw={160}>
          {row.last_run.error}
        </Text>
      ) : (
        "—"
      ),
  },
];

function FeedList() {
  const [url, set] = useUrlState<"active" | "source">();
  const sources = useQuery({
    queryKey: ["threat-sources", "choices"],
    queryFn: () => unwrap(api.GET("/api/v1/threat-sources", { params: { query: { limit: 200 } } })),
  });
  const query = useQuery({
    queryKey: ["feeds", "list", url.active, url.source, url.cursor],
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/feeds", {
          params: {
            query: {
              is_active: url.active === undefined ? undefined : url.active === "true",
              source_id: url.source || undefined,
              cursor: url.cursor || undefined,
              limit: 50,
            },
          },
        }),
      ),
    placeholderData: keepPreviousData,
  });
  const rows = query.data?.items;
  const filtered = !!(url.active || url.source);
  return (
    <Stack gap="sm">
      <Group gap="xs" align="flex-end">
        <Select label="Enabled" placeholder="Any" clearable w={130} value={url.active ?? null}
          data={[{ value: "true", label: "Enabled" }, { value: "false", label: "Disabled" }]}
          onChange={(value) => set({ active: value ?? undefined })} />
        <Select label="Source" placeholder="Any" clearable searchable w={240} value={url.source ?? null}
          data={(sources.data?.items ?? []).map((source) => ({ value: source.id, label: source.name }))}
          onChange={(value) => set({ source: value ?? undefined })} />
        {filtered && (
          <Button variant="subtle" onClick={() => set({ active: undefined, source: undefined })}>
            Clear filters
          </Button>
        )}
      </Group>
      {query.error && <ProblemAlert error={query.error} />}
      <DataTable caption="Feeds" columns={FEED_COLUMNS} rows={rows} rowKey={(row) => row.id} loading={query.isPending}
        empty={filtered
          ? "No feed matches these filters."
          : "No feeds yet. Pick one in the Templates gallery tab, or add a custom feed with its URL and format."} />
      <Pager nextCursor={query.data?.next_cursor} total={query.data?.total} shown={rows?.length ?? 0} />
    </Stack>
  );
}

export default function FeedsPage() {
  const [url, set] = useUrlState<"tab">();
  const location = useLocation();
  const message = (location.state as { message?: string } | null)?.message;
  const tab = url.tab === "templates" ? "templates" : "feeds";
  return (
    <Stack gap="sm">
      <PageHeader
        title="Feeds"
        help="Where intelligence comes from: each feed is downloaded on its schedule, parsed by its rules and credited to its source."
        actions={
          <Can permission="write_intel">
            <Button component={Link} to="/feeds/new">
              Add custom feed
            </Button>
          </Can>
        }
      />
      {message && (
        <Text size="sm" c="teal.9" role="status">
          {message}
        </Text>
      )}
      <Tabs value={tab} onChange={(value) => set({ tab: value === "templates" ? "templates" : undefined })} keepMounted={false}>
        <Tabs.List>
          <Tabs.Tab value="feeds">Feeds</Tabs.Tab>
          <Tabs.Tab value="templates">Templates gallery</Tabs.Tab>
        </Tabs.List>
        <Tabs.Panel value="feeds" pt="sm">
          <FeedList />
        </Tabs.Panel>
        <Tabs.Panel value="templates" pt="sm">
          <TemplateGallery />
        </Tabs.Panel>
      </Tabs>
    </Stack>
  );
}
