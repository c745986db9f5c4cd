// What enrichers said about an entity (WHOIS, DNS, geolocation …), newest first, as text.
import { Badge, Code, Group, Paper, Stack, Text, Title } from "@mantine/core";

import { Time } from "../../components/format";

interface Enrichment {
  id?: string;
  enrichment_type?: string;
  enricher?: string | null;
  confidence?: number | null;
  data?: unknown;
  enriched_at?: string | null;
  expired?: boolean;
}

/** The fields the page shows, from an enrichment whose shape the API does not pin down. */
export function asEnrichment(value: Record<string, unknown>): Enrichment {
  const text = (key: string) => (typeof value[key] === "string" ? (value[key] as string) : null);
  return {
    id: text("id") ?? undefined,
    enrichment_type: text("enrichment_type") ?? undefined,
    enricher: text("enricher"),
    confidence: typeof value.confidence === "number" ? value.confidence : null,
    data: value.data,
    enriched_at: text("enriched_at"),
    expired: value.expired === true,
  };
}

export function Enrichments({ items }: { items: Record<string, unknown>[] }) {
  const enrichments = items.map(asEnrichment);
  return (
    <Paper withBorder p="md" radius="sm">
      <Title order={2} size="h4" mb="xs">Enrichments</Title>
      {enrichments.length === 0 ? (
        <Text size="sm" c="dimmed">No enrichment yet: enrichers add WHOIS, DNS or reputation data here as they run.</Text>
      ) : (
        <Stack gap="sm">
          {enrichments.map((item, index) => (
            <Stack key={item.id ?? index} gap={4}>
              <Group gap={6}>
                <Badge size="sm" variant="light">{item.enrichment_type ?? "enrichment"}</Badge>
                <Text size="sm">{item.enricher ?? "unknown enricher"}</Text>
                <Text size="xs" c="dimmed"><Time value={item.enriched_at} /></Text>
                {item.expired && <Badge size="xs" color="gray" variant="outline">expired</Badge>}
              </Group>
              <Code block style={{ maxHeight: 200, overflow: "auto" }}>{JSON.stringify(item.data ?? null, null, 2)}</Code>
            </Stack>
          ))}
        </Stack>
      )}
    </Paper>
  );
}
