// An analyst's edits on one indicator: tags, false positive, TLP and mapping to an ATT&CK
// technique. Every change goes through PATCH /indicators/{key} (audited with old and new values).
import { Button, Group, Paper, Select, Stack, Text, TextInput } from "@mantine/core";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";

import { api, unwrap, type Schemas } from "../../api/client";
import { ProblemAlert } from "../../components/ProblemAlert";
import { falsePositive } from "./IndicatorLogic";

type Detail = Schemas["IndicatorDetail"];
type Tlp = NonNullable<Schemas["IndicatorUpdate"]["tlp"]>;

export const TLPS: { value: Tlp | "none"; label: string }[] = [
  { value: "none", label: "Not marked" },
  { value: "clear", label: "TLP:CLEAR" },
  { value: "green", label: "TLP:GREEN" },
  { value: "amber", label: "TLP:AMBER" },
  { value: "amber+strict", label: "TLP:AMBER+STRICT" },
  { value: "red", label: "TLP:RED" },
];

/** The PATCH of one indicator; the answer replaces the page's copy and lists refresh. */
export function useIndicatorEdit(detail: Detail, routeKey: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ body }: { body: Schemas["IndicatorUpdate"]; done: string }) =>
      unwrap(api.PATCH("/api/v1/indicators/{key}", { params: { path: { key: detail.indicator.id } }, body })),
    onSuccess: async (next) => {
      client.setQueryData(["indicators", "detail", routeKey], next);
      await client.invalidateQueries({ queryKey: ["indicators"], predicate: (query) => query.queryKey[1] !== "detail" });
    },
  });
}

export function IndicatorActions({ detail, routeKey, onMessage }: { detail: Detail; routeKey: string; onMessage: (text: string) => void }) {
  const client = useQueryClient();
  const indicator = detail.indicator;
  const edit = useIndicatorEdit(detail, routeKey);
  const [tag, setTag] = useState("");
  const [technique, setTechnique] = useState("");
  const marked = falsePositive(indicator);
  const run = (body: Schemas["IndicatorUpdate"], done: string) =>
    edit.mutate({ body, done }, { onSuccess: () => onMessage(done) });
  const addTag = (event: FormEvent) => {
    event.preventDefault();
    const value = tag.trim();
    if (!value) return;
    run({ tags_add: [value] }, `Tag ${value} added.`);
    setTag("");
  };
  const map = useMutation({
    mutationFn: (id: string) =>
      unwrap(api.POST("/api/v1/mitre-techniques/{technique_id}/indicators", {
        params: { path: { technique_id: id } },
        body: { indicator: indicator.id },
      })),
    onSuccess: async (_, id) => {
      setTechnique("");
      onMessage(`Mapped to ${id}.`);
      await client.invalidateQueries({ queryKey: ["graph"] });
    },
  });
  const mapTechnique = (event: FormEvent) => {
    event.preventDefault();
    const id = technique.trim().toUpperCase();
    if (id) map.mutate(id);
  };
  return (
    <Paper withBorder radius="sm" p="xs" component="section" aria-label="Analyst actions">
      <Stack gap={6}>
        <Group gap="md" align="flex-end" wrap="wrap">
          <form onSubmit={addTag} aria-label="Add a tag">
            <Group gap={6} align="flex-end">
              <TextInput size="xs" label="Tag" placeholder="phishing, c2…" maxLength={100} w={170} value={tag}
                onChange={(event) => setTag(event.currentTarget.value)} />
              <Button size="xs" type="submit" disabled={!tag.trim()} loading={edit.isPending && !!edit.variables?.body.tags_add}>
                Add tag
              </Button>
            </Group>
          </form>
          <Select size="xs" label="TLP" w={170} allowDeselect={false} data={TLPS}
            value={indicator.tlp ?? "none"}
            onChange={(value) => {
              if (!value || value === (indicator.tlp ?? "none")) return;
              run({ tlp: value === "none" ? null : (value as Tlp) },
                value === "none" ? "TLP marking removed." : `Marked ${TLPS.find((item) => item.value === value)?.label}.`);
            }} />
          {marked ? (
            <Button size="xs" variant="light" loading={edit.isPending && edit.variables?.body.false_positive === false}
              onClick={() => run({ false_positive: false }, "No longer a false positive.")}>
              Undo false positive
            </Button>
          ) : (
            <Button size="xs" variant="light" color="gray" loading={edit.isPending && edit.variables?.body.false_positive === true}
              onClick={() => run({ false_positive: true }, "Marked a false positive: it no longer matches.")}>
              Mark false positive
            </Button>
          )}
          <form onSubmit={mapTechnique} aria-label="Map to an ATT&CK technique">
            <Group gap={6} align="flex-end">
              <TextInput size="xs" label="ATT&CK technique" placeholder="T1071.001" w={130} value={technique}
                onChange={(event) => setTechnique(event.currentTarget.value)} />
              <Button size="xs" type="submit" variant="light" disabled={!technique.trim()} loading={map.isPending}>
                Map
              </Button>
            </Group>
          </form>
        </Group>
        {edit.error && <ProblemAlert error={edit.error} title="Indicator not changed" />}
        {map.error && <ProblemAlert error={map.error} title="Not mapped" />}
        {marked && (
          <Text size="xs" c="dimmed">
            Marked a false positive{marked.at ? ` on ${marked.at.slice(0, 10)}` : ""}: inactive, its records too.
          </Text>
        )}
      </Stack>
    </Paper>
  );
}
