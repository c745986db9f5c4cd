// The audit log: every filter, the page and the opened entry live in the URL. Details and
// old/new values are data, shown as JSON text.
import { Badge, Button, Code, Group, Paper, Select, Stack, Table, Text, TextInput, Title } from "@mantine/core";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useEffect, useMemo, useRef, type KeyboardEvent } from "react";

import { api, unwrap, type Schemas } from "../../api/client";
import { useUrlState } from "../../app/urlState";
import { DataTable, type Column } from "../../components/DataTable";
import { Time } from "../../components/format";
import { PageHeader } from "../../components/PageHeader";
import { Pager } from "../../components/Pager";
import { ProblemAlert } from "../../components/ProblemAlert";
import { AdminOnly } from "./AdminOnly";
import { auditQuery, changes, rangeError, RANGES, SEVERITIES, type AuditUrl } from "./auditQuery";

type Entry = Schemas["AuditLogRead"];
type Key = "user" | "action" | "resource" | "resource_id" | "severity" | "range" | "since" | "until" | "entry";

const SEVERITY_COLOURS: Record<string, string> = { info: "gray", warning: "yellow", error: "red" };

export default function AuditPage() {
  return (
    <AdminOnly title="Audit log">
      <Audit />
    </AdminOnly>
  );
}

function Audit() {
  const [url, set] = useUrlState<Key>();
  const invalidRange = rangeError(url as AuditUrl);
  const list = useQuery({
    queryKey: ["audit", "list", url.user, url.action, url.resource, url.resource_id, url.severity, url.range, url.since,
      url.until, url.cursor],
    queryFn: () => unwrap(api.GET("/api/v1/audit-logs", { params: { query: auditQuery(url as AuditUrl) } })),
    placeholderData: keepPreviousData,
    enabled: !invalidRange,
  });
  const users = useQuery({
    queryKey: ["users", "choices"],
    queryFn: () => unwrap(api.GET("/api/v1/users", { params: { query: { limit: 200 } } })),
  });
  const names = useMemo(() => new Map((users.data?.items ?? []).map((user) => [user.id, user.username])), [users.data]);
  const rows = list.data?.items;
  const opened = rows?.find((row) => row.id === url.entry);
  const text = (key: Key) => ({
    defaultValue: url[key] ?? "",
    onBlur: (event: { currentTarget: HTMLInputElement }) => set({ [key]: event.currentTarget.value.trim() || undefined }),
    onKeyDown: (event: KeyboardEvent<HTMLInputElement>) => {
      if (event.key === "Enter") set({ [key]: event.currentTarget.value.trim() || undefined });
    },
  });

  const columns: Column<Entry>[] = [
    { key: "time", header: "Time", render: (row) => <Time value={row.created_at} />, width: 150 },
    { key: "user", header: "User", render: (row) => (row.user_id ? names.get(row.user_id) ?? row.user_id.slice(0, 8) : "system") },
    { key: "action", header: "Action", render: (row) => <span className="mono">{row.action}</span> },
    {
      key: "resource", header: "Resource",
      render: (row) => (
        <>
          {row.resource_type ?? "—"} <span className="mono">{row.resource_id ?? ""}</span>
        </>
      ),
    },
    {
      key: "severity", header: "Severity", width: 90,
      render: (row) => (
        <Badge size="sm" variant="outline" color={SEVERITY_COLOURS[row.severity] ?? "gray"} autoContrast>
          {row.severity}
        </Badge>
      ),
    },
    { key: "ip", header: "Address", render: (row) => row.ip_address ?? "—", width: 120 },
    {
      key: "open", header: "Details", width: 90,
      render: (row) => (
        <Button size="compact-xs" variant={row.id === url.entry ? "filled" : "light"}
          aria-label={`Details of ${row.action} at ${row.created_at ?? ""}`}
          aria-pressed={row.id === url.entry}
          onClick={() => set({ entry: row.id === url.entry ? undefined : row.id }, true)}>
          Details
        </Button>
      ),
    },
  ];
  const filtered = !!(url.user || url.action || url.resource || url.resource_id || url.severity || url.range);
  return (
    <Stack gap="sm">
      <PageHeader title="Audit log" help="Who did what, newest first. An action ending in * matches a prefix (auth.*)." />
      <Group gap="xs" align="flex-end" wrap="wrap">
        <Select label="User" placeholder="Anyone" clearable searchable w={180}
          data={(users.data?.items ?? []).map((user) => ({ value: user.id, label: user.username }))}
          value={url.user ?? null} onChange={(value) => set({ user: value ?? undefined })} />
        <TextInput label="Action" placeholder="user.create, auth.*" w={170} key={`action:${url.action ?? ""}`} {...text("action")} />
        <TextInput label="Resource type" placeholder="user, feed, indicator" w={160} key={`resource:${url.resource ?? ""}`} {...text("resource")} />
        <TextInput label="Resource id" w={160} key={`resource_id:${url.resource_id ?? ""}`} {...text("resource_id")} />
        <Select label="Severity" placeholder="Any" clearable w={120} data={SEVERITIES} value={url.severity ?? null}
          onChange={(value) => set({ severity: value ?? undefined })} />
        <Select label="Time" placeholder="Any time" clearable w={160}
          data={RANGES.map((range) => ({ value: range.value, label: range.label }))} value={url.range ?? null}
          onChange={(value) => set({ range: value ?? undefined, since: undefined, until: undefined })} />
        {url.range === "custom" && (
          <>
            <TextInput type="datetime-local" label="From (local time)" w={200} value={url.since ?? ""}
              onChange={(event) => set({ since: event.currentTarget.value || undefined }, true)} />
            <TextInput type="datetime-local" label="Until (local time)" w={200} value={url.until ?? ""}
              onChange={(event) => set({ until: event.currentTarget.value || undefined }, true)} />
          </>
        )}
        {filtered && (
          <Button variant="subtle" onClick={() => set({ user: undefined, action: undefined, resource: undefined,
            resource_id: undefined, severity: undefined, range: undefined, since: undefined, until: undefined })}>
            Clear filters
          </Button>
        )}
      </Group>
      {invalidRange && <ProblemAlert error={new Error(invalidRange)} title="Time range" />}
      {list.error && <ProblemAlert error={list.error} />}
      <DataTable caption="Audit log entries" columns={columns} rows={invalidRange ? [] : rows} rowKey={(row) => row.id}
        loading={list.isPending && !invalidRange} activeKey={url.entry}
        empty={filtered ? "No audit entry matches these filters." : "Nothing audited yet."} />
      <Pager nextCursor={list.data?.next_cursor} total={list.data?.total} shown={rows?.length ?? 0} />
      {opened && <EntryDetails entry={opened} user={opened.user_id ? names.get(opened.user_id) : undefined} />}
    </Stack>
  );
}

function Json({ label, value }: { label: string; value: unknown }) {
  if (value === null || value === undefined) return null;
  return (
    <Stack gap={2}>
      <Text size="sm" fw={600}>
        {label}
      </Text>
      <Code block>{JSON.stringify(value, null, 2)}</Code>
    </Stack>
  );
}

function EntryDetails({ entry, user }: { entry: Entry; user?: string }) {
  const changed = changes(entry.old_values, entry.new_values);
  const ref = useRef<HTMLElement>(null);
  // The details sit under a page of rows: bring them into view when another entry opens.
  useEffect(() => {
    ref.current?.scrollIntoView?.({ block: "nearest" });
  }, [entry.id]);
  return (
    <Paper withBorder radius="sm" p="sm" component="section" aria-label="Audit entry details" ref={ref}>
      <Stack gap="xs">
        <Title order={2} size="h4">
          <span className="mono">{entry.action}</span>
        </Title>
        <Text size="sm">
          {user ?? entry.user_id ?? "system"} · <Time value={entry.created_at} /> · {entry.ip_address ?? "no address"}
          {entry.user_agent ? ` · ${entry.user_agent}` : ""}
        </Text>
        {changed.length > 0 && (
          <Table fz="sm" withTableBorder verticalSpacing={4}>
            <Table.Caption className="visually-hidden">Changed values</Table.Caption>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Field</Table.Th>
                <Table.Th>Before</Table.Th>
                <Table.Th>After</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {changed.map((change) => (
                <Table.Tr key={change.field}>
                  <Table.Td className="mono">{change.field}</Table.Td>
                  <Table.Td className="mono">{change.before}</Table.Td>
                  <Table.Td className="mono">{change.after}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
        <Json label="Details" value={entry.details} />
        <Json label="Old values" value={entry.old_values} />
        <Json label="New values" value={entry.new_values} />
        <Json label="Context" value={entry.metadata} />
      </Stack>
    </Paper>
  );
}
