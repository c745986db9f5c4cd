// A correlation rule as a form edits it (JSON as text, numbers as typed) and as the API takes
// it. The server checks a definition whole and names the JSON path of a fault; here only what
// a person can fix before sending: JSON that does not parse, a missing window, numbers out of range.
import type { Schemas } from "../../api/client";

export type RuleType = Schemas["RuleType"];
export type RuleRead = Schemas["RuleRead"];
/** The definition's declared shapes; the server checks the JSON for real. */
export type RuleDefinition = Schemas["RuleCreate"]["rule_definition"];

export const RULE_TYPES: { value: RuleType; label: string; help: string }[] = [
  { value: "pattern", label: "Pattern", help: "Fires on each observation that meets a condition." },
  { value: "threshold", label: "Threshold", help: "Fires when N matching events for one key fall within the window." },
  { value: "time_based", label: "Sequence (time based)", help: "Fires when every step matched for one key within the window." },
  { value: "ml", label: "Machine learning", help: "Fires when a model scores an observation at or above a score." },
];

export const MAX_WINDOW_MINUTES = 44_640;

/** A starting definition of each type, to edit rather than write from nothing. */
export const EXAMPLES: Record<RuleType, Record<string, unknown>> = {
  pattern: {
    condition: {
      all: [
        { field: "origin", op: "eq", value: "sighting" },
        { field: "indicator.tags", op: "contains", value: "c2" },
      ],
    },
    severity: "high",
    title: "{rule}: {value} seen on {host}",
  },
  threshold: {
    condition: { field: "indicator.tags", op: "contains", value: "c2" },
    group_by: ["host"],
    count: 5,
    title: "{rule}: {count} C2 contacts from {key}",
  },
  time_based: {
    steps: [
      { field: "indicator.tags", op: "contains", value: "phishing" },
      { field: "indicator.tags", op: "contains", value: "c2" },
    ],
    group_by: ["host"],
    ordered: true,
    title: "{rule}: phishing then C2 on {key}",
  },
  ml: { model: "default", min_score: 0.8, title: "{rule}: {value} scored {score}" },
};

export interface RuleFormValues {
  name: string;
  description: string;
  rule_type: RuleType;
  definition: string;
  confidence: string;
  window: string;
  parameters: string;
  is_active: boolean;
}

export type RuleFormErrors = Partial<Record<keyof RuleFormValues, string>>;

export interface RuleBody {
  name: string;
  description: string | null;
  rule_type: RuleType;
  rule_definition: RuleDefinition;
  is_active: boolean;
  confidence_threshold: number | null;
  time_window_minutes: number | null;
  parameters: Record<string, unknown> | null;
}

export function emptyRule(type: RuleType = "pattern"): RuleFormValues {
  return {
    name: "",
    description: "",
    rule_type: type,
    definition: JSON.stringify(EXAMPLES[type], null, 2),
    confidence: "",
    window: type === "threshold" || type === "time_based" ? "10" : "",
    parameters: "",
    is_active: true,
  };
}

export function fromRule(rule: RuleRead): RuleFormValues {
  return {
    name: rule.name,
    description: rule.description ?? "",
    rule_type: rule.rule_type,
    definition: JSON.stringify(rule.rule_definition, null, 2),
    confidence: rule.confidence_threshold === null || rule.confidence_threshold === undefined ? "" : String(rule.confidence_threshold),
    window: rule.time_window_minutes === null || rule.time_window_minutes === undefined ? "" : String(rule.time_window_minutes),
    parameters: rule.parameters ? JSON.stringify(rule.parameters, null, 2) : "",
    is_active: rule.is_active,
  };
}

function jsonObject(text: string): Record<string, unknown> | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return `Not valid JSON: ${error instanceof Error ? error.message : String(error)}`;
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) return "Must be a JSON object ({ … }).";
  return parsed as Record<string, unknown>;
}

/** The API body of the form, or what to fix first, by field. */
export function toRuleBody(values: RuleFormValues): { body?: RuleBody; errors: RuleFormErrors } {
  const errors: RuleFormErrors = {};
  const name = values.name.trim();
  if (!name) errors.name = "A rule needs a name.";
  else if (name.length > 255) errors.name = "At most 255 characters.";

  let definition: Record<string, unknown> = {};
  if (!values.definition.trim()) errors.definition = "A rule needs a definition.";
  else {
    const parsed = jsonObject(values.definition);
    if (typeof parsed === "string") errors.definition = parsed;
    else definition = parsed;
  }

  let confidence: number | null = null;
  if (values.confidence.trim()) {
    confidence = Number(values.confidence);
    if (!Number.isFinite(confidence) || confidence < 0 || confidence > 100) errors.confidence = "A number from 0 to 100.";
  }

  let window: number | null = null;
  if (values.window.trim()) {
    window = Number(values.window);
    if (!Number.isInteger(window) || window < 1 || window > MAX_WINDOW_MINUTES) {
      errors.window = `Whole minutes, from 1 to ${MAX_WINDOW_MINUTES.toLocaleString()} (31 days).`;
    }
  } else if (values.rule_type === "threshold" || values.rule_type === "time_based") {
    errors.window = "Threshold and sequence rules count within a window: give it in minutes.";
  }

  let parameters: Record<string, unknown> | null = null;
  if (values.parameters.trim()) {
    const parsed = jsonObject(values.parameters);
    if (typeof parsed === "string") errors.parameters = parsed;
    else parameters = parsed;
  }

  if (Object.keys(errors).length > 0) return { errors };
  return {
    errors,
    body: {
      name,
      description: values.description.trim() || null,
      rule_type: values.rule_type,
      rule_definition: definition as unknown as RuleDefinition,
      is_active: values.is_active,
      confidence_threshold: confidence,
      time_window_minutes: window,
      parameters,
    },
  };
}

export type RuleTestBody = Omit<RuleBody, "description" | "is_active">;

/** What a dry run of the form's rule sends: the rule as it stands, a name not required. */
export function toTestBody(values: RuleFormValues): { body?: RuleTestBody; errors: RuleFormErrors } {
  const { body, errors } = toRuleBody({ ...values, name: values.name.trim() || "unsaved rule" });
  if (!body) return { errors };
  const { description: _description, is_active: _active, ...rest } = body;
  return { errors, body: rest };
}
