// Where the explorer starts: a node written as the API does, a value whose type is plain from its
// shape, or a name searched among entities and indicators.
import { Anchor, Button, Group, List, Paper, Text, TextInput } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { useEffect, useState, type FormEvent } from "react";

import { api, unwrap } from "../../api/client";
import { ProblemAlert } from "../../components/ProblemAlert";

export function GraphSearch({ initial, onStart }: { initial: string; onStart: (node: string) => void }) {
  const [text, setText] = useState(initial);
  useEffect(() => setText(initial), [initial]);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (text.trim()) onStart(text.trim());
  };
  return (
    <form onSubmit={submit} role="search" aria-label="Start the graph from a node">
      <Group gap="xs" align="flex-end">
        <TextInput
          label="Start from"
          placeholder="A name, domain, IP, e-mail, or entity:<id>"
          w={380}
          value={text}
          onChange={(event) => setText(event.currentTarget.value)}
        />
        <Button type="submit" disabled={!text.trim()}>
          Show graph
        </Button>
      </Group>
    </form>
  );
}

/** Entities and indicators matching a text that is not a node reference, each a possible start. */
export function StartMatches({ text, onStart }: { text: string; onStart: (node: string) => void }) {
  const search = useQuery({
    queryKey: ["search", "graph-start", text],
    queryFn: () =>
      unwrap(api.GET("/api/v1/search", { params: { query: { q: text, index: ["entities", "indicators"], limit: 10 } } })),
  });
  const hits = search.data?.items ?? [];
  return (
    <Paper withBorder p="sm" radius="sm">
      <Text size="sm" fw={600}>
        No node is written “{text}”.
      </Text>
      {search.error && <ProblemAlert error={search.error} />}
      {search.isPending && <Text size="sm" c="dimmed">Searching…</Text>}
      {!search.isPending && hits.length === 0 && !search.error && (
        <Text size="sm" c="dimmed">
          Nothing matches it either. Try part of a name, or a full value such as a domain or an address.
        </Text>
      )}
      {hits.length > 0 && (
        <>
          <Text size="sm" c="dimmed">Start from one of these matches:</Text>
          <List size="sm" spacing={2}>
            {hits.map((hit) => (
              <List.Item key={`${hit.index}:${hit.id}`}>
                <Anchor component="button" type="button" size="sm"
                  onClick={() => onStart(`${hit.index === "entities" ? "entity" : "indicator"}:${hit.id}`)}>
                  <span className="mono">{hit.title}</span>
                </Anchor>{" "}
                <Text span size="xs" c="dimmed">{hit.type ?? hit.index}</Text>
              </List.Item>
            ))}
          </List>
        </>
      )}
    </Paper>
  );
}
