// What the incident pages compute from the API's data, kept free of React to be tested alone:
// where a status may go, how a timeline entry reads, and the checks of the new-incident form.
import type { Schemas } from "../../api/client";

export type IncidentStatus = Schemas["IncidentStatus"];
export type Severity = Schemas["Severity"];
type Entry = Schemas["TimelineEntry"];

export const STATUSES: IncidentStatus[] = ["open", "investigating", "contained", "resolved"];
export const SEVERITIES: Severity[] = ["critical", "high", "medium", "low"];
export const RELATIONSHIPS: { value: Schemas["IncidentRelationship"]; label: string }[] = [
  { value: "root_cause", label: "Root cause" },
  { value: "related", label: "Related" },
  { value: "consequence", label: "Consequence" },
];

/** Where an incident may go from `current`, as the API allows: any later step, or back to
 * investigating once resolved. */
export function nextStatuses(current: IncidentStatus): IncidentStatus[] {
  if (current === "resolved") return ["investigating"];
  return STATUSES.slice(STATUSES.indexOf(current) + 1);
}

export function label(value: string | null | undefined): string {
  return value ? value.replace(/_/g, " ") : "—";
}

function text(value: unknown): string | undefined {
  return typeof value === "string" && value.length > 0 ? value : undefined;
}

function username(value: unknown): string | undefined {
  if (value && typeof value === "object" && "username" in value) return text((value as { username: unknown }).username);
  return undefined;
}

export interface EntryView {
  title: string;
  /** A line of plain context under the title. */
  detail?: string;
  /** Free text an analyst wrote (a note, a summary): shown with its line breaks. */
  body?: string;
}

/** A timeline entry as a person reads it; unknown kinds or shapes still read sensibly. */
export function describeEntry(entry: Pick<Entry, "kind" | "details">): EntryView {
  const d = entry.details ?? {};
  switch (entry.kind) {
    case "created":
      return {
        title: `Opened ${text(d.incident_number) ?? "the incident"}`,
        detail: [text(d.severity) && `severity ${d.severity}`, username(d.assigned) && `assigned to ${username(d.assigned)}`]
          .filter(Boolean)
          .join(", ") || undefined,
      };
    case "promoted":
      return {
        title: `Opened ${text(d.incident_number) ?? "the incident"} from an alert`,
        detail: text(d.alert_title),
      };
    case "status":
      return { title: `Status ${label(text(d.old))} → ${label(text(d.new))}`, body: text(d.resolution_summary) };
    case "severity":
      return { title: `Severity ${label(text(d.old))} → ${label(text(d.new))}` };
    case "assigned": {
      const now = username(d.new);
      const before = username(d.old);
      if (now) return { title: `Assigned to ${now}`, detail: before ? `was ${before}` : undefined };
      return { title: "Unassigned", detail: before ? `was ${before}` : undefined };
    }
    case "updated": {
      const changes = d.changes && typeof d.changes === "object" ? Object.keys(d.changes) : [];
      return { title: changes.length ? `Changed ${changes.map(label).join(", ")}` : "Changed" };
    }
    case "alert_linked":
      return { title: "Alert linked", detail: text(d.title), body: text(d.notes) };
    case "alert_unlinked":
      return { title: "Alert unlinked", detail: text(d.title) };
    case "indicator_linked":
      return {
        title: `Indicator linked${text(d.relationship_type) ? ` (${label(text(d.relationship_type))})` : ""}`,
        detail: text(d.value),
        body: text(d.notes),
      };
    case "indicator_unlinked":
      return { title: "Indicator unlinked", detail: text(d.value) };
    case "note":
      return { title: "Note", body: text(d.text) ?? "" };
    default:
      return { title: label(String(entry.kind)) };
  }
}

/** The affected assets typed one a line (or comma separated), trimmed, without repeats. */
export function parseAssets(raw: string): string[] {
  const seen = new Set<string>();
  for (const part of raw.split(/[\n,]/)) {
    const asset = part.trim();
    if (asset) seen.add(asset);
  }
  return [...seen];
}

export interface IncidentForm {
  title: string;
  description: string;
  severity: Severity;
  assets: string;
  assignToMe: boolean;
}

/** The form's errors by field (empty when it can be sent), with the API's limits. */
export function validateIncident(form: IncidentForm): Partial<Record<keyof IncidentForm, string>> {
  const errors: Partial<Record<keyof IncidentForm, string>> = {};
  const title = form.title.trim();
  if (!title) errors.title = "Give the incident a title.";
  else if (title.length > 500) errors.title = "At most 500 characters.";
  if (form.description.length > 100_000) errors.description = "At most 100,000 characters.";
  const assets = parseAssets(form.assets);
  if (assets.length > 1000) errors.assets = "At most 1,000 assets.";
  else if (assets.some((asset) => asset.length > 500)) errors.assets = "Each asset has at most 500 characters.";
  return errors;
}

/** "1 alert", "3 alerts". */
export function count(n: number, noun: string): string {
  return `${n.toLocaleString()} ${noun}${n === 1 ? "" : "s"}`;
}
