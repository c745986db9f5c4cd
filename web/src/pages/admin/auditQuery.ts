// The audit log's filters as they sit in the URL, turned into the API's query. A preset range
// ("24h") is kept as such, so a shared link always means "the last 24 hours" when opened.
import type { Schemas } from "../../api/client";

export type AuditSeverity = Schemas["AuditSeverity"];
export const SEVERITIES: AuditSeverity[] = ["info", "warning", "error"];

export const RANGES = [
  { value: "1h", label: "Last hour", ms: 3_600_000 },
  { value: "24h", label: "Last 24 hours", ms: 86_400_000 },
  { value: "7d", label: "Last 7 days", ms: 7 * 86_400_000 },
  { value: "30d", label: "Last 30 days", ms: 30 * 86_400_000 },
  { value: "custom", label: "Between times", ms: 0 },
] as const;

export interface AuditUrl {
  user?: string;
  action?: string;
  resource?: string;
  resource_id?: string;
  severity?: string;
  range?: string;
  since?: string;
  until?: string;
  cursor?: string;
}

export interface AuditQuery {
  user_id?: string;
  action?: string;
  resource_type?: string;
  resource_id?: string;
  severity?: AuditSeverity;
  since?: string;
  until?: string;
  cursor?: string;
  limit: number;
}

/** A datetime-local value (local wall time, no zone) as an ISO instant, or undefined. */
export function localToIso(local?: string): string | undefined {
  if (!local) return undefined;
  const date = new Date(local);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

/** Why the time range cannot be asked for, or null. */
export function rangeError(url: AuditUrl): string | null {
  if (url.range !== "custom") return null;
  if (url.since && !localToIso(url.since)) return "The start is not a date and time.";
  if (url.until && !localToIso(url.until)) return "The end is not a date and time.";
  const since = localToIso(url.since);
  const until = localToIso(url.until);
  if (since && until && since >= until) return "The start must be before the end.";
  return null;
}

export function auditQuery(url: AuditUrl, now: number = Date.now()): AuditQuery {
  const query: AuditQuery = { limit: 50 };
  if (url.user) query.user_id = url.user;
  if (url.action?.trim()) query.action = url.action.trim();
  if (url.resource?.trim()) query.resource_type = url.resource.trim();
  if (url.resource_id?.trim()) query.resource_id = url.resource_id.trim();
  if (url.severity && (SEVERITIES as string[]).includes(url.severity)) query.severity = url.severity as AuditSeverity;
  const preset = RANGES.find((range) => range.value === url.range);
  if (preset && preset.value !== "custom") {
    query.since = new Date(now - preset.ms).toISOString();
  } else if (preset?.value === "custom") {
    query.since = localToIso(url.since);
    query.until = localToIso(url.until);
  }
  if (url.cursor) query.cursor = url.cursor;
  return query;
}

export interface Change {
  field: string;
  before: string;
  after: string;
}

/** The fields an audited change touched, as JSON text on both sides. */
export function changes(before: Record<string, unknown> | null, after: Record<string, unknown> | null): Change[] {
  const fields = [...new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})])].sort();
  const out: Change[] = [];
  for (const field of fields) {
    const old = before && field in before ? JSON.stringify(before[field]) : "—";
    const now = after && field in after ? JSON.stringify(after[field]) : "—";
    if (old !== now) out.push({ field, before: old, after: now });
  }
  return out;
}
