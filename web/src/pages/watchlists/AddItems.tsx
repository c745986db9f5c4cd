// Putting values on a watchlist: typed (one a line), from a text or CSV file, or every
// indicator of an IOC collection. The server reads defanged values and says what it refused.
import { Button, FileInput, Group, Paper, Select, Stack, Tabs, Text, Textarea, TextInput } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";

import { api, send, unwrap, type Schemas } from "../../api/client";
import { ProblemAlert } from "../../components/ProblemAlert";
import { Notice } from "../catalog/common";
import { dateValue, plural, valuesOf } from "../catalog/text";

type Change = Schemas["ItemsChange"];

/** What adding or importing did, in one sentence. */
export function describeChange(change: Change): string {
  const parts = [`added ${change.added.toLocaleString()}`];
  if (change.updated) parts.push(`updated ${change.updated.toLocaleString()}`);
  if (change.unchanged) parts.push(`${change.unchanged.toLocaleString()} already there`);
  if (change.rejected) parts.push(`refused ${change.rejected.toLocaleString()}`);
  const sentence = parts.join(", ");
  return `${sentence[0].toUpperCase()}${sentence.slice(1)}; the list holds ${plural(change.item_count, "item")}.`;
}

/** The file as the media type the import takes: CSV by its name or type, else plain text. */
export function importBody(file: File, text: string): Blob {
  const csv = file.type === "text/csv" || /\.csv$/i.test(file.name);
  return new Blob([text], { type: csv ? "text/csv" : "text/plain" });
}

export function AddItems({ watchlistId }: { watchlistId: string }) {
  const client = useQueryClient();
  const [tab, setTab] = useState<string | null>("type");
  const [values, setValues] = useState("");
  const [notes, setNotes] = useState("");
  const [expires, setExpires] = useState("");
  const [file, setFile] = useState<File | null>(null);
  const [column, setColumn] = useState("");
  const [collection, setCollection] = useState<string | null>(null);
  const [result, setResult] = useState<Change | null>(null);
  const done = async (change: Change) => {
    setResult(change);
    await client.invalidateQueries({ queryKey: ["watchlists"] });
  };
  const add = useMutation({
    mutationFn: (items: string[]) =>
      unwrap(
        api.POST("/api/v1/watchlists/{watchlist_id}/items", {
          params: { path: { watchlist_id: watchlistId } },
          body: { items, notes: notes.trim() || null, expires_at: dateValue(expires) },
        }),
      ),
    onSuccess: async (change) => {
      if (change.rejected === 0) setValues("");
      await done(change);
    },
  });
  const upload = useMutation({
    mutationFn: async (body: Blob) => {
      const query = new URLSearchParams();
      if (body.type === "text/csv" && column.trim()) query.set("column", column.trim());
      if (notes.trim()) query.set("notes", notes.trim());
      const expiry = dateValue(expires);
      if (expiry) query.set("expires_at", expiry);
      const suffix = query.toString() ? `?${query.toString()}` : "";
      return send<Change>("POST", `/api/v1/watchlists/${encodeURIComponent(watchlistId)}/items/import${suffix}`, body);
    },
    onSuccess: async (change) => {
      setFile(null);
      await done(change);
    },
  });
  const collections = useQuery({
    queryKey: ["ioc-collections", "choices"],
    queryFn: () => unwrap(api.GET("/api/v1/ioc-collections", { params: { query: { limit: 200 } } })),
    enabled: tab === "collection",
  });
  const wanted = valuesOf(values);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setResult(null);
    if (tab === "type" && wanted.length > 0) add.mutate(wanted);
    if (tab === "file" && file) upload.mutate(importBody(file, await file.text()));
    if (tab === "collection" && collection) {
      const body = { collection_id: collection, notes: notes.trim() || null, expires_at: dateValue(expires) };
      upload.mutate(new Blob([JSON.stringify(body)], { type: "application/json" }));
    }
  };
  const pending = add.isPending || upload.isPending;
  const ready = (tab === "type" && wanted.length > 0) || (tab === "file" && !!file) || (tab === "collection" && !!collection);
  return (
    <Paper withBorder p="sm" radius="sm">
      <form onSubmit={(event) => void submit(event)} aria-label="Add items">
        <Stack gap="xs">
          <Tabs value={tab} onChange={setTab} variant="outline">
            <Tabs.List>
              <Tabs.Tab value="type">Type values</Tabs.Tab>
              <Tabs.Tab value="file">Import a file</Tabs.Tab>
              <Tabs.Tab value="collection">From an IOC collection</Tabs.Tab>
            </Tabs.List>
            <Tabs.Panel value="type" pt="xs">
              <Textarea label="Values to add" description="One a line; defanged values (hxxp://evil[.]example) are read too; # starts a comment"
                autosize minRows={3} maxRows={12} value={values} onChange={(event) => setValues(event.currentTarget.value)}
                onKeyDown={(event) => {
                  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) void submit(event);
                }} />
            </Tabs.Panel>
            <Tabs.Panel value="file" pt="xs">
              <Group gap="xs" align="flex-end">
                <FileInput label="File to import" description="Text (one value a line) or CSV with a header"
                  placeholder="Choose a .txt or .csv file" accept=".txt,.csv,.lst,text/plain,text/csv" clearable w={320}
                  value={file} onChange={setFile} />
                <TextInput label="CSV column" description="Header of the value column (default: the first)" w={240}
                  value={column} onChange={(event) => setColumn(event.currentTarget.value)} />
              </Group>
            </Tabs.Panel>
            <Tabs.Panel value="collection" pt="xs">
              <Select label="IOC collection" description="Its indicators are added" placeholder="Choose a collection" w={360}
                searchable data={(collections.data?.items ?? []).map((item) => ({ value: item.id, label: item.name }))}
                value={collection} onChange={setCollection}
                nothingFoundMessage={collections.isPending ? "Loading…" : "No collection"} />
            </Tabs.Panel>
          </Tabs>
          <Group gap="xs" align="flex-end">
            <TextInput label="Notes" description="Kept on each item" w={280} value={notes}
              onChange={(event) => setNotes(event.currentTarget.value)} />
            <TextInput label="Expires on" description="Empty: never" type="date" w={170} value={expires}
              onChange={(event) => setExpires(event.currentTarget.value)} />
            <Button type="submit" disabled={!ready} loading={pending}>
              {tab === "type" ? `Add ${wanted.length > 1 ? `${wanted.length} values` : "items"}` : "Import"}
            </Button>
          </Group>
          {add.error || upload.error ? <ProblemAlert error={add.error ?? upload.error} /> : null}
          <Notice text={result ? describeChange(result) : null} />
          {result && result.rejections.length > 0 && (
            <Stack gap={0} aria-label="Refused values">
              {result.rejections.slice(0, 50).map((item, index) => (
                <Text key={`${item.value}-${index}`} size="sm" c="red.9">
                  {item.line ? `Line ${item.line}: ` : ""}
                  <span className="mono">{item.value}</span> — {item.reason}
                </Text>
              ))}
              {result.rejections.length > 50 && (
                <Text size="sm" c="dimmed">
                  …and {result.rejections.length - 50} more.
                </Text>
              )}
            </Stack>
          )}
        </Stack>
      </form>
    </Paper>
  );
}
