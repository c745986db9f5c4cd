// The indicators an incident involves, and how: root cause, related or consequence. Linking
// takes a value as an analyst pastes it (defanged is fine) or an indicator id.
import { Anchor, Button, Group, Select, Table, TextInput } from "@mantine/core";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { Link } from "react-router-dom";

import { api, unwrap, type Schemas } from "../../api/client";
import { Time, Value } from "../../components/format";
import { label, RELATIONSHIPS } from "./incidents";
import { LinkedSection, UnlinkCell } from "./LinkedSection";

type Incident = Schemas["IncidentDetail"];
type Relationship = Schemas["IncidentRelationship"];

export function LinkedIndicators({ incident, onDone }: { incident: Incident; onDone: (message: string) => void }) {
  const client = useQueryClient();
  const [key, setKey] = useState("");
  const [relationship, setRelationship] = useState<Relationship>("related");
  const link = useMutation({
    mutationFn: async () => {
      // The indicator route reads an id or a value, so one lookup serves both.
      const found = await unwrap(api.GET("/api/v1/indicators/{key}", { params: { path: { key: key.trim() } } }));
      return unwrap(
        api.POST("/api/v1/incidents/{incident}/indicators", {
          params: { path: { incident: incident.id } },
          body: { indicator_id: found.indicator.id, relationship_type: relationship },
        }),
      );
    },
    onSuccess: async (row) => {
      setKey("");
      await client.invalidateQueries({ queryKey: ["incidents"] });
      onDone(`Indicator linked: ${row.indicator_value}`);
    },
  });
  const unlink = useMutation({
    mutationFn: (indicatorId: string) =>
      unwrap(
        api.DELETE("/api/v1/incidents/{incident}/indicators/{indicator_id}", {
          params: { path: { incident: incident.id, indicator_id: indicatorId } },
        }),
      ),
    onSuccess: async () => {
      await client.invalidateQueries({ queryKey: ["incidents"] });
      onDone("Indicator unlinked.");
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (key.trim()) link.mutate();
  };
  return (
    <LinkedSection id="linked-indicators" heading="Indicators" count={incident.indicators.length}
      empty="No indicator is linked. Paste a value or an indicator id below to link one."
      caption="Indicators linked to this incident"
      columns={[{ header: "Indicator" }, { header: "Type", width: 70 }, { header: "Relationship", width: 110 }, { header: "Linked", width: 140 }]}
      rows={incident.indicators.map((indicator) => (
        <Table.Tr key={indicator.indicator_id}>
          <Table.Td>
            <Anchor component={Link} to={`/indicators/${encodeURIComponent(indicator.indicator_id)}`} size="sm">
              <Value text={indicator.indicator_value} />
            </Anchor>
          </Table.Td>
          <Table.Td>{indicator.indicator_type}</Table.Td>
          <Table.Td>{label(indicator.relationship_type)}</Table.Td>
          <Table.Td><Time value={indicator.added_at} /></Table.Td>
          <UnlinkCell label={`Unlink indicator ${indicator.indicator_value}`}
            loading={unlink.isPending && unlink.variables === indicator.indicator_id}
            onUnlink={() => unlink.mutate(indicator.indicator_id)} />
        </Table.Tr>
      ))}
      form={
        <form onSubmit={submit}>
          <Group gap="xs" align="flex-end">
            <TextInput label="Indicator value or id" placeholder="evil[.]example, 203.0.113.9, …" w={280}
              value={key} onChange={(event) => setKey(event.currentTarget.value)} />
            <Select label="Relationship" w={150} data={RELATIONSHIPS} value={relationship} allowDeselect={false}
              onChange={(value) => value && setRelationship(value as Relationship)} />
            <Button type="submit" disabled={!key.trim()} loading={link.isPending}>
              Link indicator
            </Button>
          </Group>
        </form>
      }
      error={link.error ?? unlink.error} />
  );
}
