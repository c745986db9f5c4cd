// Full-text search over entities, indicators, documents (and, for admins, the audit log); hits
// grouped by index, highlights rendered as text. The query and the index live in the URL.
import { Anchor, Badge, Button, Group, Paper, SegmentedControl, Stack, Text, TextInput, Title } from "@mantine/core";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useEffect, useState, type FormEvent } from "react";
import { Link } from "react-router-dom";

import { api, unwrap, type Schemas } from "../../api/client";
import { useAuth } from "../../app/auth";
import { useUrlState } from "../../app/urlState";
import { EmptyState } from "../../components/EmptyState";
import { formatScore, Time } from "../../components/format";
import { PageHeader } from "../../components/PageHeader";
import { ProblemAlert } from "../../components/ProblemAlert";
import { label } from "./format";
import { Highlighted } from "./highlight";

type Hit = Schemas["SearchHit"];
type Index = Schemas["SearchIndex"];

const INDEX_ORDER: Index[] = ["entities", "indicators", "documents", "audit_logs"];
export const INDEX_TITLES: Record<Index, string> = {
  entities: "Entities",
  indicators: "Indicators",
  documents: "Documents",
  audit_logs: "Audit log",
};

/** The app's own page of a hit, when it has one. */
export function hitHref(hit: Pick<Hit, "index" | "id">): string | null {
  const id = encodeURIComponent(hit.id);
  if (hit.index === "entities") return `/osint/entities/${id}`;
  if (hit.index === "indicators") return `/indicators/${id}`;
  return null;
}

/** Hits by index, in a fixed order, leaving out empty groups. */
export function groupHits(hits: Hit[]): [Index, Hit[]][] {
  return INDEX_ORDER.map((index) => [index, hits.filter((hit) => hit.index === index)] as [Index, Hit[]]).filter(
    ([, group]) => group.length > 0,
  );
}

export default function SearchPage() {
  const { can } = useAuth();
  const [url, set] = useUrlState<"q" | "index">();
  const [text, setText] = useState(url.q ?? "");
  useEffect(() => setText(url.q ?? ""), [url.q]);
  const index = INDEX_ORDER.includes(url.index as Index) ? (url.index as Index) : undefined;
  const search = useQuery({
    queryKey: ["search", url.q, index],
    enabled: !!url.q,
    queryFn: () =>
      unwrap(api.GET("/api/v1/search", { params: { query: { q: url.q!, index: index ? [index] : undefined, limit: 50 } } })),
    placeholderData: keepPreviousData,
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    set({ q: text.trim() || undefined });
  };
  const choices = [
    { value: "all", label: "All" },
    ...INDEX_ORDER.filter((item) => item !== "audit_logs" || can("admin")).map((item) => ({ value: item, label: INDEX_TITLES[item] })),
  ];
  const groups = search.data ? groupHits(search.data.items) : [];
  return (
    <Stack gap="sm">
      <PageHeader title="Search" help='All words must match; "a phrase", prefix*, -excluded. A domain is found by any of its labels.' />
      <form onSubmit={submit} role="search" aria-label="Search the intelligence">
        <Group gap="xs" align="flex-end">
          <TextInput label="Search for" placeholder="evil.com, 203.0.113.7, Acme Holdings" w={420} value={text}
            onChange={(event) => setText(event.currentTarget.value)} />
          <Button type="submit" disabled={!text.trim()}>Search</Button>
        </Group>
      </form>
      <div>
        <Text size="sm" fw={500} id="search-index-label">In</Text>
        <SegmentedControl size="xs" aria-labelledby="search-index-label" data={choices} value={index ?? "all"}
          onChange={(value) => set({ index: value === "all" ? undefined : value })} />
      </div>
      {search.error && <ProblemAlert error={search.error} />}
      {!url.q && (
        <EmptyState title="Search entities, indicators and documents">
          Type a value or words above and press Enter. The search box at the top of every page (key /) comes here too.
        </EmptyState>
      )}
      {url.q && search.isPending && <Text size="sm" c="dimmed" aria-busy="true">Searching…</Text>}
      {search.data && (
        <Text size="sm" c="dimmed" role="status">
          {search.data.items.length === 0
            ? `Nothing matches ${search.data.query}.`
            : `${search.data.items.length} best of ${search.data.approximate ? "about " : ""}${search.data.total_estimate.toLocaleString()} matches for ${search.data.query}.`}
          {search.data.truncated ? " The query was cut to its first terms." : ""}
        </Text>
      )}
      {search.data && search.data.items.length === 0 && (
        <EmptyState title="No results">
          Check the spelling, drop a word, or end a word with * to match its start.
          {index ? " Or search all indices." : ""}
        </EmptyState>
      )}
      {groups.map(([group, hits]) => (
        <Paper component="section" key={group} withBorder p="md" radius="sm" aria-label={INDEX_TITLES[group]}>
          <Title order={2} size="h4" mb="xs">
            {INDEX_TITLES[group]} ({hits.length})
          </Title>
          <Stack gap="sm">
            {hits.map((hit) => (
              <SearchResult key={`${hit.index}:${hit.id}`} hit={hit} />
            ))}
          </Stack>
        </Paper>
      ))}
    </Stack>
  );
}

function SearchResult({ hit }: { hit: Hit }) {
  const href = hitHref(hit);
  return (
    <Stack gap={2}>
      <Group gap={6}>
        {href ? (
          <Anchor component={Link} to={href} fw={600} size="sm">
            <span className="mono">{hit.title}</span>
          </Anchor>
        ) : (
          <Text fw={600} size="sm" className="mono">{hit.title}</Text>
        )}
        {hit.type && <Badge size="xs" variant="light" color="gray">{label(hit.type)}</Badge>}
        <Badge size="xs" variant="outline" color="gray">{hit.match}</Badge>
        {hit.risk !== null && hit.risk !== undefined && (
          <Text size="xs">{hit.index === "indicators" ? "Threat score" : "Risk"} {formatScore(hit.risk)}</Text>
        )}
        {hit.seen_at && <Text size="xs" c="dimmed"><Time value={hit.seen_at} /></Text>}
      </Group>
      <Text size="sm" style={{ overflowWrap: "anywhere" }}>
        <Text span size="xs" c="dimmed">{hit.field}: </Text>
        <Highlighted fragments={hit.fragments} snippet={hit.snippet} />
      </Text>
      {hit.tags.length > 0 && (
        <Group gap={4}>
          {hit.tags.slice(0, 6).map((tag) => (
            <Badge key={tag} size="xs" variant="dot" color="gray" tt="none">{tag}</Badge>
          ))}
        </Group>
      )}
    </Stack>
  );
}
