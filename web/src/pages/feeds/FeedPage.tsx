// One feed: what it is, its runs, a preview of its rules on a sample, and (for analysts) run
// now, upload a saved copy, enable or disable, edit and delete. The tab is in the URL.
import { Alert, Anchor, Button, Group, Paper, Skeleton, Stack, Switch, Table, Tabs, Text } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type ReactNode } from "react";
import { Link, useLocation, useNavigate, useParams } from "react-router-dom";

import { api, ApiError, unwrap } from "../../api/client";
import { Can, useAuth } from "../../app/auth";
import { useUrlState } from "../../app/urlState";
import { ConfirmModal } from "../../components/ConfirmModal";
import { EmptyState } from "../../components/EmptyState";
import { Time, Value } from "../../components/format";
import { PageHeader } from "../../components/PageHeader";
import { ProblemAlert } from "../../components/ProblemAlert";
import { CustomFeedForm } from "./CustomFeedForm";
import { formatRules, parseRules, scheduleText, type Feed, type FeedFormat, type FeedRun } from "./feedForm";
import { PreviewPanel, RulesInput } from "./PreviewPanel";
import { RunHistory } from "./RunHistory";
import { RunStatusBadge } from "./RunStatusBadge";
import { UploadForm } from "./UploadForm";

type Tab = "runs" | "preview" | "edit";

/** What a finished run says: its counts, or why it failed. */
export function RunOutcome({ run, what }: { run: FeedRun; what: string }) {
  if (run.status === "failed") {
    return (
      <Alert color="red" variant="light" role="alert" title={`The ${what} failed`}>
        <Text size="sm" style={{ overflowWrap: "anywhere" }}>
          {run.error ?? "No reason was given."}
        </Text>
      </Alert>
    );
  }
  return (
    <Text size="sm" c="teal.9" role="status">
      The {what} finished ({run.status?.replace(/_/g, " ") ?? "done"}): parsed {run.parsed ?? 0}, new {run.new ?? 0},
      updated {run.updated ?? 0}, rejected {run.rejected ?? 0}.
    </Text>
  );
}

function Detail({ label, children }: { label: string; children: ReactNode }) {
  return (
    <Table.Tr>
      <Table.Th w={180} fw={600} fz="sm">
        {label}
      </Table.Th>
      <Table.Td fz="sm">{children}</Table.Td>
    </Table.Tr>
  );
}

function Details({ feed }: { feed: Feed }) {
  return (
    <Paper withBorder radius="sm" p="xs">
      <Table verticalSpacing={4} aria-label="Feed details">
        <Table.Caption className="visually-hidden">Feed details</Table.Caption>
        <Table.Tbody>
          <Detail label="Source">
            {feed.source ? (
              <Anchor component={Link} to={`/indicators?source=${encodeURIComponent(feed.source)}`} size="sm"
                aria-label={`Indicators from ${feed.source}`}>
                <Value text={feed.source} />
              </Anchor>
            ) : (
              "—"
            )}
          </Detail>
          <Detail label="URL">
            <Value text={feed.url} max={120} />
          </Detail>
          <Detail label="Format">{feed.format ?? "—"}</Detail>
          <Detail label="Template">{feed.template ?? "none (custom feed)"}</Detail>
          <Detail label="Schedule">
            {scheduleText(feed.update_frequency_minutes)}
            {feed.is_active ? "" : " (disabled)"}
          </Detail>
          <Detail label="Default confidence">{feed.default_confidence ?? "source reliability"}</Detail>
          <Detail label="Last successful update">
            <Time value={feed.last_successful_update} />
          </Detail>
          <Detail label="Next run">{feed.is_active ? <Time value={feed.next_scheduled_update} /> : "not scheduled"}</Detail>
          <Detail label="Last run">
            <Group gap="xs">
              <RunStatusBadge value={feed.last_run?.status ?? "never run"} />
              <Time value={feed.last_run?.started_at} />
              {feed.last_run?.error && (
                <Text size="xs" c="red.9" fw={600} style={{ overflowWrap: "anywhere" }}>
                  {feed.last_run.error}
                </Text>
              )}
            </Group>
          </Detail>
        </Table.Tbody>
      </Table>
    </Paper>
  );
}

function RulesPreview({ feed }: { feed: Feed }) {
  const client = useQueryClient();
  const [rules, setRules] = useState(() => formatRules(feed.parsing_rules));
  const [saved, setSaved] = useState<string | null>(null);
  const format = (feed.format ?? "") as FeedFormat | "";
  const changed = rules !== formatRules(feed.parsing_rules);
  const parsed = parseRules(rules);
  const save = useMutation({
    mutationFn: (value: Record<string, unknown>) =>
      unwrap(api.PATCH("/api/v1/feeds/{feed}", { params: { path: { feed: feed.id } }, body: { parsing_rules: value } })),
    onSuccess: async (updated) => {
      setRules(formatRules(updated.parsing_rules));
      setSaved("Rules saved; the next run uses them.");
      await client.invalidateQueries({ queryKey: ["feeds"] });
    },
  });
  return (
    <Stack gap="sm" maw={900}>
      <Text size="sm" c="dimmed">
        Change the rules here to try them; nothing is saved until you save them.
      </Text>
      {format !== "taxii" && (
        <RulesInput value={rules} format={format} label="Parsing rules to try (JSON)"
          onChange={(value) => {
            setRules(value);
            setSaved(null);
          }} />
      )}
      <PreviewPanel feed={feed.id} rules={rules} format={format} />
      <Can permission="write_intel">
        {format !== "taxii" && (
          <Group gap="xs">
            <Button variant="default" disabled={!changed || !parsed.ok} loading={save.isPending}
              onClick={() => parsed.ok && save.mutate(parsed.value)}>
              Save these rules
            </Button>
            {changed && (
              <Button variant="subtle" onClick={() => setRules(formatRules(feed.parsing_rules))}>
                Back to the saved rules
              </Button>
            )}
          </Group>
        )}
      </Can>
      {saved && (
        <Text size="sm" c="teal.9" role="status">
          {saved}
        </Text>
      )}
      <ProblemAlert error={save.error} title="The rules were not saved" />
    </Stack>
  );
}

function DeleteFeed({ feed }: { feed: Feed }) {
  const [open, setOpen] = useState(false);
  const client = useQueryClient();
  const navigate = useNavigate();
  const remove = useMutation({
    mutationFn: () => unwrap(api.DELETE("/api/v1/feeds/{feed}", { params: { path: { feed: feed.id } } })),
    onSuccess: async () => {
      setOpen(false);
      client.removeQueries({ queryKey: ["feeds", "detail", feed.id] });
      await client.invalidateQueries({ queryKey: ["feeds"] });
      await client.invalidateQueries({ queryKey: ["dashboard"] });
      navigate("/feeds", { state: { message: `Deleted the feed ${feed.name}. The intelligence it brought is kept.` } });
    },
  });
  return (
    <>
      <Button color="red" variant="outline" onClick={() => setOpen(true)}>
        Delete
      </Button>
      <ConfirmModal centered opened={open} onClose={() => setOpen(false)} title={`Delete the feed ${feed.name}?`}
        confirmLabel="Delete feed" onConfirm={() => remove.mutate()} loading={remove.isPending}
        error={remove.error} errorTitle="The feed was not deleted">
        The feed stops and its run history goes. Indicators it brought stay, credited to {feed.source ?? "its source"}.
      </ConfirmModal>
    </>
  );
}

function Actions({ feed, onRun }: { feed: Feed; onRun: (run: FeedRun | null, error: unknown) => void }) {
  const client = useQueryClient();
  const refresh = async () => {
    await client.invalidateQueries({ queryKey: ["feeds"] });
    await client.invalidateQueries({ queryKey: ["dashboard"] });
  };
  const run = useMutation({
    mutationFn: () => unwrap(api.POST("/api/v1/feeds/{feed}/run", { params: { path: { feed: feed.id } } })),
    onMutate: () => onRun(null, null),
    onSuccess: async (result) => {
      onRun(result, null);
      await client.invalidateQueries({ queryKey: ["indicators"] });
      await refresh();
    },
    onError: (error) => onRun(null, error),
  });
  const toggle = useMutation({
    mutationFn: (active: boolean) =>
      unwrap(api.PATCH("/api/v1/feeds/{feed}", { params: { path: { feed: feed.id } }, body: { is_active: active } })),
    onSuccess: refresh,
  });
  return (
    <Group gap="xs">
      <Switch label="Enabled" checked={feed.is_active} disabled={toggle.isPending}
        onChange={(event) => toggle.mutate(event.currentTarget.checked)} />
      <Button loading={run.isPending} onClick={() => run.mutate()}>
        Run now
      </Button>
      <DeleteFeed feed={feed} />
      {toggle.error ? <ProblemAlert error={toggle.error} title="The feed was not changed" /> : null}
    </Group>
  );
}

export default function FeedPage() {
  const { feed: key = "" } = useParams();
  const [url, set] = useUrlState<"tab" | "run">();
  const location = useLocation();
  const navigate = useNavigate();
  const auth = useAuth();
  const [outcome, setOutcome] = useState<{ run: FeedRun | null; error: unknown; what: string } | null>(null);
  const [message, setMessage] = useState<string | null>(
    () => (location.state as { message?: string } | null)?.message ?? null,
  );
  const query = useQuery({
    queryKey: ["feeds", "detail", key],
    queryFn: () => unwrap(api.GET("/api/v1/feeds/{feed}", { params: { path: { feed: key } } })),
  });
  const feed = query.data;
  const canWrite = auth.can("write_intel");
  const tab: Tab = url.tab === "preview" ? "preview" : url.tab === "edit" && canWrite ? "edit" : "runs";
  if (query.error instanceof ApiError && query.error.status === 404) {
    return (
      <Stack gap="sm">
        <PageHeader title="Feed not found" />
        <EmptyState title="There is no such feed">
          It may have been deleted. <Anchor component={Link} to="/feeds">All feeds</Anchor>
        </EmptyState>
      </Stack>
    );
  }
  return (
    <Stack gap="sm">
      <PageHeader
        title={feed ? `Feed ${feed.name}` : "Feed"}
        help={feed ? `${feed.source ?? "no source"} · ${feed.format ?? "?"} · ${scheduleText(feed.update_frequency_minutes)}` : undefined}
        actions={
          feed && (
            <Can permission="write_intel">
              <Actions feed={feed} onRun={(run, error) => setOutcome(run || error ? { run, error, what: "run" } : null)} />
            </Can>
          )
        }
      />
      <Anchor component={Link} to="/feeds" size="sm">
        ← All feeds
      </Anchor>
      {message && (
        <Text size="sm" c="teal.9" role="status">
          {message}
        </Text>
      )}
      {outcome?.run && <RunOutcome run={outcome.run} what={outcome.what} />}
      {outcome?.error ? <ProblemAlert error={outcome.error} title={`The ${outcome.what} did not happen`} /> : null}
      {query.error && <ProblemAlert error={query.error} />}
      {!feed ? (
        query.isPending && <Skeleton height={260} />
      ) : (
        <>
          <div style={{ display: "grid", gap: "var(--mantine-spacing-sm)", gridTemplateColumns: "repeat(auto-fit, minmax(340px, 1fr))" }}>
            <Details feed={feed} />
            <Can permission="write_intel">
              <UploadForm feed={feed}
                onDone={(run, error) => {
                  setMessage(null);
                  setOutcome(run || error ? { run, error, what: "upload" } : null);
                }} />
            </Can>
          </div>
          <Tabs value={tab} keepMounted={false}
            onChange={(value) => set({ tab: value === "runs" ? undefined : (value ?? undefined), run: undefined })}>
            <Tabs.List>
              <Tabs.Tab value="runs">Run history</Tabs.Tab>
              <Tabs.Tab value="preview">Rules preview</Tabs.Tab>
              {canWrite && <Tabs.Tab value="edit">Edit</Tabs.Tab>}
            </Tabs.List>
            <Tabs.Panel value="runs" pt="sm">
              <RunHistory feed={feed.id} />
            </Tabs.Panel>
            <Tabs.Panel value="preview" pt="sm">
              <RulesPreview feed={feed} />
            </Tabs.Panel>
            {canWrite && (
              <Tabs.Panel value="edit" pt="sm">
                <CustomFeedForm key={feed.id} feed={feed}
                  onSaved={(_saved, text) => {
                    setMessage(text);
                    navigate({ search: "" }, { replace: false });
                  }}
                  onCancel={() => set({ tab: undefined })} />
              </Tabs.Panel>
            )}
          </Tabs>
        </>
      )}
    </Stack>
  );
}
