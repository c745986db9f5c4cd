// Parsing rules tried on a pasted sample before they are saved: the API parses and
// normalises the sample exactly as a run would, and stores nothing.
import { Button, Group, Stack, Text, Textarea } from "@mantine/core";
import { getHotkeyHandler } from "@mantine/hooks";
import { useMutation } from "@tanstack/react-query";
import { useState } from "react";

import { api, unwrap, type Schemas } from "../../api/client";
import { DataTable, type Column } from "../../components/DataTable";
import { Value } from "../../components/format";
import { ProblemAlert } from "../../components/ProblemAlert";
import { parseRules, RULE_EXAMPLES, type FeedFormat } from "./feedForm";

type Row = Schemas["PreviewRow"] & { index: number };

const COLUMNS: Column<Row>[] = [
  { key: "line", header: "Line", width: 60, align: "right", render: (row) => row.line },
  { key: "value", header: "Value", render: (row) => <Value text={row.value} max={60} /> },
  { key: "kind", header: "Kind", width: 90, render: (row) => row.kind ?? "—" },
  { key: "canonical", header: "Stored as", render: (row) => <Value text={row.canonical} max={60} /> },
  {
    key: "result",
    header: "Result",
    render: (row) =>
      row.rejected ? (
        <Text size="xs" c="red.9" fw={600}>
          rejected: {row.rejected}
        </Text>
      ) : row.suppressed_by ? (
        <Text size="xs" c="dark.6" fw={600}>
          suppressed by {row.suppressed_by}
        </Text>
      ) : (
        <Text size="xs" c="teal.9">
          accepted
        </Text>
      ),
  },
];

/** The rules as a JSON text area, checked as it is typed. */
export function RulesInput({
  value,
  onChange,
  format,
  error,
  label = "Parsing rules (JSON)",
}: {
  value: string;
  onChange: (value: string) => void;
  format: FeedFormat | "";
  error?: string;
  label?: string;
}) {
  const parsed = parseRules(value);
  const shown = error ?? (parsed.ok ? undefined : parsed.error);
  return (
    <Stack gap={4}>
      <Textarea label={label} autosize minRows={4} maxRows={18} spellCheck={false} value={value} error={shown}
        classNames={{ input: "mono" }}
        description="Empty means the format's defaults (for csv and text: the value is the first column or the whole line, # starts a comment)."
        onChange={(event) => onChange(event.currentTarget.value)} />
      {format && Object.keys(RULE_EXAMPLES[format]).length > 0 && (
        <Group gap="xs">
          <Button size="compact-xs" variant="subtle"
            onClick={() => onChange(JSON.stringify(RULE_EXAMPLES[format], null, 2))}>
            Start from a {format} example
          </Button>
        </Group>
      )}
    </Stack>
  );
}

/** A sample, a Preview button and the rows the API made of it. */
/** With a saved feed's id it previews through that feed; without, a feed not added yet. */
export function PreviewPanel({ feed, rules, format }: { feed?: string; rules: string; format: FeedFormat | "" }) {
  const [sample, setSample] = useState("");
  const preview = useMutation({
    mutationFn: () => {
      const parsed = parseRules(rules);
      const parsingRules = parsed.ok ? parsed.value : undefined;
      if (!feed) {
        return unwrap(
          api.POST("/api/v1/feed-preview", {
            body: { format: format as Exclude<FeedFormat, "">, sample, parsing_rules: parsingRules ?? {} },
          }),
        );
      }
      return unwrap(
        api.POST("/api/v1/feeds/{feed}/preview", {
          params: { path: { feed } },
          body: { sample, parsing_rules: parsingRules },
        }),
      );
    },
  });
  if (format === "taxii") {
    return (
      <Text size="sm" c="dimmed">
        A TAXII collection is read object by object; it has no sample to preview. Run the feed to see what it brings.
      </Text>
    );
  }
  const rulesOk = parseRules(rules).ok && (!!feed || !!format);
  const run = () => {
    if (sample.trim() && rulesOk) preview.mutate();
  };
  const result = preview.data;
  return (
    <Stack gap="xs">
      <Textarea label="Sample" autosize minRows={4} maxRows={14} spellCheck={false} classNames={{ input: "mono" }}
        description="Paste a few lines (or one document) of the feed as it is downloaded. Ctrl+Enter previews."
        value={sample} onChange={(event) => setSample(event.currentTarget.value)}
        onKeyDown={getHotkeyHandler([["mod+Enter", run]])} />
      <Group gap="xs">
        <Button onClick={run} loading={preview.isPending} disabled={!sample.trim() || !rulesOk}>
          Preview
        </Button>
        {!rulesOk && (
          <Text size="xs" c="red.9">
            {format || feed ? "Correct the rules first." : "Choose the format first."}
          </Text>
        )}
      </Group>
      <ProblemAlert error={preview.error} title="The sample could not be read with these rules" />
      {result && (
        <>
          <Text size="sm" role="status">
            {result.accepted} accepted, {result.rejected} rejected
            {result.truncated ? `; only the first ${result.rows.length} rows are shown` : ""}.
          </Text>
          <DataTable caption="Preview of the parsed sample" columns={COLUMNS}
            rows={result.rows.map((row, index) => ({ ...row, index }))} rowKey={(row) => String(row.index)}
            empty="The rules found no row in this sample (every line was blank or a comment)." />
        </>
      )}
    </Stack>
  );
}
