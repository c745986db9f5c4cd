// Adding a feed from the gallery: only what the template asks for (its parameters and, when
// the provider takes one, a credential), plus an optional name.
import { Alert, Button, Group, Paper, PasswordInput, Select, Stack, Text, TextInput, Title } from "@mantine/core";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { useNavigate } from "react-router-dom";

import { api, unwrap } from "../../api/client";
import { ProblemAlert } from "../../components/ProblemAlert";
import { checkTemplate, scheduleText, templateBody, type Errors, type FeedTemplate, type TemplateValues } from "./feedForm";

const CREDENTIAL_LABELS: Record<string, string> = {
  header: "Request header",
  bearer: "Bearer token",
  basic: "User name and password",
  query: "Query parameter",
};

export function TemplateFeedForm({ template }: { template: FeedTemplate }) {
  const client = useQueryClient();
  const navigate = useNavigate();
  const [values, setValues] = useState<TemplateValues>(() => ({
    name: "",
    parameters: Object.fromEntries(template.parameters.map((parameter) => [parameter.name, parameter.default ?? ""])),
    credentialType: template.credential?.types[0] ?? "",
    credentialName: template.credential?.name ?? "",
    secret: "",
    username: "",
  }));
  const [errors, setErrors] = useState<Errors<string>>({});
  const create = useMutation({
    mutationFn: () => unwrap(api.POST("/api/v1/feeds", { body: templateBody(template, values) })),
    onSuccess: async (feed) => {
      await client.invalidateQueries({ queryKey: ["feeds"] });
      await client.invalidateQueries({ queryKey: ["threat-sources"] });
      await client.invalidateQueries({ queryKey: ["dashboard"] });
      navigate(`/feeds/${encodeURIComponent(feed.id)}`, {
        state: { message: `Added ${feed.name}. Its first run is due now; you can also upload a saved copy of the feed.` },
      });
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const found = checkTemplate(template, values);
    setErrors(found);
    if (Object.keys(found).length === 0) create.mutate();
  };
  const credential = template.credential;
  const type = values.credentialType;
  return (
    <form onSubmit={submit} noValidate aria-label={`Add ${template.title}`}>
      <Stack gap="sm" maw={640}>
        <Paper withBorder p="sm" radius="sm">
          <Title order={2} size="h5">
            {template.title}
          </Title>
          <Text size="sm" mt={4}>
            {template.description}
          </Text>
          {template.notes && (
            <Text size="sm" c="dimmed" mt={4}>
              {template.notes}
            </Text>
          )}
          <Text size="xs" c="dimmed" mt={6}>
            {template.provider} · format {template.format} · {scheduleText(template.update_frequency_minutes)} · default
            confidence {template.default_confidence} · {template.licence}
          </Text>
          <Text size="xs" c="dimmed" mt={2}>
            Downloads <span className="mono">{template.url}</span>
          </Text>
        </Paper>
        <TextInput label="Feed name" description={`Leave empty to call it ${template.name}; names are unique.`}
          placeholder={template.name} value={values.name} error={errors.name}
          onChange={(event) => setValues({ ...values, name: event.currentTarget.value })} />
        {template.parameters.map((parameter) => (
          <TextInput key={parameter.name} label={parameter.name} description={parameter.description}
            required={parameter.required} placeholder={parameter.default ?? undefined}
            value={values.parameters[parameter.name] ?? ""} error={errors[`parameter.${parameter.name}`]}
            onChange={(event) =>
              setValues({ ...values, parameters: { ...values.parameters, [parameter.name]: event.currentTarget.value } })
            } />
        ))}
        {credential && (
          <Paper withBorder p="sm" radius="sm">
            <Stack gap="xs">
              <Text size="sm" fw={600}>
                Credential {credential.required ? "" : "(optional)"}
              </Text>
              <Text size="xs" c="dimmed">
                {credential.description} It is stored encrypted on the feed&apos;s source and never shown again.
              </Text>
              {credential.types.length > 1 && (
                <Select label="Credential type" w={240} value={type} allowDeselect={false}
                  data={credential.types.map((value) => ({ value, label: CREDENTIAL_LABELS[value] ?? value }))}
                  onChange={(value) => setValues({ ...values, credentialType: value ?? credential.types[0] })} />
              )}
              {(type === "header" || type === "query") && !credential.name && (
                <TextInput label={type === "header" ? "Header name" : "Parameter name"} w={240}
                  value={values.credentialName} error={errors.credentialName}
                  onChange={(event) => setValues({ ...values, credentialName: event.currentTarget.value })} />
              )}
              {type === "basic" && (
                <TextInput label="User name" w={240} autoComplete="off" value={values.username} error={errors.username}
                  onChange={(event) => setValues({ ...values, username: event.currentTarget.value })} />
              )}
              <PasswordInput w={360} autoComplete="new-password" error={errors.secret}
                label={type === "bearer" ? "Token" : type === "basic" ? "Password" : `${credential.name || values.credentialName || "Secret"} value`}
                value={values.secret} onChange={(event) => setValues({ ...values, secret: event.currentTarget.value })} />
            </Stack>
          </Paper>
        )}
        {Object.keys(errors).length > 0 && (
          <Alert color="red" variant="light" role="alert">
            Correct the fields marked in red.
          </Alert>
        )}
        <ProblemAlert error={create.error} title="The feed was not added" />
        <Group>
          <Button type="submit" loading={create.isPending}>
            Add feed
          </Button>
          <Button variant="default" onClick={() => navigate("/feeds?tab=templates")}>
            Back to the gallery
          </Button>
        </Group>
      </Stack>
    </form>
  );
}
