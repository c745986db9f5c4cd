// Create or change a threat campaign. As with actors, the lists here are the analyst's part:
// what the ATT&CK import wrote (tactics, techniques, procedures, actors) stays.
import { Badge, Group, MultiSelect, Select, TagsInput, Textarea, TextInput } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";

import { api, unwrap, type Schemas } from "../../api/client";
import { FormModal, TlpSelect, type TlpLevel } from "./common";
import { changedFields, dateField, dateValue, valuesOf } from "./text";

export type Campaign = Schemas["CampaignRead"];
type Status = Schemas["CampaignStatus"];

export const CAMPAIGN_STATUSES: Status[] = ["active", "dormant", "completed"];

const STATUS_COLOURS: Record<string, string> = { active: "red", dormant: "yellow", completed: "gray" };

export function CampaignStatusBadge({ value }: { value: string }) {
  return (
    <Badge size="sm" variant="light" c="gray.9" color={STATUS_COLOURS[value] ?? "gray"}>
      {value}
    </Badge>
  );
}

interface Values {
  campaign_name: string;
  description: string | null;
  status: Status;
  first_observed: string | null;
  last_observed: string | null;
  tactics: string[];
  techniques: string[];
  procedures: string[];
  attributed_actors: string[];
  tlp: TlpLevel | null;
}

/** Whether the ATT&CK import wrote part of the campaign (its lists then mix both sources). */
export function isImported(campaign?: Campaign): boolean {
  return !!campaign && (campaign.techniques.some((use) => use.sources.includes("attack")) ||
    campaign.attributed_actors.some((actor) => !!actor.attack_id) ||
    campaign.procedures.some((item) => typeof item !== "string"));
}

export function campaignValues(campaign?: Campaign): Values {
  const imported = isImported(campaign);
  return {
    campaign_name: campaign?.campaign_name ?? "",
    description: campaign?.description ?? null,
    status: campaign?.status ?? "active",
    first_observed: campaign?.first_observed ?? null,
    last_observed: campaign?.last_observed ?? null,
    // The read merges imported tactics with the analyst's; only a campaign without imported
    // parts can show its own list back.
    tactics: imported ? [] : (campaign?.tactics ?? []),
    techniques: (campaign?.techniques ?? []).filter((use) => use.sources.includes("analyst")).map((use) => use.technique_id),
    procedures: (campaign?.procedures ?? []).filter((item): item is string => typeof item === "string"),
    attributed_actors: (campaign?.attributed_actors ?? [])
      .filter((actor) => !actor.attack_id && actor.actor_id)
      .map((actor) => actor.actor_id as string),
    tlp: campaign?.tlp ?? null,
  };
}

export function CampaignForm({
  opened,
  onClose,
  campaign,
  onSaved,
}: {
  opened: boolean;
  onClose: () => void;
  campaign?: Campaign;
  onSaved: (saved: Campaign) => void;
}) {
  const client = useQueryClient();
  const [values, setValues] = useState<Values>(() => campaignValues(campaign));
  const [procedures, setProcedures] = useState("");
  const [nameError, setNameError] = useState<string | null>(null);
  useEffect(() => {
    if (opened) {
      const start = campaignValues(campaign);
      setValues(start);
      setProcedures(start.procedures.join("\n"));
    }
  }, [opened, campaign]);
  const actors = useQuery({
    queryKey: ["actors", "choices"],
    queryFn: () => unwrap(api.GET("/api/v1/threat-actors", { params: { query: { limit: 500, sort: "name" } } })),
    enabled: opened,
    staleTime: 60_000,
  });
  const save = useMutation({
    mutationFn: (body: Values) =>
      campaign
        ? unwrap(
            api.PATCH("/api/v1/threat-campaigns/{campaign_id}", {
              params: { path: { campaign_id: campaign.id } },
              body: changedFields(campaignValues(campaign), body),
            }),
          )
        : unwrap(api.POST("/api/v1/threat-campaigns", { body })),
    onSuccess: async (saved) => {
      await client.invalidateQueries({ queryKey: ["campaigns"] });
      await client.invalidateQueries({ queryKey: ["actors"] });
      onSaved(saved);
    },
  });
  const submit = () => {
    if (!values.campaign_name.trim()) {
      setNameError("A campaign needs a name.");
      return;
    }
    setNameError(null);
    save.mutate({
      ...values,
      campaign_name: values.campaign_name.trim(),
      description: values.description?.trim() || null,
      procedures: valuesOf(procedures),
    });
  };
  const set = <K extends keyof Values>(key: K, value: Values[K]) => setValues((current) => ({ ...current, [key]: value }));
  const imported = isImported(campaign);
  const choices = (actors.data?.items ?? []).map((actor) => ({ value: actor.id, label: actor.actor_name }));
  for (const chosen of values.attributed_actors) {
    if (!choices.some((choice) => choice.value === chosen)) {
      const known = campaign?.attributed_actors.find((actor) => actor.actor_id === chosen);
      choices.push({ value: chosen, label: known?.name ?? chosen });
    }
  }
  const yours = imported ? " (yours; ATT&CK's stay)" : "";
  return (
    <FormModal opened={opened} size="xl" title={campaign ? "Change the campaign" : "New campaign"}
      submitLabel={campaign ? "Save changes" : "Add campaign"} onSubmit={submit}
      onClose={() => {
        save.reset();
        onClose();
      }}
      loading={save.isPending} error={save.error}>
      <Group gap="xs" align="flex-end" grow>
        <TextInput label="Name" required data-autofocus value={values.campaign_name} error={nameError}
          onChange={(event) => set("campaign_name", event.currentTarget.value)} />
        <Select label="Status" allowDeselect={false} data={CAMPAIGN_STATUSES} value={values.status}
          onChange={(value) => value && set("status", value as Status)} />
      </Group>
      <Textarea label="Description" autosize minRows={3} maxRows={12} value={values.description ?? ""}
        onChange={(event) => set("description", event.currentTarget.value)} />
      <MultiSelect label={`Attributed actors${yours}`} placeholder="Search actors" searchable clearable data={choices}
        value={values.attributed_actors} onChange={(value) => set("attributed_actors", value)}
        nothingFoundMessage={actors.isPending ? "Loading…" : "No actor by that name"} />
      <Group gap="xs" grow align="flex-start">
        <TagsInput label={`Tactics${yours}`} description="initial-access, execution…" splitChars={[","]} acceptValueOnBlur
          value={values.tactics} onChange={(value) => set("tactics", value)} />
        <TagsInput label={`Techniques${yours}`} description="Ids: T1059.001… they must exist" splitChars={[",", " "]}
          acceptValueOnBlur value={values.techniques}
          onChange={(value) => set("techniques", value.map((item) => item.trim().toUpperCase()))} />
      </Group>
      <Textarea label={`Procedures${yours}`} description="One a line" autosize minRows={2} maxRows={8} value={procedures}
        onChange={(event) => setProcedures(event.currentTarget.value)} />
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
