// Create or change a threat actor. Lists an analyst edits are the analyst's part: what the
// ATT&CK import wrote (its tools and techniques) stays whatever is sent.
import { Group, Select, TagsInput, Textarea, TextInput } from "@mantine/core";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";

import { api, unwrap, type Schemas } from "../../api/client";
import { FormModal, TlpSelect, type TlpLevel } from "./common";
import { changedFields, dateField, dateValue } from "./text";

export type Actor = Schemas["ActorDetail"];
type Sophistication = Schemas["Sophistication"];

export const SOPHISTICATION: Sophistication[] = ["low", "medium", "high", "expert"];

interface Values {
  actor_name: string;
  aliases: string[];
  description: string | null;
  sophistication: Sophistication | null;
  motivations: string[];
  target_industries: string[];
  target_countries: string[];
  known_tools: string[];
  techniques: string[];
  first_observed: string | null;
  last_observed: string | null;
  tlp: TlpLevel | null;
}

const text = (items: readonly unknown[]) => items.filter((item): item is string => typeof item === "string");

export function actorValues(actor?: Actor): Values {
  return {
    actor_name: actor?.actor_name ?? "",
    aliases: actor?.aliases ?? [],
    description: actor?.description ?? null,
    sophistication: actor?.sophistication ?? null,
    motivations: text(actor?.motivations ?? []),
    target_industries: text(actor?.target_industries ?? []),
    target_countries: text(actor?.target_countries ?? []),
    known_tools: (actor?.known_tools ?? []).filter((tool) => tool.source === "analyst").map((tool) => tool.name),
    techniques: (actor?.techniques ?? []).filter((use) => use.sources.includes("analyst")).map((use) => use.technique_id),
    first_observed: actor?.first_observed ?? null,
    last_observed: actor?.last_observed ?? null,
    tlp: actor?.tlp ?? null,
  };
}

export function ActorForm({
  opened,
  onClose,
  actor,
  onSaved,
}: {
  opened: boolean;
  onClose: () => void;
  actor?: Actor;
  onSaved: (saved: Actor) => void;
}) {
  const client = useQueryClient();
  const [values, setValues] = useState<Values>(() => actorValues(actor));
  const [nameError, setNameError] = useState<string | null>(null);
  useEffect(() => {
    if (opened) setValues(actorValues(actor));
  }, [opened, actor]);
  const save = useMutation({
    mutationFn: (body: Values) =>
      actor
        ? unwrap(
            api.PATCH("/api/v1/threat-actors/{actor_id}", {
              params: { path: { actor_id: actor.id } },
              body: changedFields(actorValues(actor), body),
            }),
          )
        : unwrap(api.POST("/api/v1/threat-actors", { body })),
    onSuccess: async (saved) => {
      await client.invalidateQueries({ queryKey: ["actors"] });
      onSaved(saved);
    },
  });
  const submit = () => {
    if (!values.actor_name.trim()) {
      setNameError("An actor needs a name.");
      return;
    }
    setNameError(null);
    save.mutate({ ...values, actor_name: values.actor_name.trim(), description: values.description?.trim() || null });
  };
  const set = <K extends keyof Values>(key: K, value: Values[K]) => setValues((current) => ({ ...current, [key]: value }));
  return (
    <FormModal opened={opened} size="xl" title={actor ? "Change the threat actor" : "New threat actor"}
      submitLabel={actor ? "Save changes" : "Add actor"} onSubmit={submit}
      onClose={() => {
        save.reset();
        onClose();
      }}
      loading={save.isPending} error={save.error}>
      <Group gap="xs" align="flex-end" grow>
        <TextInput label="Name" required data-autofocus value={values.actor_name} error={nameError}
          onChange={(event) => set("actor_name", event.currentTarget.value)} />
        <Select label="Sophistication" placeholder="Unknown" clearable data={SOPHISTICATION} value={values.sophistication}
          onChange={(value) => set("sophistication", (value as Sophistication | null) ?? null)} />
      </Group>
      <TagsInput label="Aliases" description="Enter or comma after each" splitChars={[","]} acceptValueOnBlur clearable
        value={values.aliases} onChange={(value) => set("aliases", value)} />
      <Textarea label="Description" autosize minRows={3} maxRows={12} value={values.description ?? ""}
        onChange={(event) => set("description", event.currentTarget.value)} />
      <Group gap="xs" grow align="flex-start">
        <TagsInput label="Motivations" splitChars={[","]} acceptValueOnBlur value={values.motivations}
          onChange={(value) => set("motivations", value)} />
        <TagsInput label="Target industries" splitChars={[","]} acceptValueOnBlur value={values.target_industries}
          onChange={(value) => set("target_industries", value)} />
      </Group>
      <Group gap="xs" grow align="flex-start">
        <TagsInput label="Target countries" splitChars={[","]} acceptValueOnBlur value={values.target_countries}
          onChange={(value) => set("target_countries", value)} />
        <TagsInput label="Tools (yours; ATT&CK's stay)" splitChars={[","]} acceptValueOnBlur value={values.known_tools}
          onChange={(value) => set("known_tools", value)} />
      </Group>
      <TagsInput label="Techniques (ids, yours; ATT&CK's stay)" description="T1059.001, T1566… they must exist"
        splitChars={[",", " "]} acceptValueOnBlur value={values.techniques}
        onChange={(value) => set("techniques", value.map((item) => item.trim().toUpperCase()))} />
      <Group gap="xs" align="flex-end">
        <TextInput label="First observed" type="date" w={170} value={dateField(values.first_observed)}
          onChange={(event) => set("first_observed", dateValue(event.currentTarget.value))} />
        <TextInput label="Last observed" type="date" w={170} value={dateField(values.last_observed)}
          onChange={(event) => set("last_observed", dateValue(event.currentTarget.value))} />
        <TlpSelect value={values.tlp} onChange={(tlp) => set("tlp", tlp)} />
      </Group>
    </FormModal>
  );
}
