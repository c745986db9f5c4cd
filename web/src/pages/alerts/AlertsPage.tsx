// The triage queue: the list on the left, the selected alert on the right, and single-key
// shortcuts to work down the queue without the mouse. Filters and the selection live in the URL.
import { Anchor, Badge, Button, Group, Select, Stack, Text, TextInput } from "@mantine/core";
import { useHotkeys } from "@mantine/hooks";
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Fragment, useEffect, useState } from "react";
import { Link, useNavigate, useSearchParams } from "react-router-dom";

import { api, unwrap, type Schemas } from "../../api/client";
import { useAuth } from "../../app/auth";
import { useStream, type StreamEvent } from "../../app/stream";
import { useDebouncedQuery, useUrlState } from "../../app/urlState";
import { DataTable, type Column } from "../../components/DataTable";
import { SeverityBadge, StatusBadge, Time } from "../../components/format";
import { PageHeader } from "../../components/PageHeader";
import { Pager } from "../../components/Pager";
import { ProblemAlert } from "../../components/ProblemAlert";
import { AlertDetail } from "./AlertDetail";
import { useUserChoices } from "./people";
import { searchWith, useSelectedParam } from "./selection";
import {
  actionForKey,
  afterAction,
  assigneeQuery,
  blockedReason,
  liveState,
  shortcutsFor,
  statusesOf,
  step,
  type LiveState,
  type TriageAction,
} from "./triage";

type Alert = Schemas["AlertRead"];
type Sort = Schemas["AlertSort"];
type Severity = Schemas["AlertSeverity"];
type Action = TriageAction | "reopen";

const STATUS_CHOICES = [
  { value: "active", label: "Active (open or investigating)" },
  { value: "open", label: "Open" },
  { value: "investigating", label: "Investigating" },
  { value: "resolved", label: "Resolved" },
  { value: "false_positive", label: "False positive" },
  { value: "all", label: "Any status" },
];
const SEVERITIES: Severity[] = ["critical", "high", "medium", "low", "info"];
const SORTS: { value: Sort; label: string }[] = [
  { value: "-triggered", label: "Newest first" },
  { value: "triggered", label: "Oldest first" },
  { value: "-last_seen", label: "Recently seen" },
  { value: "-occurrences", label: "Most occurrences" },
];

const LIVE_LABELS: Record<LiveState, string> = { connecting: "Connecting", live: "Live", stale: "Reconnecting" };
const LIVE_COLOURS: Record<LiveState, string> = { connecting: "gray", live: "green", stale: "orange" };

const DONE: Record<Action, string> = {
  next: "",
  previous: "",
  acknowledge: "Acknowledged",
  assign: "Assigned to you",
  resolve: "Resolved",
  false_positive: "Closed as a false positive",
  incident: "Incident opened",
  reopen: "Reopened",
};

function TitleLink({ alert, params }: { alert: Alert; params: URLSearchParams }) {
  return (
    <Stack gap={0}>
      <Anchor component={Link} to={{ search: searchWith(params, "alert", alert.id) }} replace size="sm"
        style={{ overflowWrap: "anywhere" }}>
        {alert.title}
      </Anchor>
      {alert.assigned_username && (
        <Text size="xs" c="dimmed">
          {alert.assigned_username}
        </Text>
      )}
    </Stack>
  );
}

export default function AlertsPage() {
  const { me, can } = useAuth();
  const myId = me?.user.id;
  const canWrite = can("write_intel");
  const client = useQueryClient();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const [url, set] = useUrlState<"status" | "severity" | "assignee" | "q" | "sort">({ status: "active", sort: "-triggered" });
  const [selected, select] = useSelectedParam("alert");
  const [text, setText] = useState(url.q ?? "");
  const pushQuery = useDebouncedQuery(set);
  const [notes, setNotes] = useState("");
  const [markIndicator, setMarkIndicator] = useState(false);
  const [message, setMessage] = useState<string | null>(null);
  const [live, setLive] = useState<{ fresh: number; heard?: number; changed?: string }>({ fresh: 0 });
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 5_000);
    return () => clearInterval(timer);
  }, []);
  const liveness = liveState(live.heard, now);
  const users = useUserChoices();

  useStream(["alert"], (event: StreamEvent) => {
    const change = event.topic.startsWith("alert.");
    setLive((before) => ({
      fresh: before.fresh + (event.topic === "alert.created" ? 1 : 0),
      heard: Date.now(),
      changed: change ? event.at : before.changed,
    }));
  });

  const list = useQuery({
    queryKey: ["alerts", "list", url, myId],
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/alerts", {
          params: {
            query: {
              status: statusesOf(url.status),
              severity: url.severity ? [url.severity as Severity] : undefined,
              q: url.q || undefined,
              sort: (url.sort as Sort) || "-triggered",
              cursor: url.cursor || undefined,
              limit: 50,
              ...assigneeQuery(url.assignee, myId),
            },
          },
        }),
      ),
    placeholderData: keepPreviousData,
  });
  const rows = list.data?.items;
  const ids = (rows ?? []).map((row) => row.id);

  const detail = useQuery({
    queryKey: ["alerts", "detail", selected],
    queryFn: () => unwrap(api.GET("/api/v1/alerts/{alert_id}", { params: { path: { alert_id: selected! } } })),
    enabled: !!selected,
    placeholderData: () => rows?.find((row) => row.id === selected),
  });
  const alert = selected ? detail.data : undefined;

  // A different alert starts with empty notes: notes meant for one must not close another.
  useEffect(() => {
    setNotes("");
    setMarkIndicator(false);
  }, [selected]);

  // Keep the selected row in view while moving with j and k.
  useEffect(() => {
    const row = document.querySelector("[data-alert-list] tr[data-active]");
    if (row && "scrollIntoView" in row) row.scrollIntoView({ block: "nearest" });
  }, [selected, rows]);

  const mutation = useMutation({
    mutationFn: async ({ action, target }: { action: Action; target: Alert }) => {
      const path = { params: { path: { alert_id: target.id } } };
      switch (action) {
        case "acknowledge":
          return unwrap(api.POST("/api/v1/alerts/{alert_id}/acknowledge", path));
        case "assign":
          return unwrap(api.PATCH("/api/v1/alerts/{alert_id}", { ...path, body: { assigned_user_id: myId } }));
        case "resolve":
          return unwrap(api.POST("/api/v1/alerts/{alert_id}/resolve", { ...path, body: { notes: notes.trim() || null, false_positive: false, mark_indicator_false_positive: false } }));
        case "false_positive":
          return unwrap(
            api.POST("/api/v1/alerts/{alert_id}/resolve", {
              ...path,
              body: {
                notes: notes.trim() || null,
                false_positive: true,
                mark_indicator_false_positive: !!target.indicator_id && markIndicator,
              },
            }),
          );
        case "reopen":
          return unwrap(api.PATCH("/api/v1/alerts/{alert_id}", { ...path, body: { status: "open" } }));
        default:
          throw new Error(`${action} does not change an alert`);
      }
    },
  });
  const promote = useMutation({
    mutationFn: (target: Alert) =>
      unwrap(api.POST("/api/v1/alerts/{alert_id}/incident", { params: { path: { alert_id: target.id } } })),
  });

  const run = (action: Action) => {
    setMessage(null);
    if (action === "next" || action === "previous") {
      const next = step(ids, selected, action === "next" ? 1 : -1);
      if (next && next !== selected) select(next);
      return;
    }
    if (!alert || mutation.isPending || promote.isPending) return;
    if (action === "incident") {
      if (alert.incident) {
        navigate(`/incidents/${encodeURIComponent(alert.incident.id)}`);
        return;
      }
      promote.mutate(alert, {
        onSuccess: async (incident) => {
          await client.invalidateQueries({ queryKey: ["alerts"] });
          await client.invalidateQueries({ queryKey: ["incidents"] });
          navigate(`/incidents/${encodeURIComponent(incident.id)}`);
        },
      });
      return;
    }
    if (action !== "reopen") {
      const blocked = blockedReason(alert, action, myId);
      if (blocked) {
        setMessage(blocked);
        return;
      }
    }
    const target = alert;
    const following = action === "reopen" ? target.id : afterAction(ids, target.id);
    mutation.mutate(
      { action, target },
      {
        onSuccess: async (changed) => {
          client.setQueryData(["alerts", "detail", changed.id], changed);
          setMessage(`${DONE[action]}: ${changed.title}`);
          if (following !== target.id) select(following);
          await client.invalidateQueries({ queryKey: ["alerts"] });
          await client.invalidateQueries({ queryKey: ["dashboard"] });
        },
      },
    );
  };

  useHotkeys(
    shortcutsFor(canWrite).map((shortcut) => [
      shortcut.key,
      (event: KeyboardEvent) => {
        const action = actionForKey(event.key, canWrite);
        if (action) run(action);
      },
    ]),
  );

  const columns: Column<Alert>[] = [
    { key: "severity", header: "Severity", width: 86, render: (row) => <SeverityBadge value={row.severity} /> },
    { key: "title", header: "Alert", render: (row) => <TitleLink alert={row} params={params} /> },
    { key: "status", header: "Status", width: 124, render: (row) => <StatusBadge value={row.status} /> },
    { key: "count", header: "Hits", width: 56, align: "right", render: (row) => row.occurrence_count.toLocaleString() },
    { key: "triggered", header: "Triggered", width: 140, render: (row) => <Time value={row.triggered_at} /> },
  ];

  const filtered = !!(url.severity || url.assignee || url.q || (url.status && url.status !== "active"));
  const help = (
    <>
      Keys:{" "}
      {shortcutsFor(canWrite).map((shortcut, index) => (
        <Fragment key={shortcut.key}>
          {index > 0 && " · "}
          <kbd>{shortcut.key}</kbd> {shortcut.label}
        </Fragment>
      ))}
    </>
  );
  const error = mutation.error ?? promote.error;

  return (
    <Stack gap="sm">
      <PageHeader title="Alerts" help={help}
        actions={
          <Group gap={6}>
            <Badge variant="dot" color={LIVE_COLOURS[liveness]} size="sm">
              {LIVE_LABELS[liveness]}
            </Badge>
            <Text size="xs" c="dimmed" aria-live="polite">
              {live.fresh > 0 ? `${live.fresh} new since you opened this page` : "New alerts appear as they fire"}
            </Text>
          </Group>
        } />
      <Group gap="xs" align="flex-end" wrap="wrap">
        <Select label="Status" w={230} data={STATUS_CHOICES} value={url.status ?? "active"} allowDeselect={false}
          onChange={(value) => set({ status: value === "active" ? undefined : value ?? undefined })} />
        <Select label="Severity" placeholder="Any" clearable w={120} data={SEVERITIES} value={url.severity ?? null}
          onChange={(value) => set({ severity: value ?? undefined })} />
        <Select label="Assignee" placeholder="Anyone" clearable w={160} value={url.assignee ?? null}
          data={[{ value: "me", label: "Me" }, { value: "none", label: "Nobody" }, ...users]}
          onChange={(value) => set({ assignee: value ?? undefined })} />
        <TextInput label="Title contains" placeholder="value, watchlist, rule…" w={220} value={text}
          onChange={(event) => {
            setText(event.currentTarget.value);
            pushQuery(event.currentTarget.value);
          }} />
        <Select label="Order" w={160} data={SORTS} value={url.sort ?? "-triggered"} allowDeselect={false}
          onChange={(value) => set({ sort: value ?? undefined })} />
        {filtered && (
          <Button variant="subtle" size="sm" onClick={() => {
            setText("");
            set({ status: undefined, severity: undefined, assignee: undefined, q: undefined });
          }}>
            Clear filters
          </Button>
        )}
      </Group>
      {message && (
        <Text size="sm" c="var(--mantine-color-green-text)" role="status">
          {message}
        </Text>
      )}
      {error && <ProblemAlert error={error} />}
      {list.error && <ProblemAlert error={list.error} />}
      <div style={{ display: "grid", gridTemplateColumns: "minmax(0, 11fr) minmax(0, 9fr)", gap: 12, alignItems: "start" }}>
        <div data-alert-list>
          <DataTable caption="Alert queue" columns={columns} rows={rows} rowKey={(row) => row.id}
            loading={list.isPending} activeKey={selected}
            onRowOpen={(row) => select(row.id)}
            empty={filtered
              ? "No alert matches these filters. Clear them to see the whole queue."
              : "The queue is empty. Alerts appear here when a feed, a sighting or a rule matches a watchlist or a known indicator."} />
          <Pager nextCursor={list.data?.next_cursor} total={list.data?.total} shown={rows?.length ?? 0} />
        </div>
        <div tabIndex={0} style={{ position: "sticky", top: 60, maxHeight: "calc(100vh - 72px)", overflowY: "auto" }}>
          <AlertDetail alert={alert} loading={!!selected && detail.isPending} error={selected ? detail.error : null}
            myId={myId} pending={mutation.isPending ? mutation.variables?.action ?? null : promote.isPending ? "incident" : null}
            notes={notes} onNotes={setNotes} markIndicator={markIndicator} onMarkIndicator={setMarkIndicator}
            onAction={run} />
          {live.changed && (
            <Text size="xs" c="dimmed" mt={4}>
              Last change received <Time value={live.changed} />
            </Text>
          )}
        </div>
      </div>
    </Stack>
  );
}
