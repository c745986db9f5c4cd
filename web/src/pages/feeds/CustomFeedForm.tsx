// A feed by hand, new or changed. The API fixes a feed's name, format and source once it
// exists, so an edit shows them without letting them change.
import { Alert, Autocomplete, Button, Group, NumberInput, Paper, Select, Stack, Switch, TextInput, Title } from "@mantine/core";
import { getHotkeyHandler } from "@mantine/hooks";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useRef, useState, type FormEvent } from "react";

import { api, unwrap } from "../../api/client";
import { ProblemAlert } from "../../components/ProblemAlert";
import {
  checkCustom,
  customBody,
  FORMATS,
  scheduleText,
  updateBody,
  valuesOf,
  type CustomValues,
  type Errors,
  type Feed,
} from "./feedForm";
import { PreviewPanel, RulesInput } from "./PreviewPanel";

const EMPTY: CustomValues = {
  name: "",
  url: "",
  format: "",
  source: "",
  minutes: 60,
  confidence: "",
  rules: "",
  enabled: true,
};

export function CustomFeedForm({
  feed,
  onSaved,
  onCancel,
}: {
  feed?: Feed;
  onSaved: (feed: Feed, message: string) => void;
  onCancel: () => void;
}) {
  const client = useQueryClient();
  const editing = !!feed;
  const form = useRef<HTMLFormElement>(null);
  const [values, setValues] = useState<CustomValues>(() => (feed ? valuesOf(feed) : EMPTY));
  const [errors, setErrors] = useState<Errors<keyof CustomValues>>({});
  const sources = useQuery({
    queryKey: ["threat-sources", "choices"],
    queryFn: () => unwrap(api.GET("/api/v1/threat-sources", { params: { query: { limit: 200 } } })),
    enabled: !editing,
  });
  const save = useMutation({
    mutationFn: async (): Promise<{ feed: Feed; message: string }> => {
      if (feed) {
        const body = updateBody(feed, values);
        if (Object.keys(body).length === 0) return { feed, message: "Nothing changed." };
        const saved = await unwrap(api.PATCH("/api/v1/feeds/{feed}", { params: { path: { feed: feed.id } }, body }));
        return { feed: saved, message: `Saved ${saved.name}.` };
      }
      let created = await unwrap(api.POST("/api/v1/feeds", { body: customBody(values) }));
      // A new feed is created enabled; the API has no field for it at creation.
      if (!values.enabled) {
        created = await unwrap(
          api.PATCH("/api/v1/feeds/{feed}", { params: { path: { feed: created.id } }, body: { is_active: false } }),
        );
      }
      return { feed: created, message: `Added ${created.name}. Try its parsing rules on a sample below.` };
    },
    onSuccess: async ({ feed: saved, message }) => {
      await client.invalidateQueries({ queryKey: ["feeds"] });
      await client.invalidateQueries({ queryKey: ["threat-sources"] });
      await client.invalidateQueries({ queryKey: ["dashboard"] });
      onSaved(saved, message);
    },
  });
  const submit = (event?: FormEvent) => {
    event?.preventDefault();
    const found = checkCustom(values, editing);
    setErrors(found);
    if (Object.keys(found).length === 0) save.mutate();
  };
  const change = <K extends keyof CustomValues>(key: K, value: CustomValues[K]) => {
    setValues((current) => ({ ...current, [key]: value }));
    if (errors[key]) setErrors((current) => ({ ...current, [key]: undefined }));
  };
  const minutes = Number(values.minutes);
  return (
    <Stack gap="md" maw={760}>
      <form ref={form} onSubmit={submit} noValidate aria-label={editing ? "Edit feed" : "New custom feed"}
        onKeyDown={getHotkeyHandler([["mod+Enter", () => submit()]])}>
        <Stack gap="sm">
          <Group grow align="flex-start">
            <TextInput label="Name" required={!editing} disabled={editing} value={values.name} error={errors.name}
              description={editing ? "A feed keeps its name." : "Unique among feeds."}
              onChange={(event) => change("name", event.currentTarget.value)} />
            <Autocomplete label="Source" required={!editing} disabled={editing} value={values.source} error={errors.source}
              description={editing ? "The provider its intelligence is credited to." : "A provider; a new name creates it."}
              data={[...new Set((sources.data?.items ?? []).map((source) => source.name))]}
              onChange={(value) => change("source", value)} />
          </Group>
          <TextInput label="URL" required value={values.url} error={errors.url} placeholder="https://feeds.example/list.csv"
            description="Where the feed is downloaded from (http or https)."
            onChange={(event) => change("url", event.currentTarget.value)} />
          <Group grow align="flex-start">
            <Select label="Format" required={!editing} disabled={editing} data={FORMATS} value={values.format || null}
              error={errors.format} allowDeselect={false}
              onChange={(value) => change("format", (value ?? "") as CustomValues["format"])} />
            <NumberInput label="Schedule: run every (minutes)" required min={5} max={10080} step={15} value={values.minutes}
              error={errors.minutes} description={Number.isFinite(minutes) ? scheduleText(minutes) : undefined}
              onChange={(value) => change("minutes", value)} />
            <NumberInput label="Default confidence" min={0} max={100} value={values.confidence} error={errors.confidence}
              description="0–100; empty uses the source's reliability." onChange={(value) => change("confidence", value)} />
          </Group>
          <RulesInput value={values.rules} onChange={(value) => change("rules", value)} format={values.format}
            error={errors.rules} />
          <Switch label="Enabled (runs on its schedule)" checked={values.enabled}
            onChange={(event) => change("enabled", event.currentTarget.checked)} />
          {Object.values(errors).some(Boolean) && (
            <Alert color="red" variant="light" role="alert">
              Correct the fields marked in red.
            </Alert>
          )}
          <ProblemAlert error={save.error} title={editing ? "The feed was not saved" : "The feed was not added"} />
          <Group>
            <Button type="submit" loading={save.isPending}>
              {editing ? "Save changes" : "Add feed"}
            </Button>
            <Button variant="default" onClick={onCancel}>
              Cancel
            </Button>
          </Group>
        </Stack>
      </form>
      <Paper withBorder p="sm" radius="sm">
        <Title order={2} size="h5" mb={4}>
          Preview the rules on a sample
        </Title>
        <PreviewPanel feed={feed?.id} rules={values.rules} format={values.format} />
      </Paper>
    </Stack>
  );
}
