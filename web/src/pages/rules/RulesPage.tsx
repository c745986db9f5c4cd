// Correlation rules: filters, sort and page in the URL; analysts switch a rule on or off from
// the list, and write a new one on its own page (with a dry run before saving).
import { Anchor, Button, Group, Select, Stack, Switch } from "@mantine/core";
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Link, useNavigate } from "react-router-dom";

import { api, unwrap, type Schemas } from "../../api/client";
import { Can, useAuth } from "../../app/auth";
import { useUrlState } from "../../app/urlState";
import { DataTable, type Column } from "../../components/DataTable";
import { Time } from "../../components/format";
import { PageHeader } from "../../components/PageHeader";
import { Pager } from "../../components/Pager";
import { ProblemAlert } from "../../components/ProblemAlert";
import { Notice, SearchField, StateBadge, useNotice } from "../catalog/common";
import { RULE_TYPES, type RuleRead, type RuleType } from "./ruleForm";

export function ruleTypeLabel(type: string): string {
  return RULE_TYPES.find((item) => item.value === type)?.label ?? type;
}

export function windowLabel(minutes?: number | null): string {
  if (!minutes) return "—";
  if (minutes % 1440 === 0) return `${minutes / 1440} d`;
  if (minutes % 60 === 0) return `${minutes / 60} h`;
  return `${minutes} min`;
}

export default function RulesPage() {
  const [url, set] = useUrlState<"q" | "type" | "active" | "sort">({ sort: "name" });
  const navigate = useNavigate();
  const client = useQueryClient();
  const writer = useAuth().can("write_intel");
  const [notice, setNotice] = useNotice();
  const query = useQuery({
    queryKey: ["rules", "list", url.q, url.type, url.active, url.sort, url.cursor],
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/correlation-rules", {
          params: {
            query: {
              q: url.q || undefined,
              rule_type: (url.type as RuleType) || undefined,
              is_active: url.active === undefined ? undefined : url.active === "true",
              sort: (url.sort as Schemas["RuleSort"]) || "name",
              cursor: url.cursor || undefined,
              limit: 50,
            },
          },
        }),
      ),
    placeholderData: keepPreviousData,
  });
  const toggle = useMutation({
    mutationFn: (rule: RuleRead) =>
      unwrap(
        api.PATCH("/api/v1/correlation-rules/{rule_id}", {
          params: { path: { rule_id: rule.id } },
          body: { is_active: !rule.is_active },
        }),
      ),
    onSuccess: async (saved) => {
      setNotice(`${saved.name} is ${saved.is_active ? "on" : "off"}.`);
      await client.invalidateQueries({ queryKey: ["rules"] });
    },
  });
  const columns: Column<RuleRead>[] = [
    {
      key: "name",
      header: "Name",
      sort: "name",
      render: (row) => (
        <Anchor component={Link} to={`/rules/${encodeURIComponent(row.id)}`} size="sm">
          {row.name}
        </Anchor>
      ),
    },
    { key: "type", header: "Type", width: 170, render: (row) => ruleTypeLabel(row.rule_type) },
    { key: "window", header: "Window", width: 90, align: "right", render: (row) => windowLabel(row.time_window_minutes) },
    {
      key: "active",
      header: "Active",
      width: 100,
      render: (row) =>
        writer ? (
          <Switch size="sm" checked={row.is_active} aria-label={`Active: ${row.name}`}
            disabled={toggle.isPending && toggle.variables?.id === row.id} onChange={() => toggle.mutate(row)} />
        ) : (
          <StateBadge on={row.is_active} label={row.is_active ? "on" : "off"} />
        ),
    },
    { key: "created", header: "Created", sort: "created", width: 150, render: (row) => <Time value={row.created_at} /> },
    { key: "updated", header: "Updated", sort: "updated", width: 150, render: (row) => <Time value={row.updated_at} /> },
  ];
  const rows = query.data?.items;
  const filtered = !!(url.q || url.type || url.active);
  return (
    <Stack gap="sm">
      <PageHeader
        title="Correlation rules"
        help="Rules turn ingested records and sightings into alerts. Test a rule on past data before switching it on."
        actions={
          <Can permission="write_intel">
            <Button component={Link} to="/rules/new">
              New rule
            </Button>
          </Can>
        }
      />
      <Group gap="xs" align="flex-end" wrap="wrap">
        <SearchField label="Name contains" value={url.q} onSearch={(q) => set({ q }, true)} />
        <Select label="Type" placeholder="Any" clearable w={200} data={RULE_TYPES.map(({ value, label }) => ({ value, label }))}
          value={url.type ?? null} onChange={(value) => set({ type: value ?? undefined })} />
        <Select label="Active" placeholder="Any" clearable w={120}
          data={[{ value: "true", label: "On" }, { value: "false", label: "Off" }]}
          value={url.active ?? null} onChange={(value) => set({ active: value ?? undefined })} />
        {filtered && (
          <Button variant="subtle" onClick={() => set({ q: undefined, type: undefined, active: undefined })}>
            Clear filters
          </Button>
        )}
      </Group>
      <Notice text={notice} />
      {query.error ? <ProblemAlert error={query.error} /> : null}
      {toggle.error ? <ProblemAlert error={toggle.error} /> : null}
      <DataTable caption="Correlation rules" columns={columns} rows={rows} rowKey={(row) => row.id} loading={query.isPending}
        sort={url.sort} onSort={(sort) => set({ sort })}
        onRowOpen={(row) => navigate(`/rules/${encodeURIComponent(row.id)}`)}
        empty={filtered ? "No rule matches these filters." : writer ? "No rules yet. Write one with “New rule” and test it on past data." : "No rules yet."} />
      <Pager nextCursor={query.data?.next_cursor} total={query.data?.total} shown={rows?.length ?? 0} />
    </Stack>
  );
}
