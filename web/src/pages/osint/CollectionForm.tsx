// A new collection: its collector, what it looks at, its config and schedule; optionally run at once.
import { Button, Checkbox, Group, Input, Select, Stack, Text, Textarea, TextInput } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useId, useState, type FormEvent } from "react";

import { api, unwrap, type Schemas } from "../../api/client";
import { ProblemAlert } from "../../components/ProblemAlert";
import {
  buildCollectionBody,
  CONFIG_EXAMPLES,
  EMPTY_FORM,
  fileToBase64,
  TARGETS,
  type CollectionCreate,
  type CollectionFormValues,
  type FormErrors,
} from "./collectionForm";

type Collection = Schemas["krsn__osint__collections__schemas__CollectionRead"];
type CollectorType = Schemas["CollectorType"];

export function CollectionForm({ onCreated, onCancel }: { onCreated: (collection: Collection) => void; onCancel: () => void }) {
  const client = useQueryClient();
  const fileId = useId();
  const [values, setValues] = useState<CollectionFormValues>(EMPTY_FORM);
  const [errors, setErrors] = useState<FormErrors>({});
  const [runNow, setRunNow] = useState(true);
  const types = useQuery({
    queryKey: ["collections", "types"],
    queryFn: () => unwrap(api.GET("/api/v1/collections/types")),
    staleTime: 5 * 60_000,
  });
  const collectors = types.data ?? [];
  const info = collectors.find((item) => item.name === values.collector);
  const type = info?.collector_type as CollectorType | undefined;
  const target = type ? TARGETS[type] : undefined;

  const create = useMutation({
    mutationFn: async (body: CollectionCreate) => {
      const created = await unwrap(api.POST("/api/v1/collections", { body }));
      if (runNow) {
        await unwrap(api.POST("/api/v1/collections/{collection_id}/run", { params: { path: { collection_id: created.id } } }));
      }
      return created;
    },
    onSuccess: async (created) => {
      await client.invalidateQueries({ queryKey: ["collections"] });
      onCreated(created);
    },
  });

  const change = <K extends keyof CollectionFormValues>(key: K, value: CollectionFormValues[K]) => {
    setValues((current) => ({ ...current, [key]: value }));
    // A seed file is the custom collector's other origin: it answers the target's error too.
    setErrors((current) => ({ ...current, [key]: undefined, ...(key === "seed" ? { target: undefined } : {}) }));
  };
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const result = buildCollectionBody(values, collectors);
    if (result.errors) {
      setErrors(result.errors);
      return;
    }
    create.mutate(result.body);
  };

  return (
    <form onSubmit={submit} noValidate aria-label="New collection">
      <Stack gap="sm">
        {types.error && <ProblemAlert error={types.error} title="The collectors could not be listed" />}
        <TextInput label="Name" required data-autofocus value={values.name} error={errors.name}
          onChange={(event) => change("name", event.currentTarget.value)} />
        <Select
          label="Collector"
          required
          placeholder={types.isPending ? "Loading…" : "Choose"}
          data={collectors.map((item) => ({
            value: item.name,
            label: item.name === item.collector_type ? item.name.replace(/_/g, " ") : `${item.name} (${item.collector_type.replace(/_/g, " ")})`,
          }))}
          value={values.collector || null}
          error={errors.collector}
          description={info?.description}
          onChange={(value) => change("collector", value ?? "")}
        />
        {target && (
          <TextInput label={target.label} placeholder={target.placeholder} required={target.required} value={values.target}
            error={errors.target} description={target.list ? "Several: separate them with commas or spaces." : undefined}
            onChange={(event) => change("target", event.currentTarget.value)} />
        )}
        {type === "custom" && (
          <Group align="flex-start" grow>
            <Input.Wrapper label="Seed file" id={fileId} error={errors.seed}
              description="CSV, JSON or JSON lines, read once per run instead of an endpoint.">
              <input
                id={fileId}
                type="file"
                accept=".csv,.json,.jsonl,.ndjson,text/csv,application/json"
                onChange={async (event) => {
                  const file = event.currentTarget.files?.[0];
                  change("seed", file ? { filename: file.name, base64: await fileToBase64(file) } : null);
                }}
              />
            </Input.Wrapper>
            <TextInput label="Text fields" description="Fields of each row whose text is searched for entities."
              value={values.textFields} onChange={(event) => change("textFields", event.currentTarget.value)} />
          </Group>
        )}
        <Textarea
          label="Config (JSON)"
          description="The collector's settings; the target above is added to them."
          placeholder={(type && CONFIG_EXAMPLES[type]) || "{}"}
          autosize
          minRows={3}
          maxRows={12}
          styles={{ input: { fontFamily: "var(--mantine-font-family-monospace)" } }}
          value={values.config}
          error={errors.config}
          onChange={(event) => change("config", event.currentTarget.value)}
        />
        <Group grow align="flex-start">
          <TextInput label="Run every (minutes)" placeholder="Empty: only when asked" inputMode="numeric"
            value={values.everyMinutes} error={errors.everyMinutes}
            onChange={(event) => change("everyMinutes", event.currentTarget.value)} />
          <Textarea label="Description" autosize minRows={1} maxRows={4} value={values.description}
            onChange={(event) => change("description", event.currentTarget.value)} />
        </Group>
        <Checkbox label="Run it now" checked={runNow} onChange={(event) => setRunNow(event.currentTarget.checked)} />
        {create.error && <ProblemAlert error={create.error} />}
        {Object.values(errors).some(Boolean) && (
          <Text size="sm" c="red.9" role="alert">
            Some fields need a change.
          </Text>
        )}
        <Group justify="flex-end">
          <Button variant="default" onClick={onCancel}>
            Cancel
          </Button>
          <Button type="submit" loading={create.isPending}>
            Create collection
          </Button>
        </Group>
      </Stack>
    </form>
  );
}
