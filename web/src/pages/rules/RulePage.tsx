// One correlation rule (or a new one at /rules/new): its definition as JSON, checked by the
// server on save, switched on or off, deleted after a confirmation, and tried on past data
// with a dry run, saved or not.
import { Button, Code, Group, JsonInput, Paper, Select, Stack, Switch, Text, Textarea, TextInput, Title } from "@mantine/core";
import { getHotkeyHandler } from "@mantine/hooks";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useMemo, useState, type FormEvent } from "react";
import { useLocation, useNavigate, useParams } from "react-router-dom";

import { api, unwrap } from "../../api/client";
import { Can, useAuth } from "../../app/auth";
import { useUrlState } from "../../app/urlState";
import { useDeleteAndLeave } from "../../app/useDeleteAndLeave";
import { ConfirmModal } from "../../components/ConfirmModal";
import { Time } from "../../components/format";
import { PageHeader } from "../../components/PageHeader";
import { ProblemAlert } from "../../components/ProblemAlert";
import { QueryFallback } from "../../components/QueryState";
import { Facts, Notice, PlainText, useNotice } from "../catalog/common";
import { changedFields } from "../catalog/text";
import { DryRun, type DryRunParams } from "./DryRun";
import {
  emptyRule,
  EXAMPLES,
  fromRule,
  RULE_TYPES,
  toRuleBody,
  toTestBody,
  type RuleFormErrors,
  type RuleFormValues,
  type RuleRead,
  type RuleType,
} from "./ruleForm";
import { ruleTypeLabel, windowLabel } from "./RulesPage";

const FIELDS_HELP =
  "Fields: origin, value, kind, canonical, indicator.id|value|type|severity|confidence|threat_score|tags|malware_families, " +
  "source, feed, host, sensor, log_source, context.<key>, watchlist.names, watchlist.types. Operators: eq, ne, in, not_in, " +
  "contains, startswith, endswith, matches, gt, gte, lt, lte, exists, in_cidr. Combine with all, any, not.";

export default function RulePage() {
  const { id = "" } = useParams();
  const isNew = id === "new";
  const writer = useAuth().can("write_intel");
  const rule = useQuery({
    queryKey: ["rules", id],
    queryFn: () => unwrap(api.GET("/api/v1/correlation-rules/{rule_id}", { params: { path: { rule_id: id } } })),
    enabled: !isNew,
  });
  if (isNew) {
    if (!writer) {
      return (
        <Stack gap="sm">
          <PageHeader title="New rule" />
          <Text size="sm">Writing rules needs the analyst role.</Text>
        </Stack>
      );
    }
    return <RuleEditor key="new" />;
  }
  if (!rule.isSuccess) return <QueryFallback query={rule} title="Correlation rule" />;
  return writer ? <RuleEditor key={rule.data.id} rule={rule.data} /> : <RuleView rule={rule.data} />;
}

/** What a reader sees: the rule, read only. */
function RuleView({ rule }: { rule: RuleRead }) {
  return (
    <Stack gap="sm">
      <PageHeader title={rule.name} help={`${ruleTypeLabel(rule.rule_type)} rule · ${rule.is_active ? "on" : "off"}`} />
      <PlainText text={rule.description} empty="No description." />
      <Facts caption="The rule's settings" rows={[
        ["Type", ruleTypeLabel(rule.rule_type)],
        ["Active", rule.is_active ? "on" : "off"],
        ["Window", windowLabel(rule.time_window_minutes)],
        ["Confidence at least", rule.confidence_threshold ?? "—"],
        ["Created", <Time value={rule.created_at} />],
        ["Updated", <Time value={rule.updated_at} />],
      ]} />
      <Title order={2} size="h4">
        Definition
      </Title>
      <Code block>{JSON.stringify(rule.rule_definition, null, 2)}</Code>
      {rule.parameters && (
        <>
          <Title order={2} size="h4">
            Parameters
          </Title>
          <Code block>{JSON.stringify(rule.parameters, null, 2)}</Code>
        </>
      )}
    </Stack>
  );
}

function RuleEditor({ rule }: { rule?: RuleRead }) {
  const navigate = useNavigate();
  const location = useLocation();
  const client = useQueryClient();
  const [url, set] = useUrlState<"since" | "until">({ since: "7d" });
  // Switching the rule on or off must not reset what is being edited: the form's starting
  // point leaves the status out, and changes only when the saved content does.
  const savedContent = rule ? JSON.stringify({ ...fromRule(rule), is_active: true }) : "";
  const original = useMemo<RuleFormValues>(() => (savedContent ? JSON.parse(savedContent) : emptyRule()), [savedContent]);
  const [values, setValues] = useState<RuleFormValues>(original);
  const [errors, setErrors] = useState<RuleFormErrors>({});
  const [notice, setNotice] = useNotice();
  const [deleting, setDeleting] = useState(false);
  useEffect(() => setValues(original), [original]);
  const dirty = JSON.stringify(values) !== JSON.stringify(original);
  const change = <K extends keyof RuleFormValues>(key: K, value: RuleFormValues[K]) => {
    setValues((current) => ({ ...current, [key]: value }));
    setErrors((current) => ({ ...current, [key]: undefined }));
  };
  const changeType = (type: RuleType) => {
    setValues((current) => {
      // An untouched example follows the type; a definition someone wrote stays.
      const untouched = current.definition.trim() === JSON.stringify(EXAMPLES[current.rule_type], null, 2);
      const needsWindow = (type === "threshold" || type === "time_based") && !current.window.trim();
      return {
        ...current,
        rule_type: type,
        definition: untouched ? JSON.stringify(EXAMPLES[type], null, 2) : current.definition,
        window: needsWindow ? "10" : current.window,
      };
    });
  };

  const save = useMutation({
    mutationFn: async () => {
      const { body, errors: found } = toRuleBody(values);
      setErrors(found);
      if (!body) return null;
      if (!rule) return unwrap(api.POST("/api/v1/correlation-rules", { body }));
      const before = toRuleBody(original).body;
      const changes = before ? changedFields(before, body) : body;
      delete changes.is_active;
      return unwrap(api.PATCH("/api/v1/correlation-rules/{rule_id}", { params: { path: { rule_id: rule.id } }, body: changes }));
    },
    onSuccess: async (saved) => {
      if (!saved) return;
      await client.invalidateQueries({ queryKey: ["rules"] });
      // The saved rule keeps the dry run's period from the URL.
      if (!rule) {
        navigate(
          { pathname: `/rules/${encodeURIComponent(saved.id)}`, search: location.search },
          { replace: true, state: { notice: `Created ${saved.name}.` } },
        );
      } else {
        setNotice(`Saved ${saved.name}.`);
      }
    },
  });
  const toggle = useMutation({
    mutationFn: (is_active: boolean) =>
      unwrap(api.PATCH("/api/v1/correlation-rules/{rule_id}", { params: { path: { rule_id: rule!.id } }, body: { is_active } })),
    onSuccess: async (saved) => {
      setNotice(saved.is_active ? `${saved.name} is on: it runs on new observations.` : `${saved.name} is off.`);
      await client.invalidateQueries({ queryKey: ["rules"] });
    },
  });
  const destroy = useDeleteAndLeave({
    mutationFn: () => unwrap(api.DELETE("/api/v1/correlation-rules/{rule_id}", { params: { path: { rule_id: rule!.id } } })),
    detailKey: ["rules", rule?.id],
    refresh: [["rules"]],
    to: "/rules",
    notice: () => `Deleted ${rule!.name}. Its alerts stay.`,
  });

  const testSaved = !!rule && !dirty;
  const testable = toTestBody(values);
  const runDryRun = async (params: DryRunParams) => {
    const query = { since: params.since, until: params.until, limit: params.limit, samples: params.samples };
    if (testSaved) {
      return unwrap(
        api.POST("/api/v1/correlation-rules/{rule_id}/test", { params: { path: { rule_id: rule.id }, query } }),
      );
    }
    const { body, errors: found } = toTestBody(values);
    if (!body) {
      setErrors(found);
      throw new Error("Fix the form first: " + Object.values(found).filter(Boolean).join(" "));
    }
    return unwrap(api.POST("/api/v1/correlation-rules/test", { params: { query }, body }));
  };

  const submit = (event?: FormEvent | KeyboardEvent | React.KeyboardEvent) => {
    event?.preventDefault();
    save.mutate();
  };
  const typeHelp = RULE_TYPES.find((item) => item.value === values.rule_type)?.help;
  return (
    <Stack gap="sm">
      <PageHeader
        title={rule ? rule.name : "New rule"}
        help={rule ? `${ruleTypeLabel(rule.rule_type)} rule · updated ${rule.updated_at ? rule.updated_at.slice(0, 16).replace("T", " ") : "—"}` : "Write the rule, try it on past data, then save it."}
        actions={
          rule && (
            <Can permission="write_intel">
              <Switch label="Active" checked={rule.is_active} disabled={toggle.isPending}
                onChange={(event) => toggle.mutate(event.currentTarget.checked)} />
              <Button variant="light" color="red" onClick={() => setDeleting(true)}>
                Delete
              </Button>
            </Can>
          )
        }
      />
      <Notice text={notice} />
      {toggle.error ? <ProblemAlert error={toggle.error} /> : null}
      <Paper withBorder p="sm" radius="sm">
        <form onSubmit={submit} onKeyDown={getHotkeyHandler([["mod+Enter", () => submit()]])} noValidate aria-label="Rule">
          <Stack gap="xs">
            <Group gap="xs" align="flex-end" wrap="wrap">
              <TextInput label="Name" required w={320} value={values.name} error={errors.name}
                onChange={(event) => change("name", event.currentTarget.value)} />
              <Select label="Type" w={220} allowDeselect={false} data={RULE_TYPES.map(({ value, label }) => ({ value, label }))}
                value={values.rule_type} onChange={(value) => value && changeType(value as RuleType)} />
              <TextInput label="Window (minutes)" w={150} inputMode="numeric" value={values.window} error={errors.window}
                description="Threshold, sequence: required"
                onChange={(event) => change("window", event.currentTarget.value)} />
              <TextInput label="Confidence at least" w={150} inputMode="decimal" value={values.confidence} error={errors.confidence}
                description="0–100; empty: any" onChange={(event) => change("confidence", event.currentTarget.value)} />
            </Group>
            <Text size="sm" c="dimmed">
              {ruleTypeLabel(values.rule_type)}: {typeHelp}
            </Text>
            <Textarea label="Description" autosize minRows={1} maxRows={6} value={values.description}
              onChange={(event) => change("description", event.currentTarget.value)} />
            <JsonInput label="Definition (JSON)" description={FIELDS_HELP} autosize minRows={10} maxRows={30} formatOnBlur
              validationError="Not valid JSON" value={values.definition} error={errors.definition}
              onChange={(value) => change("definition", value)} styles={{ input: { fontFamily: "var(--mantine-font-family-monospace)" } }} />
            <Group gap="xs">
              <Button variant="subtle" size="xs" onClick={() => change("definition", JSON.stringify(EXAMPLES[values.rule_type], null, 2))}>
                Replace with the {ruleTypeLabel(values.rule_type).toLowerCase()} example
              </Button>
            </Group>
            <JsonInput label="Parameters (JSON, optional)" description="Copied into every firing's evidence: a playbook, an owner…"
              autosize minRows={2} maxRows={10} formatOnBlur validationError="Not valid JSON" value={values.parameters}
              error={errors.parameters} onChange={(value) => change("parameters", value)}
              styles={{ input: { fontFamily: "var(--mantine-font-family-monospace)" } }} />
            {save.error ? <ProblemAlert error={save.error} title="The rule was not saved" /> : null}
            <Group gap="xs" justify="flex-end">
              {!rule && (
                <Switch label="Active once created" checked={values.is_active}
                  onChange={(event) => change("is_active", event.currentTarget.checked)} />
              )}
              {rule && dirty && (
                <Button variant="default" onClick={() => setValues(original)}>
                  Discard changes
                </Button>
              )}
              <Button type="submit" loading={save.isPending} disabled={!!rule && !dirty}>
                {rule ? "Save changes" : "Create rule"}
              </Button>
            </Group>
            <Text size="xs" c="dimmed">
              <kbd>Ctrl</kbd> + <kbd>Enter</kbd> saves.
            </Text>
          </Stack>
        </form>
      </Paper>
      <DryRun run={runDryRun} saved={testSaved} since={url.since ?? "7d"} until={url.until}
        onPeriod={(since, until) => set({ since, until }, true)}
        disabledReason={testable.body ? null : "Fix the definition above to run it."} />
      {rule && (
        <ConfirmModal centered opened={deleting} title="Delete the rule?" confirmLabel="Delete rule" onConfirm={() => destroy.mutate()}
          onClose={() => setDeleting(false)} loading={destroy.isPending} error={destroy.error}>
          {`${rule.name} will stop firing and be deleted. The alerts it raised stay.`}
        </ConfirmModal>
      )}
    </Stack>
  );
}
