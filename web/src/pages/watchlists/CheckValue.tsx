// "Is this on a watchlist?": the value lives in the URL, so a check can be shared.
import { Anchor, Badge, Button, Group, Paper, Stack, Text, TextInput, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { useEffect, useState, type FormEvent } from "react";
import { Link } from "react-router-dom";

import { api, unwrap, type Schemas } from "../../api/client";
import { DataTable, type Column } from "../../components/DataTable";
import { Time, Value } from "../../components/format";
import { ProblemAlert } from "../../components/ProblemAlert";
import { typeLabel } from "./WatchlistForm";

type Hit = Schemas["CheckHit"];

const COLUMNS: Column<Hit>[] = [
  {
    key: "list",
    header: "Watchlist",
    render: (hit) => (
      <Anchor component={Link} to={`/watchlists/${encodeURIComponent(hit.watchlist_id)}`} size="sm">
        {hit.watchlist_name}
      </Anchor>
    ),
  },
  { key: "type", header: "Type", render: (hit) => typeLabel(hit.list_type) },
  {
    key: "effect",
    header: "Effect",
    render: (hit) => (
      <Badge size="sm" variant="light" c="gray.9" color={hit.effect === "alert" ? "red" : "gray"} autoContrast>
        {hit.effect === "alert" ? "raises alerts" : "suppresses alerts"}
      </Badge>
    ),
  },
  { key: "item", header: "Matching item", render: (hit) => <Value text={hit.item.item_value} /> },
  { key: "expires", header: "Expires", render: (hit) => <Time value={hit.item.expires_at} /> },
];

export function CheckValue({ value, onCheck }: { value?: string; onCheck: (value: string | undefined) => void }) {
  const [text, setText] = useState(value ?? "");
  useEffect(() => setText(value ?? ""), [value]);
  const query = useQuery({
    queryKey: ["watchlists", "check", value],
    queryFn: () => unwrap(api.GET("/api/v1/watchlists/check", { params: { query: { value: value! } } })),
    enabled: !!value,
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    onCheck(text.trim() || undefined);
  };
  const result = query.data;
  return (
    <Paper withBorder p="sm" radius="sm">
      <Stack gap="xs">
        <Title order={2} size="h4">
          Check a value
        </Title>
        <form onSubmit={submit}>
          <Group gap="xs" align="flex-end">
            <TextInput label="Value to check" description="An IP, range, domain, URL, hash or e-mail; defanged is fine"
              placeholder="hxxp://evil[.]example/x" w={360} value={text}
              onChange={(event) => setText(event.currentTarget.value)} />
            <Button type="submit" variant="light" disabled={!text.trim()} loading={query.isFetching}>
              Check
            </Button>
            {value && (
              <Button variant="subtle" onClick={() => onCheck(undefined)}>
                Clear
              </Button>
            )}
          </Group>
        </form>
        {query.error ? <ProblemAlert error={query.error} /> : null}
        {result && (
          <>
            <Text size="sm" role="status">
              <Value text={result.canonical} /> ({result.kind}){" "}
              {result.hits.length === 0
                ? "is on no active watchlist."
                : `is on ${result.hits.length} active watchlist${result.hits.length === 1 ? "" : "s"}.`}
            </Text>
            {result.hits.length > 0 && (
              <DataTable caption="Watchlists holding the value" columns={COLUMNS} rows={result.hits}
                rowKey={(hit) => `${hit.watchlist_id}-${hit.item.id}`} />
            )}
          </>
        )}
      </Stack>
    </Paper>
  );
}
