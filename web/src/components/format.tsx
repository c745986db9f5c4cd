// Small renderers shared by the pages. Every value from data is rendered as React text.
import { Badge, Tooltip } from "@mantine/core";

const SEVERITY_COLOURS: Record<string, string> = {
  critical: "red",
  high: "orange",
  medium: "yellow",
  low: "blue",
  info: "gray",
  informational: "gray",
};

export function SeverityBadge({ value }: { value?: string | null }) {
  if (!value) return <>—</>;
  return (
    <Badge size="sm" variant="light" color={SEVERITY_COLOURS[value] ?? "gray"} autoContrast>
      {value}
    </Badge>
  );
}

export function StatusBadge({ value }: { value?: string | null }) {
  if (!value) return <>—</>;
  const colour =
    { open: "red", new: "red", acknowledged: "yellow", investigating: "yellow", in_progress: "yellow", running: "blue",
      resolved: "green", closed: "gray", completed: "green", failed: "red", false_positive: "gray", cancelled: "gray",
      pending: "gray", ok: "green", success: "green", error: "red" }[value] ?? "gray";
  return (
    <Badge size="sm" variant="light" color={colour} autoContrast>
      {value.replace(/_/g, " ")}
    </Badge>
  );
}

export function formatTime(value?: string | null): string {
  if (!value) return "—";
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return value;
  return date.toISOString().replace("T", " ").slice(0, 16) + "Z";
}

export function Time({ value }: { value?: string | null }) {
  if (!value) return <>—</>;
  return (
    <Tooltip label={value} openDelay={400}>
      <time dateTime={value}>{formatTime(value)}</time>
    </Tooltip>
  );
}

export function formatScore(value?: number | null): string {
  return value === null || value === undefined ? "—" : value.toFixed(0);
}

/** An attacker-controlled value (indicator, entity name, title): text, ellipsed, full on hover. */
export function Value({ text, max = 80 }: { text?: string | null; max?: number }) {
  if (text === null || text === undefined) return <>—</>;
  const short = text.length > max ? `${text.slice(0, max - 1)}…` : text;
  return (
    <span className="mono" title={text}>
      {short}
    </span>
  );
}
