// The dashboard's figures as charts want them, kept free of React so they can be tested:
// the API sends only days and groups that have a count; a chart needs every day of the window.
import type { Schemas } from "../../api/client";

export type Summary = Schemas["DashboardSummary"];
export type FeedHealth = Schemas["FeedHealth"];

export const WINDOWS = ["7", "14", "30", "90"] as const;
export type Window = (typeof WINDOWS)[number];

/** A window from the URL, or the API's default when it is missing or not one we offer. */
export function windowDays(value: string | undefined): Window {
  return (WINDOWS as readonly string[]).includes(value ?? "") ? (value as Window) : "14";
}

export const OTHER = "other";

/** One bar of a stacked chart: the day and a count per series key (keys are data: a source
 * may be called "day" or "__proto__", so they never share an object with anything else). */
export interface DayRow {
  day: string;
  values: Record<string, number>;
}

export interface Stacked {
  rows: DayRow[];
  /** Series keys, largest total first; "other" (when used) last. */
  keys: string[];
  totals: Record<string, number>;
  total: number;
}

/** The day `offset` days after `since` (both YYYY-MM-DD, UTC). */
export function addDays(since: string, offset: number): string {
  const [year, month, day] = since.split("-").map(Number);
  return new Date(Date.UTC(year, month - 1, day + offset)).toISOString().slice(0, 10);
}

/**
 * Rows of `{day, key, count}` as one row per day of the window (missing days and keys are 0),
 * with the `maxSeries - 1` largest keys kept and the rest summed as "other" so that a long
 * tail of sources stays readable.
 */
export function stackByDay<T extends { day: string; count: number }>(
  items: readonly T[],
  keyOf: (item: T) => string,
  since: string,
  days: number,
  maxSeries = 8,
): Stacked {
  const sums = new Map<string, number>();
  for (const item of items) sums.set(keyOf(item), (sums.get(keyOf(item)) ?? 0) + item.count);
  const ranked = [...sums.keys()].sort((a, b) => sums.get(b)! - sums.get(a)! || a.localeCompare(b));
  const kept = ranked.length > maxSeries ? ranked.slice(0, Math.max(1, maxSeries - 1)) : ranked;
  const keptSet = new Set(kept);
  const keys = ranked.length > kept.length ? [...kept, OTHER] : kept;

  const byDay = new Map<string, Map<string, number>>();
  for (let offset = 0; offset < days; offset++) {
    byDay.set(addDays(since, offset), new Map(keys.map((key) => [key, 0])));
  }
  const shown = new Map<string, number>(keys.map((key) => [key, 0]));
  let total = 0;
  for (const item of items) {
    const counts = byDay.get(item.day);
    // A day outside the window (clock skew between server and browser) is not drawn.
    if (!counts) continue;
    const key = keptSet.has(keyOf(item)) ? keyOf(item) : OTHER;
    counts.set(key, counts.get(key)! + item.count);
    shown.set(key, shown.get(key)! + item.count);
    total += item.count;
  }
  const rows = [...byDay].map(([day, counts]) => ({ day, values: Object.fromEntries(counts) }));
  return { rows, keys, totals: Object.fromEntries(shown), total };
}

/** A day's count summed over the series. */
export function dayTotal(row: DayRow): number {
  return Object.values(row.values).reduce((sum, count) => sum + count, 0);
}

/** A sentence that says what the chart shows, for those who cannot see it. */
export function describeStack(stacked: Stacked, what: string, days: number): string {
  if (stacked.total === 0) return `No ${what} in the last ${days} days.`;
  const parts = stacked.keys
    .filter((key) => stacked.totals[key] > 0)
    .map((key) => `${key} ${stacked.totals[key].toLocaleString("en")}`);
  let busiest: DayRow | undefined;
  let busiestCount = -1;
  for (const row of stacked.rows) {
    const count = dayTotal(row);
    if (count > busiestCount) {
      busiest = row;
      busiestCount = count;
    }
  }
  return (
    `${stacked.total.toLocaleString("en")} ${what} in the last ${days} days: ${parts.join(", ")}.` +
    (busiest ? ` Busiest day ${busiest.day} with ${busiestCount.toLocaleString("en")}.` : "")
  );
}

export const SEVERITY_ORDER = ["critical", "high", "medium", "low", "info"] as const;
export const INCIDENT_ORDER = ["open", "investigating", "contained", "resolved"] as const;

/** A count per name in a fixed order (names the API adds later come last), with each share. */
export function orderedCounts(
  counts: Partial<Record<string, number>>,
  order: readonly string[],
): { name: string; count: number; share: number }[] {
  const names = [...order, ...Object.keys(counts).filter((name) => !order.includes(name)).sort()];
  const max = Math.max(0, ...names.map((name) => counts[name] ?? 0));
  return names.map((name) => {
    const count = counts[name] ?? 0;
    return { name, count, share: max > 0 ? count / max : 0 };
  });
}

/** Failing feeds first (they need someone), then feeds never run, then the rest by name. */
export function feedsByHealth(feeds: readonly FeedHealth[]): FeedHealth[] {
  const rank = (feed: FeedHealth) => (feed.last_status === "failed" ? 0 : feed.last_run === null ? 1 : 2);
  return [...feeds].sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name));
}

/** A fixed palette from the UI library's default colours (shade 7 holds contrast on white). */
export const PALETTE = [
  "#1c7ed6", "#f76707", "#2f9e44", "#ae3ec9", "#e03131", "#0c8599", "#f59f00", "#5c7cfa", "#868e96",
];

export function colourOf(key: string, index: number): string {
  return key === OTHER ? "#868e96" : PALETTE[index % (PALETTE.length - 1)];
}
