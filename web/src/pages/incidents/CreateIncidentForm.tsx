// Open an incident by hand (most come from an alert with the `i` key on the queue).
import { Button, Checkbox, Group, Paper, Select, Stack, Textarea, TextInput, Title } from "@mantine/core";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { useNavigate } from "react-router-dom";

import { api, unwrap } from "../../api/client";
import { useAuth } from "../../app/auth";
import { ProblemAlert } from "../../components/ProblemAlert";
import { parseAssets, SEVERITIES, validateIncident, type IncidentForm, type Severity } from "./incidents";

const EMPTY: IncidentForm = { title: "", description: "", severity: "medium", assets: "", assignToMe: true };

export function CreateIncidentForm({ onCancel }: { onCancel: () => void }) {
  const { me } = useAuth();
  const client = useQueryClient();
  const navigate = useNavigate();
  const [form, setForm] = useState<IncidentForm>(EMPTY);
  const [tried, setTried] = useState(false);
  const errors = validateIncident(form);
  const create = useMutation({
    mutationFn: () =>
      unwrap(
        api.POST("/api/v1/incidents", {
          body: {
            title: form.title.trim(),
            description: form.description.trim() || null,
            severity: form.severity,
            affected_assets: parseAssets(form.assets),
            assigned_analyst_id: form.assignToMe && me ? me.user.id : null,
          },
        }),
      ),
    onSuccess: async (incident) => {
      await client.invalidateQueries({ queryKey: ["incidents"] });
      navigate(`/incidents/${encodeURIComponent(incident.id)}`);
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    setTried(true);
    if (Object.keys(errors).length === 0) create.mutate();
  };
  const change = <K extends keyof IncidentForm>(key: K, value: IncidentForm[K]) => setForm((f) => ({ ...f, [key]: value }));
  return (
    <Paper component="section" withBorder p="md" radius="sm" aria-labelledby="new-incident-heading">
      <form onSubmit={submit} noValidate>
        <Stack gap="xs">
          <Title order={2} size="h4" id="new-incident-heading">
            New incident
          </Title>
          <Group gap="xs" align="flex-start" wrap="wrap">
            <TextInput label="Title" required w={420} maxLength={500} value={form.title} autoFocus
              error={tried ? errors.title : undefined} onChange={(event) => change("title", event.currentTarget.value)} />
            <Select label="Severity" w={140} data={SEVERITIES} value={form.severity} allowDeselect={false}
              onChange={(value) => value && change("severity", value as Severity)} />
          </Group>
          <Textarea label="Description" autosize minRows={2} maxRows={8} value={form.description}
            error={tried ? errors.description : undefined} onChange={(event) => change("description", event.currentTarget.value)} />
          <Textarea label="Affected assets (one a line)" autosize minRows={2} maxRows={6} value={form.assets}
            placeholder={"ws-042\n10.0.0.12\nmail.example.org"}
            error={tried ? errors.assets : undefined} onChange={(event) => change("assets", event.currentTarget.value)} />
          <Checkbox label="Assign it to me" checked={form.assignToMe}
            onChange={(event) => change("assignToMe", event.currentTarget.checked)} />
          {create.error && <ProblemAlert error={create.error} />}
          <Group gap="xs">
            <Button type="submit" loading={create.isPending}>
              Open incident
            </Button>
            <Button variant="default" onClick={onCancel}>
              Cancel
            </Button>
          </Group>
        </Stack>
      </form>
    </Paper>
  );
}
