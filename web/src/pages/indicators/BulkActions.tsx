// Bulk actions on the selected indicators: tag, false positive, add to a watchlist or an IOC
// collection. Each runs through the same REST calls as a single change would.
import { Button, Group, Paper, Select, Text, TextInput } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";

import { api, unwrap, type Schemas } from "../../api/client";
import { ProblemAlert } from "../../components/ProblemAlert";

type Indicator = Schemas["IndicatorRead"];

export function BulkActions({ items, onDone }: { items: Indicator[]; onDone: () => void }) {
  const client = useQueryClient();
  const [tag, setTag] = useState("");
  const [watchlist, setWatchlist] = useState<string | null>(null);
  const [collection, setCollection] = useState<string | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const watchlists = useQuery({
    queryKey: ["watchlists", "choices"],
    queryFn: () => unwrap(api.GET("/api/v1/watchlists", { params: { query: { limit: 200 } } })),
    enabled: items.length > 0,
  });
  const collections = useQuery({
    queryKey: ["ioc-collections", "choices"],
    queryFn: () => unwrap(api.GET("/api/v1/ioc-collections", { params: { query: { limit: 200 } } })),
    enabled: items.length > 0,
  });
  const done = async (text: string) => {
    setMessage(text);
    await client.invalidateQueries({ queryKey: ["indicators"] });
    onDone();
  };
  const patchAll = useMutation({
    mutationFn: async (body: Schemas["IndicatorUpdate"]) => {
      for (const item of items) {
        await unwrap(api.PATCH("/api/v1/indicators/{key}", { params: { path: { key: item.id } }, body }));
      }
      return items.length;
    },
  });
  const toWatchlist = useMutation({
    mutationFn: () =>
      unwrap(
        api.POST("/api/v1/watchlists/{watchlist_id}/items", {
          params: { path: { watchlist_id: watchlist! } },
          body: { items: items.map((item) => item.indicator_value) },
        }),
      ),
  });
  const toCollection = useMutation({
    mutationFn: () =>
      unwrap(
        api.POST("/api/v1/ioc-collections/{collection_id}/indicators", {
          params: { path: { collection_id: collection! } },
          body: { indicators: items.map((item) => item.id) },
        }),
      ),
  });
  if (items.length === 0) return null;
  const error = patchAll.error ?? toWatchlist.error ?? toCollection.error;
  return (
    <Paper component="section" withBorder p="xs" radius="sm" aria-label="Bulk actions">
      <Group gap="xs" align="flex-end" wrap="wrap">
        <Text size="sm" fw={600}>
          {items.length} selected
        </Text>
        <TextInput size="xs" label="Tag" placeholder="tag" value={tag} onChange={(event) => setTag(event.currentTarget.value)} />
        <Button size="xs" disabled={!tag.trim()} loading={patchAll.isPending}
          onClick={() => patchAll.mutate({ tags_add: [tag.trim()] }, { onSuccess: (n) => void done(`Tagged ${n} indicators.`) })}>
          Add tag
        </Button>
        <Button size="xs" color="gray" loading={patchAll.isPending}
          onClick={() => patchAll.mutate({ false_positive: true }, { onSuccess: (n) => void done(`Marked ${n} as false positive.`) })}>
          Mark false positive
        </Button>
        <Select size="xs" label="Watchlist" placeholder="Choose" w={180} value={watchlist} onChange={setWatchlist}
          data={(watchlists.data?.items ?? []).map((item) => ({ value: item.id, label: item.name }))} />
        <Button size="xs" disabled={!watchlist} loading={toWatchlist.isPending}
          onClick={() => toWatchlist.mutate(undefined, { onSuccess: () => void done("Added to the watchlist.") })}>
          Add to watchlist
        </Button>
        <Select size="xs" label="IOC collection" placeholder="Choose" w={180} value={collection} onChange={setCollection}
          data={(collections.data?.items ?? []).map((item) => ({ value: item.id, label: item.name }))} />
        <Button size="xs" disabled={!collection} loading={toCollection.isPending}
          onClick={() => toCollection.mutate(undefined, { onSuccess: () => void done("Added to the collection.") })}>
          Add to collection
        </Button>
      </Group>
      {message && <Text size="sm" c="var(--mantine-color-green-text)" mt={4} role="status">{message}</Text>}
      {error && <ProblemAlert error={error} />}
    </Paper>
  );
}
