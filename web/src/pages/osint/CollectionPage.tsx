// One collection: its run followed live (the status is polled every second while it runs),
// run and cancel, the items it stored, and documents uploaded into it.
import { Alert, Anchor, Button, Code, Group, Paper, Progress, Stack, Text, Title } from "@mantine/core";
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef, useState } from "react";
import { Link, useParams } from "react-router-dom";

import { api, unwrap, type Schemas } from "../../api/client";
import { useAuth } from "../../app/auth";
import { usePaging } from "../../app/urlState";
import { DataTable, type Column } from "../../components/DataTable";
import { StatusBadge, Time, Value } from "../../components/format";
import { PageHeader } from "../../components/PageHeader";
import { PageSkeleton } from "../../components/PageSkeleton";
import { Pager } from "../../components/Pager";
import { ProblemAlert } from "../../components/ProblemAlert";
import { itemSummary, progressText, scheduleText } from "./format";
import { TwoColumns } from "./TwoColumns";
import { UploadDocument } from "./UploadDocument";

type Item = Schemas["krsn__osint__collections__schemas__ItemRead"];

const ITEM_COLUMNS: Column<Item>[] = [
  { key: "collected", header: "Collected", render: (row) => <Time value={row.collected_at} />, width: 150 },
  { key: "type", header: "Type", render: (row) => row.item_type ?? "—", width: 90 },
  { key: "summary", header: "Content", render: (row) => <Value text={itemSummary(row.raw_data)} max={120} /> },
  { key: "processed", header: "Entities extracted", render: (row) => (row.is_processed ? "Yes" : "Not yet"), width: 140 },
];

export default function CollectionPage() {
  const { id = "" } = useParams();
  const client = useQueryClient();
  const { me, can } = useAuth();
  const paging = usePaging();
  const [message, setMessage] = useState<string | null>(null);
  const path = { params: { path: { collection_id: id } } };

  const detail = useQuery({
    queryKey: ["collections", "detail", id],
    queryFn: () => unwrap(api.GET("/api/v1/collections/{collection_id}", path)),
  });
  const status = useQuery({
    queryKey: ["collections", "status", id],
    queryFn: () => unwrap(api.GET("/api/v1/collections/{collection_id}/status", path)),
    refetchInterval: (current) => (current.state.data?.status === "running" ? 1000 : false),
  });
  const items = useQuery({
    queryKey: ["collections", "items", id, paging.cursor],
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/collections/{collection_id}/items", {
          params: { path: { collection_id: id }, query: { cursor: paging.cursor || undefined, limit: 25 } },
        }),
      ),
    placeholderData: keepPreviousData,
  });

  // When a run ends, what it stored and the collection's own fields have changed too.
  const previous = useRef<string | null | undefined>(undefined);
  const state = status.data?.status;
  useEffect(() => {
    if (previous.current === "running" && state && state !== "running") {
      void client.invalidateQueries({ queryKey: ["collections"] });
      void client.invalidateQueries({ queryKey: ["entities"] });
      setMessage(state === "completed" ? "The run completed." : `The run ended: ${state}.`);
    }
    previous.current = state;
  }, [client, state]);

  const run = useMutation({
    mutationFn: () => unwrap(api.POST("/api/v1/collections/{collection_id}/run", path)),
    onSuccess: (next) => {
      client.setQueryData(["collections", "status", id], next);
      setMessage("Run started.");
      void client.invalidateQueries({ queryKey: ["collections", "list"] });
    },
  });
  const cancel = useMutation({
    mutationFn: () => unwrap(api.POST("/api/v1/collections/{collection_id}/cancel", path)),
    onSuccess: (next) => {
      client.setQueryData(["collections", "status", id], next);
      setMessage("Cancelled; what the run stored so far is kept.");
      void client.invalidateQueries({ queryKey: ["collections"] });
    },
  });

  if (detail.isPending) return <PageSkeleton />;
  if (detail.error || !detail.data) {
    return (
      <Stack>
        <PageHeader title="Collection" />
        <ProblemAlert error={detail.error} />
        <Anchor component={Link} to="/osint/collections">Back to the collections</Anchor>
      </Stack>
    );
  }
  const collection = detail.data;
  const live = status.data ?? collection;
  const running = live.status === "running";
  const mayChange = can("write_intel") || (can("write_own") && me?.user.id === collection.user_id);
  const progress = Math.max(0, Math.min(100, Number(live.progress ?? 0)));

  return (
    <Stack gap="md">
      <PageHeader
        title={collection.name}
        help={collection.description ?? `A ${collection.collector_type.replace(/_/g, " ")} collection.`}
        actions={
          mayChange && (
            <>
              <Button onClick={() => run.mutate()} loading={run.isPending} disabled={running}>
                Run now
              </Button>
              <Button variant="default" color="red" onClick={() => cancel.mutate()} loading={cancel.isPending} disabled={!running}>
                Cancel run
              </Button>
            </>
          )
        }
      />
      {run.error && <ProblemAlert error={run.error} />}
      {cancel.error && <ProblemAlert error={cancel.error} />}
      {message && (
        <Text size="sm" role="status">
          {message}
        </Text>
      )}
      <Paper withBorder p="md" radius="sm">
        <Stack gap="xs">
          <Group justify="space-between">
            <Title order={2} size="h4">Last run</Title>
            <span data-testid="run-status"><StatusBadge value={live.status} /></span>
          </Group>
          <Progress value={progress} aria-label="Run progress" animated={running} striped={running} size="lg" />
          <Text size="sm" aria-live="polite">
            {progressText(live)} · {live.items_collected ?? 0} new items · started <Time value={live.started_at} />
            {live.completed_at && (
              <>
                {" "}· ended <Time value={live.completed_at} />
              </>
            )}
          </Text>
          {live.error_message && (
            <Alert color="red" variant="light" title="The run failed">
              {live.error_message}
            </Alert>
          )}
          {status.error && <ProblemAlert error={status.error} />}
        </Stack>
      </Paper>
      <TwoColumns>
        <Paper withBorder p="md" radius="sm" style={{ flex: 1 }}>
          <Title order={2} size="h4" mb="xs">Settings</Title>
          <Stack gap={4}>
            <Text size="sm">Collector: {(collection.collector ?? collection.collector_type).replace(/_/g, " ")}</Text>
            <Text size="sm">Schedule: {scheduleText(collection.schedule)}</Text>
            <Text size="sm">Created: <Time value={collection.created_at} /></Text>
            <Text size="sm" fw={500} mt={4}>Config</Text>
            <Code block style={{ maxHeight: 240, overflow: "auto" }}>
              {JSON.stringify(redacted(collection.config), null, 2)}
            </Code>
          </Stack>
        </Paper>
        <Paper withBorder p="md" radius="sm" style={{ flex: 1 }}>
          <Title order={2} size="h4" mb="xs">Upload a document</Title>
          {mayChange ? (
            <UploadDocument collectionId={collection.id} onStored={setMessage} />
          ) : (
            <Text size="sm" c="dimmed">Only its owner, an analyst or an admin may add documents to this collection.</Text>
          )}
        </Paper>
      </TwoColumns>
      <Stack gap={4}>
        <Title order={2} size="h4">Items</Title>
        {items.error && <ProblemAlert error={items.error} />}
        <DataTable caption="Items of this collection" columns={ITEM_COLUMNS} rows={items.data?.items}
          rowKey={(row) => row.id} loading={items.isPending}
          empty={mayChange ? "No items yet. Run the collection, or upload a document above." : "No items yet."} />
        <Pager nextCursor={items.data?.next_cursor} total={items.data?.total} shown={items.data?.items.length ?? 0} />
        <Text size="sm" c="dimmed">
          Entities extracted from these items are listed under <Anchor component={Link} to="/osint/entities?sort=-first_seen" size="sm" underline="always">Entities</Anchor>.
        </Text>
      </Stack>
    </Stack>
  );
}

/** The config without a seed file's bytes, which are long and say nothing to a reader. */
function redacted(config: Record<string, unknown>): Record<string, unknown> {
  const upload = config.upload as Record<string, unknown> | null | undefined;
  if (!upload || typeof upload !== "object" || typeof upload.content_base64 !== "string") return config;
  return { ...config, upload: { ...upload, content_base64: `(${upload.content_base64.length} base64 characters)` } };
}
