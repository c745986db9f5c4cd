// One watchlist: what it is, its items (filtered and paged on the server, in the URL), and for
// analysts adding, importing and removing items, switching it on or off, and deleting it.
import { Badge, Button, Checkbox, Group, Stack, Switch, Text } from "@mantine/core";
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useParams } from "react-router-dom";

import { api, unwrap, type Schemas } from "../../api/client";
import { Can, useAuth } from "../../app/auth";
import { useUrlState } from "../../app/urlState";
import { useDeleteAndLeave } from "../../app/useDeleteAndLeave";
import { ConfirmModal } from "../../components/ConfirmModal";
import { DataTable, type Column } from "../../components/DataTable";
import { Time, Value } from "../../components/format";
import { PageHeader } from "../../components/PageHeader";
import { Pager } from "../../components/Pager";
import { ProblemAlert } from "../../components/ProblemAlert";
import { QueryFallback } from "../../components/QueryState";
import { Notice, PlainText, SearchField, useNotice } from "../catalog/common";
import { EditDeleteButtons } from "../catalog/EditDeleteButtons";
import { plural } from "../catalog/text";
import { AddItems } from "./AddItems";
import { typeLabel, WatchlistForm } from "./WatchlistForm";

type Item = Schemas["krsn__detection__watchlists__schemas__ItemRead"];

export default function WatchlistPage() {
  const { id = "" } = useParams();
  const client = useQueryClient();
  const writer = useAuth().can("write_intel");
  const [url, set] = useUrlState<"q" | "expired" | "sort">({ sort: "value" });
  const [notice, setNotice] = useNotice();
  const [editing, setEditing] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const [removing, setRemoving] = useState<Item | null>(null);
  const watchlist = useQuery({
    queryKey: ["watchlists", id],
    queryFn: () => unwrap(api.GET("/api/v1/watchlists/{watchlist_id}", { params: { path: { watchlist_id: id } } })),
  });
  const items = useQuery({
    queryKey: ["watchlists", id, "items", url.q, url.expired, url.sort, url.cursor],
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/watchlists/{watchlist_id}/items", {
          params: {
            path: { watchlist_id: id },
            query: {
              q: url.q || undefined,
              include_expired: url.expired !== "false",
              sort: (url.sort as "value" | "-value" | "added" | "-added") || "value",
              cursor: url.cursor || undefined,
              limit: 50,
            },
          },
        }),
      ),
    placeholderData: keepPreviousData,
  });
  const toggle = useMutation({
    mutationFn: (is_active: boolean) =>
      unwrap(api.PATCH("/api/v1/watchlists/{watchlist_id}", { params: { path: { watchlist_id: id } }, body: { is_active } })),
    onSuccess: async (saved) => {
      setNotice(saved.is_active ? "The watchlist is active: it matches again." : "The watchlist is inactive: it keeps its items but no longer matches.");
      await client.invalidateQueries({ queryKey: ["watchlists"] });
    },
  });
  const remove = useMutation({
    mutationFn: (item: Item) =>
      unwrap(
        api.DELETE("/api/v1/watchlists/{watchlist_id}/items/{item_id}", {
          params: { path: { watchlist_id: id, item_id: item.id } },
        }),
      ),
    onSuccess: async (_data, item) => {
      setRemoving(null);
      setNotice(`Removed ${item.item_value}.`);
      await client.invalidateQueries({ queryKey: ["watchlists"] });
    },
  });
  const destroy = useDeleteAndLeave({
    mutationFn: () => unwrap(api.DELETE("/api/v1/watchlists/{watchlist_id}", { params: { path: { watchlist_id: id } } })),
    detailKey: ["watchlists", id],
    refresh: [["watchlists"]],
    to: "/watchlists",
    notice: () => `Deleted ${watchlist.data?.name ?? "The watchlist"}.`,
  });

  if (!watchlist.isSuccess) return <QueryFallback query={watchlist} title="Watchlist" />;
  const list = watchlist.data;
  const columns: Column<Item>[] = [
    { key: "value", header: "Value", sort: "value", render: (row) => <Value text={row.item_value} /> },
    { key: "type", header: "Type", width: 80, render: (row) => row.item_type },
    { key: "notes", header: "Notes", render: (row) => <Value text={row.notes} max={60} /> },
    { key: "added", header: "Added", sort: "added", width: 150, render: (row) => <Time value={row.added_at} /> },
    {
      key: "expires",
      header: "Expires",
      width: 170,
      render: (row) => (
        <Group gap={4} wrap="nowrap">
          <Time value={row.expires_at} />
          {row.expired && (
            <Badge size="xs" color="gray" variant="light" c="gray.9">
              expired
            </Badge>
          )}
        </Group>
      ),
    },
  ];
  if (writer) {
    columns.push({
      key: "actions",
      header: "Actions",
      width: 90,
      render: (row) => (
        <Button size="compact-xs" variant="subtle" color="red" aria-label={`Remove ${row.item_value}`} onClick={() => setRemoving(row)}>
          Remove
        </Button>
      ),
    });
  }
  const rows = items.data?.items;
  return (
    <Stack gap="sm">
      <PageHeader
        title={list.name}
        help={`${typeLabel(list.list_type)} · ${plural(list.item_count, "item")} · ${list.is_active ? "active" : "inactive"}`}
        actions={
          <Can permission="write_intel">
            <Switch label="Active" checked={list.is_active} disabled={toggle.isPending}
              onChange={(event) => toggle.mutate(event.currentTarget.checked)} />
            <EditDeleteButtons onEdit={() => setEditing(true)} onDelete={() => setDeleting(true)} />
          </Can>
        }
      />
      <PlainText text={list.description} empty="No description." />
      <Text size="xs" c="dimmed">
        Created <Time value={list.created_at} /> · updated <Time value={list.updated_at} />
      </Text>
      <Notice text={notice} />
      {toggle.error ? <ProblemAlert error={toggle.error} /> : null}
      <Can permission="write_intel">
        <AddItems watchlistId={id} />
      </Can>
      <Group gap="xs" align="flex-end">
        <SearchField label="Value starts with" placeholder="10.0., evil.example" value={url.q} onSearch={(q) => set({ q }, true)} />
        <Checkbox label="Include expired items" checked={url.expired !== "false"} mb={8}
          onChange={(event) => set({ expired: event.currentTarget.checked ? undefined : "false" })} />
      </Group>
      {items.error ? <ProblemAlert error={items.error} /> : null}
      <DataTable caption={`Items of ${list.name}`} columns={columns} rows={rows} rowKey={(row) => row.id}
        loading={items.isPending} sort={url.sort} onSort={(sort) => set({ sort })}
        empty={url.q ? "No item starts with this." : writer ? "The list is empty. Type values above, or import a file." : "The list is empty."} />
      <Pager nextCursor={items.data?.next_cursor} total={items.data?.total} shown={rows?.length ?? 0} />
      <WatchlistForm opened={editing} onClose={() => setEditing(false)} watchlist={list}
        onSaved={(saved) => {
          setEditing(false);
          setNotice(`Saved ${saved.name}.`);
        }} />
      <ConfirmModal centered opened={deleting} title="Delete the watchlist?" confirmLabel="Delete watchlist"
        onConfirm={() => destroy.mutate()} onClose={() => setDeleting(false)} loading={destroy.isPending} error={destroy.error}>
        {`${list.name} and its ${plural(list.item_count, "item")} will be deleted. This cannot be undone.`}
      </ConfirmModal>
      <ConfirmModal centered opened={!!removing} title="Remove the item?" confirmLabel="Remove"
        onConfirm={() => removing && remove.mutate(removing)}
        onClose={() => {
          setRemoving(null);
          remove.reset();
        }}
        loading={remove.isPending} error={remove.error}>
        {removing ? `${removing.item_value} will no longer be on ${list.name}.` : ""}
      </ConfirmModal>
    </Stack>
  );
}
