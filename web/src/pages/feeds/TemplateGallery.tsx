// The built-in feeds as cards: what each brings, its format, and what has to be filled in
// before it can be added (parameters, an optional or required credential).
import { Badge, Button, Group, Paper, Select, Skeleton, Stack, Text, TextInput, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { Link } from "react-router-dom";

import { api, unwrap } from "../../api/client";
import { Can } from "../../app/auth";
import { useUrlState } from "../../app/urlState";
import { EmptyState } from "../../components/EmptyState";
import { ProblemAlert } from "../../components/ProblemAlert";
import type { FeedTemplate } from "./feedForm";

export function useTemplates() {
  return useQuery({
    queryKey: ["feeds", "templates"],
    queryFn: () => unwrap(api.GET("/api/v1/feed-templates")),
    staleTime: 10 * 60_000,
  });
}

export function matchesTemplate(template: FeedTemplate, text: string, format: string | undefined): boolean {
  if (format && template.format !== format) return false;
  const needle = text.trim().toLowerCase();
  if (!needle) return true;
  return [template.name, template.title, template.provider, template.description, ...template.tags, ...template.kinds]
    .some((field) => field.toLowerCase().includes(needle));
}

function needs(template: FeedTemplate): string {
  const parts = template.parameters.map((parameter) => `${parameter.name}${parameter.required ? "" : " (optional)"}`);
  if (template.credential) {
    parts.push(`${template.credential.name ?? "a credential"}${template.credential.required ? "" : " (optional)"}`);
  }
  return parts.length > 0 ? parts.join(", ") : "nothing: ready to add";
}

function TemplateCard({ template }: { template: FeedTemplate }) {
  const headingId = `template-${template.name}`;
  return (
    <Paper withBorder radius="sm" p="sm" component="article" aria-labelledby={headingId}
      style={{ display: "flex", flexDirection: "column", gap: 6 }}>
      <Group justify="space-between" wrap="nowrap" align="flex-start" gap="xs">
        <Title order={2} size="h6" id={headingId}>
          {template.title}
        </Title>
        <Badge size="sm" variant="light" color="blue" autoContrast style={{ flexShrink: 0 }}>
          {template.format}
        </Badge>
      </Group>
      <Text size="xs" c="dimmed">
        <span className="mono">{template.name}</span> · {template.provider} · {template.kinds.join(", ")}
      </Text>
      <Text size="sm" style={{ flex: 1 }}>
        {template.description}
      </Text>
      <Text size="xs">
        <Text span fw={600} size="xs">
          Needs:
        </Text>{" "}
        {needs(template)}
      </Text>
      <Text size="xs" c="dimmed">
        {template.licence}
      </Text>
      <Can permission="write_intel">
        <Group justify="flex-end">
          <Button size="xs" component={Link} to={`/feeds/new?template=${encodeURIComponent(template.name)}`}
            aria-label={`Add ${template.title}`}>
            Add
          </Button>
        </Group>
      </Can>
    </Paper>
  );
}

export function TemplateGallery() {
  const [url, set] = useUrlState<"tq" | "tformat">();
  const templates = useTemplates();
  const formats = [...new Set((templates.data ?? []).map((template) => template.format))].sort();
  const shown = (templates.data ?? []).filter((template) => matchesTemplate(template, url.tq ?? "", url.tformat));
  return (
    <Stack gap="sm">
      <Group gap="xs" align="flex-end">
        <TextInput label="Search templates" placeholder="abuse.ch, phishing, ip…" w={260} value={url.tq ?? ""}
          onChange={(event) => set({ tq: event.currentTarget.value || undefined }, true)} />
        <Select label="Format" placeholder="Any" clearable w={130} data={formats} value={url.tformat ?? null}
          onChange={(value) => set({ tformat: value ?? undefined })} />
      </Group>
      {templates.error && <ProblemAlert error={templates.error} />}
      {templates.isPending ? (
        <div style={GRID} aria-busy="true">
          {Array.from({ length: 6 }, (_, index) => (
            <Skeleton key={index} height={170} />
          ))}
        </div>
      ) : shown.length === 0 ? (
        <EmptyState title="No template matches">Clear the search or the format, or add a custom feed instead.</EmptyState>
      ) : (
        <div style={GRID} aria-label="Feed templates" role="region">
          {shown.map((template) => (
            <TemplateCard key={template.name} template={template} />
          ))}
        </div>
      )}
    </Stack>
  );
}

const GRID = {
  display: "grid",
  gridTemplateColumns: "repeat(auto-fill, minmax(280px, 1fr))",
  gap: "var(--mantine-spacing-sm)",
} as const;
