// The feed forms' checks and request bodies, free of React so they can be tested. The API
// checks everything again; these catch mistakes before a round trip and say where they are.
import type { Schemas } from "../../api/client";

export type Feed = Schemas["FeedRead"];
export type FeedTemplate = Schemas["FeedTemplateRead"];
export type FeedFormat = Schemas["FeedFormat"];
export type FeedRun = Schemas["FeedRun"];

export const FORMATS: FeedFormat[] = ["csv", "text", "json", "xml", "stix", "misp", "taxii"];
export const MIN_MINUTES = 5;
export const MAX_MINUTES = 7 * 24 * 60;

/** A starting point for each format's parsing rules (the API documents every key). */
export const RULE_EXAMPLES: Record<FeedFormat, Record<string, unknown>> = {
  csv: { comment_prefix: "#", header: true, columns: { value: "dst_ip", first_seen: "first_seen_utc" }, tags: ["c2"] },
  text: { comment_prefix: "#" },
  json: { path: "data", fields: { value: "ioc", kind: "type", tags: "tags" } },
  xml: { item_xpath: "//item", fields: { value: "link" } },
  stix: {},
  misp: {},
  taxii: {},
};

export type RulesResult = { ok: true; value: Record<string, unknown> } | { ok: false; error: string };

/** Parsing rules typed as JSON: empty means none; anything but one JSON object is refused. */
export function parseRules(text: string): RulesResult {
  if (!text.trim()) return { ok: true, value: {} };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return { ok: false, error: `Not valid JSON: ${reason}` };
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    return { ok: false, error: 'The rules must be one JSON object, as in {"comment_prefix": "#"}.' };
  }
  const rules = parsed as Record<string, unknown>;
  for (const key of ["columns", "fields"]) {
    const mapping = rules[key];
    if (mapping === undefined) continue;
    if (mapping === null || typeof mapping !== "object" || Array.isArray(mapping)) {
      return { ok: false, error: `"${key}" must be an object that maps each field to where it is.` };
    }
    if (!("value" in mapping)) return { ok: false, error: `"${key}" must say where the "value" is.` };
  }
  for (const key of ["delimiter", "quotechar"]) {
    const char = rules[key];
    if (char !== undefined && (typeof char !== "string" || (char.length !== 1 && char !== "\\t" && char !== "tab"))) {
      return { ok: false, error: `"${key}" must be exactly one character ("\\t" for a tab).` };
    }
  }
  return { ok: true, value: rules };
}

export function formatRules(rules: Record<string, unknown> | null | undefined): string {
  return rules && Object.keys(rules).length > 0 ? JSON.stringify(rules, null, 2) : "";
}

export function checkUrl(url: string): string | null {
  const trimmed = url.trim();
  if (!trimmed) return "Required";
  if (!/^https?:\/\/\S+$/i.test(trimmed) || trimmed.length < 8) return "An http:// or https:// address";
  if (trimmed.length > 2048) return "At most 2048 characters";
  return null;
}

export function checkMinutes(value: number | string): string | null {
  const minutes = typeof value === "number" ? value : Number(value);
  if (!Number.isInteger(minutes) || minutes < MIN_MINUTES || minutes > MAX_MINUTES) {
    return `Whole minutes between ${MIN_MINUTES} and ${MAX_MINUTES} (a week)`;
  }
  return null;
}

export function checkConfidence(value: number | string): string | null {
  if (value === "") return null;
  const number = typeof value === "number" ? value : Number(value);
  return Number.isFinite(number) && number >= 0 && number <= 100 ? null : "Between 0 and 100";
}

export interface CustomValues {
  name: string;
  url: string;
  format: FeedFormat | "";
  source: string;
  minutes: number | string;
  confidence: number | string;
  rules: string;
  enabled: boolean;
}

export type Errors<K extends string> = Partial<Record<K, string>>;

export function checkCustom(values: CustomValues, editing: boolean): Errors<keyof CustomValues> {
  const errors: Errors<keyof CustomValues> = {};
  if (!editing) {
    if (!values.name.trim()) errors.name = "Required";
    else if (values.name.trim().length > 255) errors.name = "At most 255 characters";
    if (!values.format) errors.format = "Choose the format the feed is published in";
    if (!values.source.trim()) errors.source = "Name the provider (a new name creates it)";
  }
  const url = checkUrl(values.url);
  if (url) errors.url = url;
  const minutes = checkMinutes(values.minutes);
  if (minutes) errors.minutes = minutes;
  const confidence = checkConfidence(values.confidence);
  if (confidence) errors.confidence = confidence;
  const rules = parseRules(values.rules);
  if (!rules.ok) errors.rules = rules.error;
  return errors;
}

/** The body of POST /feeds for a feed by hand (the form was checked). */
export function customBody(values: CustomValues): Schemas["CustomFeedCreate"] {
  const rules = parseRules(values.rules);
  return {
    name: values.name.trim(),
    url: values.url.trim(),
    format: values.format as FeedFormat,
    source: values.source.trim(),
    parsing_rules: rules.ok ? rules.value : {},
    update_frequency_minutes: Number(values.minutes),
    default_confidence: values.confidence === "" ? null : Number(values.confidence),
  };
}

/** The body of PATCH /feeds/{feed}: only what changed, so the audit log shows only that. */
export function updateBody(feed: Feed, values: CustomValues): Schemas["FeedUpdate"] {
  const body: Schemas["FeedUpdate"] = {};
  if (values.url.trim() !== (feed.url ?? "")) body.url = values.url.trim();
  if (Number(values.minutes) !== feed.update_frequency_minutes) body.update_frequency_minutes = Number(values.minutes);
  const confidence = values.confidence === "" ? null : Number(values.confidence);
  if (confidence !== (feed.default_confidence ?? null)) body.default_confidence = confidence;
  const rules = parseRules(values.rules);
  if (rules.ok && JSON.stringify(rules.value) !== JSON.stringify(feed.parsing_rules ?? {})) {
    body.parsing_rules = rules.value;
  }
  if (values.enabled !== feed.is_active) body.is_active = values.enabled;
  return body;
}

export function valuesOf(feed: Feed): CustomValues {
  return {
    name: feed.name,
    url: feed.url ?? "",
    format: (feed.format as FeedFormat | null) ?? "",
    source: feed.source ?? "",
    minutes: feed.update_frequency_minutes ?? 60,
    confidence: feed.default_confidence ?? "",
    rules: formatRules(feed.parsing_rules),
    enabled: feed.is_active,
  };
}

export type Parameter = Schemas["TemplateParameterRead"];

/** A template parameter's value: required ones must be given, and match the template's pattern. */
export function checkParameter(parameter: Parameter, value: string): string | null {
  const trimmed = value.trim();
  if (!trimmed) return parameter.required && !parameter.default ? "Required" : null;
  if (trimmed.length > 2048) return "At most 2048 characters";
  if (parameter.pattern) {
    let pattern: RegExp;
    try {
      pattern = new RegExp(`^(?:${parameter.pattern})$`, "u");
    } catch {
      // A server pattern this browser cannot read: the API checks it anyway.
      return null;
    }
    if (!pattern.test(trimmed)) return `Does not match ${parameter.pattern}`;
  }
  return null;
}

export interface TemplateValues {
  name: string;
  parameters: Record<string, string>;
  credentialType: string;
  credentialName: string;
  secret: string;
  username: string;
}

export function checkTemplate(template: FeedTemplate, values: TemplateValues): Errors<string> {
  const errors: Errors<string> = {};
  if (values.name.trim().length > 255) errors.name = "At most 255 characters";
  for (const parameter of template.parameters) {
    const error = checkParameter(parameter, values.parameters[parameter.name] ?? "");
    if (error) errors[`parameter.${parameter.name}`] = error;
  }
  const credential = template.credential;
  if (credential) {
    const given = values.secret.trim() !== "";
    if (credential.required && !given) errors.secret = "This provider needs a credential";
    if (given && values.credentialType === "basic" && !values.username.trim()) errors.username = "Required";
    if (given && (values.credentialType === "header" || values.credentialType === "query") && !credential.name
      && !values.credentialName.trim()) {
      errors.credentialName = "Name the header or query parameter";
    }
    if (/[\r\n\0]/.test(values.secret)) errors.secret = "One line, without control characters";
  }
  return errors;
}

/** The body of POST /feeds for a gallery template (the form was checked). */
export function templateBody(template: FeedTemplate, values: TemplateValues): Schemas["TemplateFeedCreate"] {
  const parameters: Record<string, string> = {};
  for (const parameter of template.parameters) {
    const value = (values.parameters[parameter.name] ?? "").trim();
    if (value) parameters[parameter.name] = value;
  }
  const body: Schemas["TemplateFeedCreate"] = { template: template.name };
  if (Object.keys(parameters).length > 0) body.parameters = parameters;
  if (values.name.trim()) body.name = values.name.trim();
  const secret = values.secret.trim();
  if (template.credential && secret) {
    const name = template.credential.name ?? values.credentialName.trim();
    const type = values.credentialType || template.credential.types[0];
    if (type === "bearer") body.authentication_config = { type: "bearer", token: secret };
    else if (type === "basic") body.authentication_config = { type: "basic", username: values.username.trim(), password: secret };
    else if (type === "query") body.authentication_config = { type: "query", name, value: secret };
    else body.authentication_config = { type: "header", name, value: secret };
  }
  return body;
}

/** "every 60 min", "every 6 h", "every day": how often a feed runs, in words. */
export function scheduleText(minutes: number | null | undefined): string {
  if (!minutes) return "—";
  if (minutes % (24 * 60) === 0) return minutes === 24 * 60 ? "every day" : `every ${minutes / (24 * 60)} days`;
  if (minutes % 60 === 0) return minutes === 60 ? "every hour" : `every ${minutes / 60} h`;
  return `every ${minutes} min`;
}

export interface RunStatistics {
  runs: number;
  ok: number;
  failed: number;
  uploads: number;
  parsed: number;
  stored: number;
  rejected: number;
  meanSeconds: number | null;
  lastOk: string | null;
}

/** Totals over the run history the API keeps (newest first). */
export function runStatistics(runs: readonly FeedRun[]): RunStatistics {
  const stats: RunStatistics = {
    runs: runs.length, ok: 0, failed: 0, uploads: 0, parsed: 0, stored: 0, rejected: 0, meanSeconds: null, lastOk: null,
  };
  let seconds = 0;
  let timed = 0;
  for (const run of runs) {
    if (run.status === "failed") stats.failed += 1;
    else if (run.status) {
      stats.ok += 1;
      if (!stats.lastOk && run.started_at) stats.lastOk = run.started_at;
    }
    if (run.trigger === "upload") stats.uploads += 1;
    stats.parsed += run.parsed ?? 0;
    stats.stored += (run.new ?? 0) + (run.updated ?? 0);
    stats.rejected += run.rejected ?? 0;
    if (typeof run.duration_s === "number") {
      seconds += run.duration_s;
      timed += 1;
    }
  }
  stats.meanSeconds = timed > 0 ? seconds / timed : null;
  return stats;
}

/** A run's per-row errors as lines of text (their shape is the parser's, not fixed). */
export function runErrors(run: FeedRun): string[] {
  return (run.errors ?? []).map((item) => {
    const line = item.line ?? item.row;
    const reason = item.reason ?? item.error ?? item.message;
    const where = typeof line === "number" || typeof line === "string" ? `line ${line}: ` : "";
    const value = typeof item.value === "string" && item.value ? ` (${item.value})` : "";
    return `${where}${typeof reason === "string" ? reason : JSON.stringify(item)}${value}`;
  });
}
