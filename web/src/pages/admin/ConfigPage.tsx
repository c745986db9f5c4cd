// System configuration: keys with JSON values. The category filter and the key being edited
// live in the URL; a value is edited as JSON text and checked before it is sent.
import { Button, Group, Select, Stack, Text, Textarea, TextInput } from "@mantine/core";
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useMemo, useState, type FormEvent } from "react";

import { api, unwrap, type Schemas } from "../../api/client";
import { useUrlState } from "../../app/urlState";
import { ConfirmModal } from "../../components/ConfirmModal";
import { DataTable, type Column } from "../../components/DataTable";
import { FormButtons } from "../../components/FormButtons";
import { Time } from "../../components/format";
import { PageHeader } from "../../components/PageHeader";
import { Pager } from "../../components/Pager";
import { ProblemAlert } from "../../components/ProblemAlert";
import { AdminOnly } from "./AdminOnly";
import { formatSize, keyError, parseJsonValue, previewJson } from "./configValue";
import { ConfigModal } from "./ConfigModal";
import { RowActions } from "./RowActions";

type Entry = Schemas["ConfigRead"];
type Category = Schemas["ConfigCategory"];
export const CATEGORIES: Category[] = ["general", "security", "performance", "integration"];

export default function ConfigPage() {
  return (
    <AdminOnly title="Configuration">
      <Config />
    </AdminOnly>
  );
}

function Config() {
  const client = useQueryClient();
  const [url, set] = useUrlState<"category" | "edit">();
  const [creating, setCreating] = useState(false);
  const [deleting, setDeleting] = useState<Entry | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const list = useQuery({
    queryKey: ["config", "list", url.category, url.cursor],
    queryFn: () =>
      unwrap(api.GET("/api/v1/system/config", {
        params: { query: { category: (url.category as Category) || undefined, cursor: url.cursor || undefined, limit: 100 } },
      })),
    placeholderData: keepPreviousData,
  });
  const rows = list.data?.items;
  const previews = useMemo(() => new Map((rows ?? []).map((row) => [row.key, previewJson(row.value)])), [rows]);
  const editing = rows?.find((row) => row.key === url.edit);
  const remove = useMutation({
    mutationFn: (entry: Entry) => unwrap(api.DELETE("/api/v1/system/config/{key}", { params: { path: { key: entry.key } } })),
    onSuccess: async (_, entry) => {
      setDeleting(null);
      setMessage(`${entry.key} deleted.`);
      await client.invalidateQueries({ queryKey: ["config"] });
    },
  });
  const columns: Column<Entry>[] = [
    { key: "key", header: "Key", render: (row) => <span className="mono">{row.key}</span>, width: 220 },
    { key: "category", header: "Category", render: (row) => row.category, width: 100 },
    { key: "value", header: "Value", render: (row) => <span className="mono" title="Open to see the whole value">{previews.get(row.key)}</span> },
    { key: "description", header: "Description", render: (row) => row.description ?? "—" },
    { key: "updated", header: "Updated", render: (row) => <Time value={row.updated_at ?? row.created_at} />, width: 150 },
    {
      key: "actions", header: "Actions", width: 140,
      render: (row) => (
        <RowActions name={row.key} onEdit={() => set({ edit: row.key })} onDelete={() => {
          remove.reset();
          setDeleting(row);
        }} />
      ),
    },
  ];
  return (
    <Stack gap="sm">
      <PageHeader title="Configuration" help="System settings stored in the database, each a JSON value."
        actions={<Button onClick={() => setCreating(true)}>New key</Button>} />
      <Group gap="xs" align="flex-end">
        <Select label="Category" placeholder="Any" clearable w={160} data={CATEGORIES} value={url.category ?? null}
          onChange={(value) => set({ category: value ?? undefined })} />
      </Group>
      {message && <Text size="sm" c="teal.9" role="status">{message}</Text>}
      {list.error && <ProblemAlert error={list.error} />}
      <DataTable caption="Configuration keys" columns={columns} rows={rows} rowKey={(row) => row.key} loading={list.isPending}
        activeKey={url.edit}
        empty={url.category ? "No key in this category." : "No configuration stored yet. Add one with New key."} />
      <Pager nextCursor={list.data?.next_cursor} total={list.data?.total} shown={rows?.length ?? 0} />
      <ConfigModal opened={creating} title="New configuration key" onClose={() => setCreating(false)}>
        {creating && (
          <ConfigForm onClose={() => setCreating(false)} onSaved={(entry) => {
            setCreating(false);
            setMessage(`${entry.key} saved.`);
          }} />
        )}
      </ConfigModal>
      <ConfigModal opened={!!editing} title={editing ? `Edit ${editing.key}` : "Edit"} onClose={() => set({ edit: undefined })}>
        {editing && (
          <ConfigForm key={editing.key} entry={editing} onClose={() => set({ edit: undefined })} onSaved={(entry) => {
            set({ edit: undefined });
            setMessage(`${entry.key} saved.`);
          }} />
        )}
      </ConfigModal>
      <ConfirmModal opened={deleting !== null} title="Delete configuration key" confirmLabel="Delete key"
        onClose={() => setDeleting(null)} onConfirm={() => deleting && remove.mutate(deleting)}
        loading={remove.isPending} error={remove.error}>
        Delete {deleting?.key}? Whatever reads it falls back to its default.
      </ConfirmModal>
    </Stack>
  );
}

function ConfigForm({ entry, onClose, onSaved }: { entry?: Entry; onClose: () => void; onSaved: (entry: Entry) => void }) {
  const client = useQueryClient();
  const [key, setKey] = useState(entry?.key ?? "");
  const [text, setText] = useState(() => (entry ? JSON.stringify(entry.value, null, 2) : ""));
  const [description, setDescription] = useState(entry?.description ?? "");
  const [category, setCategory] = useState<Category>(entry?.category ?? "general");
  const [tried, setTried] = useState(false);
  const parsed = parseJsonValue(text);
  const badKey = entry ? null : keyError(key.trim());
  const save = useMutation({
    mutationFn: (value: unknown) =>
      unwrap(api.PUT("/api/v1/system/config/{key}", {
        params: { path: { key: entry?.key ?? key.trim() } },
        body: { value, description: description.trim() || null, category },
      })),
    onSuccess: async (saved) => {
      await client.invalidateQueries({ queryKey: ["config"] });
      onSaved(saved);
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    setTried(true);
    if (parsed.ok && !badKey) save.mutate(parsed.value);
  };
  return (
    <form onSubmit={submit} aria-label={entry ? `Edit ${entry.key}` : "New configuration key"} noValidate>
      <Stack gap="sm">
        {!entry && (
          <TextInput label="Key" required value={key} data-autofocus placeholder="alerts.retention_days"
            error={tried ? badKey : undefined} onChange={(event) => setKey(event.currentTarget.value)} />
        )}
        <Select label="Category" allowDeselect={false} data={CATEGORIES} value={category}
          onChange={(value) => value && setCategory(value as Category)} />
        <TextInput label="Description" value={description} onChange={(event) => setDescription(event.currentTarget.value)} />
        <Textarea label="Value (JSON)" required rows={12} classNames={{ input: "mono" }} value={text} spellCheck={false}
          description={`${formatSize(text)} · Ctrl+Enter saves`}
          error={tried && !parsed.ok ? parsed.error : undefined}
          onChange={(event) => setText(event.currentTarget.value)}
          onKeyDown={(event) => {
            if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) submit(event);
          }} />
        {save.error && <ProblemAlert error={save.error} title="Value not saved" />}
        <FormButtons submitLabel="Save" onCancel={onClose} loading={save.isPending} />
      </Stack>
    </form>
  );
}
