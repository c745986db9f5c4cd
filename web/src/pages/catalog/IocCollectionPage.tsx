// One IOC collection: what it is, its indicators (paged, in the URL), and for its creator or
// an admin adding indicators by value or id, removing them, editing and deleting it.
import { Anchor, Button, Group, Paper, Stack, Text, Textarea, TextInput, Title } from "@mantine/core";
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { Link, useParams } from "react-router-dom";

import { api, unwrap, type Schemas } from "../../api/client";
import { useAuth } from "../../app/auth";
import { usePaging } from "../../app/urlState";
import { useDeleteAndLeave } from "../../app/useDeleteAndLeave";
import { ConfirmModal } from "../../components/ConfirmModal";
import { DataTable, type Column } from "../../components/DataTable";
import { Time, Value } from "../../components/format";
import { PageHeader } from "../../components/PageHeader";
import { Pager } from "../../components/Pager";
import { ProblemAlert } from "../../components/ProblemAlert";
import { QueryFallback } from "../../components/QueryState";
import { CollectionForm } from "./CollectionForm";
import { Facts, Notice, PlainText, TlpBadge, useNotice } from "./common";
import { EditDeleteButtons } from "./EditDeleteButtons";
import { plural, valuesOf } from "./text";

type Member = Schemas["CollectionIndicatorRead"];
type Change = Schemas["CollectionChange"];

/** What adding indicators did, in one sentence. */
export function describeCollectionChange(change: Change, verb = "Added"): string {
  const parts = [`${verb} ${plural(change.changed, "indicator")}`];
  if (change.unchanged) parts.push(`${change.unchanged.toLocaleString()} already there`);
  if (change.not_found.length) parts.push(`${change.not_found.length.toLocaleString()} unknown`);
  if (change.unreadable.length) parts.push(`${change.unreadable.length.toLocaleString()} unreadable`);
  return `${parts.join(", ")}; the collection holds ${plural(change.indicator_count, "indicator")}.`;
}

export default function IocCollectionPage() {
  const { id = "" } = useParams();
  const client = useQueryClient();
  const auth = useAuth();
  const paging = usePaging();
  const [notice, setNotice] = useNotice();
  const [editing, setEditing] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const [removing, setRemoving] = useState<Member | null>(null);
  const collection = useQuery({
    queryKey: ["ioc-collections", id],
    queryFn: () => unwrap(api.GET("/api/v1/ioc-collections/{collection_id}", { params: { path: { collection_id: id } } })),
  });
  const members = useQuery({
    queryKey: ["ioc-collections", id, "indicators", paging.cursor ?? ""],
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/ioc-collections/{collection_id}/indicators", {
          params: { path: { collection_id: id }, query: { limit: 50, cursor: paging.cursor || undefined } },
        }),
      ),
    placeholderData: keepPreviousData,
  });
  const refresh = () => client.invalidateQueries({ queryKey: ["ioc-collections"] });
  const remove = useMutation({
    mutationFn: (member: Member) =>
      unwrap(
        api.DELETE("/api/v1/ioc-collections/{collection_id}/indicators/{indicator_id}", {
          params: { path: { collection_id: id, indicator_id: member.indicator.id } },
        }),
      ),
    onSuccess: async (change) => {
      setRemoving(null);
      setNotice(describeCollectionChange(change, "Removed"));
      await refresh();
    },
  });
  const destroy = useDeleteAndLeave({
    mutationFn: () => unwrap(api.DELETE("/api/v1/ioc-collections/{collection_id}", { params: { path: { collection_id: id } } })),
    detailKey: ["ioc-collections", id],
    refresh: [["ioc-collections"]],
    to: "/ioc-collections",
    notice: () => `Deleted ${collection.data?.name ?? "the collection"}; its indicators stay.`,
  });

  if (!collection.isSuccess) return <QueryFallback query={collection} title="IOC collection" />;
  const item = collection.data;
  // Only its creator or an admin may change a collection (the API refuses anyone else).
  const owner = auth.can("write_own") && (auth.can("admin") || auth.me?.user.id === item.created_by);
  const columns: Column<Member>[] = [
    {
      key: "value",
      header: "Indicator",
      render: (row) => (
        <Anchor component={Link} to={`/indicators/${encodeURIComponent(row.indicator.id)}`} size="sm">
          <Value text={row.indicator.value ?? row.indicator.id} />
        </Anchor>
      ),
    },
    { key: "type", header: "Type", width: 80, render: (row) => row.indicator.type ?? "—" },
    { key: "notes", header: "Notes", render: (row) => <Value text={row.notes} max={60} /> },
    { key: "added", header: "Added", width: 150, render: (row) => <Time value={row.added_at} /> },
  ];
  if (owner) {
    columns.push({
      key: "actions",
      header: "Actions",
      width: 90,
      render: (row) => (
        <Button size="compact-xs" variant="subtle" color="red" aria-label={`Remove ${row.indicator.value ?? row.indicator.id}`}
          onClick={() => setRemoving(row)}>
          Remove
        </Button>
      ),
    });
  }
  const rows = members.data?.items;
  return (
    <Stack gap="sm">
      <PageHeader
        title={item.name}
        help={`IOC collection · ${plural(item.indicator_count, "indicator")} · ${item.is_public ? "public" : "private"}`}
        actions={
          owner && <EditDeleteButtons onEdit={() => setEditing(true)} onDelete={() => setDeleting(true)} />
        }
      />
      <Notice text={notice} />
      <PlainText text={item.description} empty="No description." />
      <Facts caption="The collection's properties" rows={[
        ["Visibility", item.is_public ? "Public: everyone sees it" : "Private: its creator and admins"],
        ["TLP", <TlpBadge value={item.tlp} />],
        ["Created", <Time value={item.created_at} />],
        ["Updated", <Time value={item.updated_at} />],
      ]} />
      {owner && <AddIndicators collectionId={id} onDone={async (text) => {
        setNotice(text);
        await refresh();
      }} />}
      <Title order={2} size="h4">
        Indicators
      </Title>
      {members.error ? <ProblemAlert error={members.error} /> : null}
      <DataTable caption={`Indicators of ${item.name}`} columns={columns} rows={rows} rowKey={(row) => row.indicator.id}
        loading={members.isPending}
        empty={owner ? "No indicators yet. Add some above by value or id, or from the Indicators page." : "No indicators yet."} />
      <Pager nextCursor={members.data?.next_cursor} total={members.data?.total} shown={rows?.length ?? 0} />
      <CollectionForm opened={editing} collection={item} onClose={() => setEditing(false)}
        onSaved={(saved) => {
          setEditing(false);
          setNotice(`Saved ${saved.name}.`);
        }} />
      <ConfirmModal centered opened={deleting} title="Delete the collection?" confirmLabel="Delete collection"
        onConfirm={() => destroy.mutate()} onClose={() => setDeleting(false)} loading={destroy.isPending} error={destroy.error}>
        {`${item.name} will be deleted. Its ${plural(item.indicator_count, "indicator")} stay in the database.`}
      </ConfirmModal>
      <ConfirmModal centered opened={!!removing} title="Remove the indicator?" confirmLabel="Remove"
        onConfirm={() => removing && remove.mutate(removing)}
        onClose={() => {
          setRemoving(null);
          remove.reset();
        }}
        loading={remove.isPending} error={remove.error}>
        {removing ? `${removing.indicator.value ?? removing.indicator.id} will leave ${item.name}. The indicator itself stays.` : ""}
      </ConfirmModal>
    </Stack>
  );
}

function AddIndicators({ collectionId, onDone }: { collectionId: string; onDone: (text: string) => Promise<void> }) {
  const [text, setText] = useState("");
  const [notes, setNotes] = useState("");
  const [result, setResult] = useState<Change | null>(null);
  const add = useMutation({
    mutationFn: (indicators: string[]) =>
      unwrap(
        api.POST("/api/v1/ioc-collections/{collection_id}/indicators", {
          params: { path: { collection_id: collectionId } },
          body: { indicators, notes: notes.trim() || null },
        }),
      ),
    onSuccess: async (change) => {
      setResult(change);
      if (change.not_found.length === 0 && change.unreadable.length === 0) setText("");
      await onDone(describeCollectionChange(change));
    },
  });
  const wanted = valuesOf(text);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (wanted.length > 0) add.mutate(wanted);
  };
  return (
    <Paper withBorder p="sm" radius="sm">
      <form onSubmit={submit} aria-label="Add indicators">
        <Stack gap="xs">
          <Title order={2} size="h4">
            Add indicators
          </Title>
          <Group gap="xs" align="flex-end" wrap="wrap">
            <Textarea label="Indicators to add" description="Values (defanged is fine) or ids, one a line; they must already be known"
              autosize minRows={2} maxRows={10} w={420} value={text} onChange={(event) => setText(event.currentTarget.value)}
              onKeyDown={(event) => {
                if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) submit(event);
              }} />
            <TextInput label="Notes" description="Kept on each added indicator" w={260} value={notes}
              onChange={(event) => setNotes(event.currentTarget.value)} />
            <Button type="submit" disabled={wanted.length === 0} loading={add.isPending}>
              Add {wanted.length > 1 ? `${wanted.length} indicators` : "indicators"}
            </Button>
          </Group>
          {add.error ? <ProblemAlert error={add.error} /> : null}
          {result && (result.not_found.length > 0 || result.unreadable.length > 0) && (
            <Stack gap={0}>
              {result.not_found.slice(0, 50).map((value) => (
                <Text key={`nf-${value}`} size="sm" c="red.9">
                  <span className="mono">{value}</span> — no known indicator
                </Text>
              ))}
              {result.unreadable.slice(0, 50).map((value) => (
                <Text key={`ur-${value}`} size="sm" c="red.9">
                  <span className="mono">{value}</span> — not an indicator of any type
                </Text>
              ))}
            </Stack>
          )}
        </Stack>
      </form>
    </Paper>
  );
}
