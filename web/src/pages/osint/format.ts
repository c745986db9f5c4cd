// How OSINT records read as text in tables and panels.
import type { Schemas } from "../../api/client";

type Collection = Schemas["krsn__osint__collections__schemas__CollectionRead"];

export function scheduleText(schedule: Collection["schedule"]): string {
  const minutes = schedule && typeof schedule.every_minutes === "number" ? schedule.every_minutes : null;
  if (!minutes) return "On demand";
  if (minutes % 1440 === 0) return `Every ${minutes / 1440} d`;
  if (minutes % 60 === 0) return `Every ${minutes / 60} h`;
  return `Every ${minutes} min`;
}

export function progressText(row: Pick<Collection, "progress">): string {
  if (row.progress === null || row.progress === undefined) return "—";
  const value = Number(row.progress);
  return Number.isFinite(value) ? `${Math.round(value)}%` : "—";
}

/** A line of what an item holds, as text: its title, file name, text or address. */
export function itemSummary(raw: unknown): string {
  if (raw === null || raw === undefined) return "—";
  if (typeof raw !== "object") return String(raw);
  const record = raw as Record<string, unknown>;
  for (const key of ["title", "filename", "name", "text", "url", "content"]) {
    const value = record[key];
    if (typeof value === "string" && value.trim()) return value.trim();
  }
  return JSON.stringify(raw);
}

/** A risk factor's evidence as one line of text, whatever shape the backend gave it. */
export function evidenceText(evidence: unknown): string {
  if (evidence === null || evidence === undefined || evidence === "") return "—";
  if (typeof evidence === "string") return evidence;
  if (typeof evidence === "number" || typeof evidence === "boolean") return String(evidence);
  return JSON.stringify(evidence);
}

export function label(value: string | null | undefined): string {
  return value ? value.replace(/_/g, " ") : "—";
}
