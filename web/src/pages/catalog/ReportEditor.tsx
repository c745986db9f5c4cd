// Write or change a threat report. Its content is plain text (shown as typed, never as HTML);
// referenced indicators are typed as ids or values, values resolved before saving.
import { Group, Paper, Select, Stack, Textarea, TextInput } from "@mantine/core";
import { getHotkeyHandler } from "@mantine/hooks";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";

import { api, unwrap, type Schemas } from "../../api/client";
import { FormButtons } from "../../components/FormButtons";
import { ProblemAlert } from "../../components/ProblemAlert";
import { TlpSelect, type TlpLevel } from "./common";
import { resolveReferences, splitReferences } from "./reportForm";
import { changedFields } from "./text";

export type Report = Schemas["ReportRead"];
type ReportType = Schemas["ReportType"];
type Classification = Schemas["Classification"];

export const REPORT_TYPES: { value: ReportType; label: string }[] = [
  { value: "incident", label: "Incident" },
  { value: "trend", label: "Trend" },
  { value: "threat_actor", label: "Threat actor" },
  { value: "campaign", label: "Campaign" },
];
export const CLASSIFICATIONS: Classification[] = ["public", "internal", "confidential"];

interface Values {
  title: string;
  executive_summary: string | null;
  detailed_analysis: string | null;
  report_type: ReportType | null;
  classification: Classification;
  tlp: TlpLevel | null;
  indicators_referenced: string[];
}

function initial(report?: Report): Values {
  return {
    title: report?.title ?? "",
    executive_summary: report?.executive_summary ?? null,
    detailed_analysis: report?.detailed_analysis ?? null,
    report_type: report?.report_type ?? null,
    classification: report?.classification ?? "internal",
    // The read's tlp is the effective marking (with the classification's); the report's own
    // marking, the one a change sets, is kept in its metadata.
    tlp: (report?.metadata as { tlp?: TlpLevel } | null | undefined)?.tlp ?? null,
    indicators_referenced: (report?.indicators_referenced ?? []).map(String),
  };
}

export function ReportEditor({ report, onSaved, onCancel }: { report?: Report; onSaved: (saved: Report) => void; onCancel: () => void }) {
  const client = useQueryClient();
  const [values, setValues] = useState<Values>(() => initial(report));
  const [references, setReferences] = useState(() => initial(report).indicators_referenced.join("\n"));
  const [errors, setErrors] = useState<{ title?: string; references?: string }>({});
  const set = <K extends keyof Values>(key: K, value: Values[K]) => setValues((current) => ({ ...current, [key]: value }));
  const save = useMutation({
    mutationFn: async () => {
      const { values: toLookUp } = splitReferences(references);
      const lookup = toLookUp.length
        ? await unwrap(api.POST("/api/v1/indicators/lookup", { body: { values: toLookUp } }))
        : null;
      const { ids, unresolved } = resolveReferences(references, lookup);
      if (unresolved.length) {
        setErrors({ references: `No known indicator for: ${unresolved.slice(0, 10).join(", ")}${unresolved.length > 10 ? "…" : ""}` });
        return null;
      }
      const body: Values = {
        ...values,
        title: values.title.trim(),
        executive_summary: values.executive_summary?.trim() ? values.executive_summary : null,
        detailed_analysis: values.detailed_analysis?.trim() ? values.detailed_analysis : null,
        indicators_referenced: ids,
      };
      if (!report) return unwrap(api.POST("/api/v1/threat-reports", { body }));
      return unwrap(
        api.PATCH("/api/v1/threat-reports/{report_id}", {
          params: { path: { report_id: report.id } },
          body: changedFields(initial(report), body),
        }),
      );
    },
    onSuccess: async (saved) => {
      if (!saved) return;
      await client.invalidateQueries({ queryKey: ["reports"] });
      onSaved(saved);
    },
  });
  const submit = (event?: FormEvent) => {
    event?.preventDefault();
    if (!values.title.trim()) {
      setErrors({ title: "A report needs a title." });
      return;
    }
    setErrors({});
    save.mutate();
  };
  return (
    <Paper withBorder p="sm" radius="sm">
      <form onSubmit={submit} onKeyDown={getHotkeyHandler([["mod+Enter", () => submit()]])} noValidate
        aria-label={report ? "Change the report" : "New report"}>
        <Stack gap="xs">
          <TextInput label="Title" required value={values.title} error={errors.title} data-autofocus
            onChange={(event) => set("title", event.currentTarget.value)} />
          <Group gap="xs" align="flex-end">
            <Select label="Type" placeholder="None" clearable w={170} data={REPORT_TYPES} value={values.report_type}
              onChange={(value) => set("report_type", (value as ReportType | null) ?? null)} />
            <Select label="Classification" allowDeselect={false} w={170} data={CLASSIFICATIONS} value={values.classification}
              onChange={(value) => value && set("classification", value as Classification)} />
            <TlpSelect value={values.tlp} onChange={(tlp) => set("tlp", tlp)} />
          </Group>
          <Textarea label="Executive summary" autosize minRows={3} maxRows={10} value={values.executive_summary ?? ""}
            onChange={(event) => set("executive_summary", event.currentTarget.value)} />
          <Textarea label="Detailed analysis" description="Plain text; line breaks are kept" autosize minRows={8} maxRows={30}
            value={values.detailed_analysis ?? ""} onChange={(event) => set("detailed_analysis", event.currentTarget.value)} />
          <Textarea label="Referenced indicators" description="Values (defanged is fine) or ids, one a line" autosize minRows={2}
            maxRows={10} value={references} error={errors.references}
            onChange={(event) => setReferences(event.currentTarget.value)} />
          {save.error ? <ProblemAlert error={save.error} title="The report was not saved" /> : null}
          <FormButtons submitLabel={report ? "Save changes" : "Save draft"} onCancel={onCancel} loading={save.isPending} />
        </Stack>
      </form>
    </Paper>
  );
}
