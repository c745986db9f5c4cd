// Turning what people type into the lists and values the API takes, and back.

/** One value a line: blank lines and '#' comments skipped, each value once, in order. */
export function valuesOf(text: string): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const value = raw.trim();
    if (!value || value.startsWith("#") || seen.has(value)) continue;
    seen.add(value);
    out.push(value);
  }
  return out;
}

/** A list typed with commas or one item a line, trimmed, each item once. */
export function listOf(text: string): string[] {
  return [...new Set(text.split(/[\n,]/).map((part) => part.trim()).filter(Boolean))];
}

/** The date part (YYYY-MM-DD) of an API time, for a date field. */
export function dateField(value?: string | null): string {
  if (!value) return "";
  const match = /^(\d{4}-\d{2}-\d{2})/.exec(value);
  return match ? match[1] : "";
}

/** A date field's value as the API's UTC time (midnight), or null when empty. */
export function dateValue(field: string): string | null {
  const value = field.trim();
  if (!value) return null;
  return /^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T00:00:00Z` : null;
}

/** Only the fields whose value differs from the original: a change sends what changed. */
export function changedFields<T extends object>(original: Partial<T>, next: T): Partial<T> {
  const out: Partial<T> = {};
  for (const key of Object.keys(next) as (keyof T)[]) {
    if (JSON.stringify(original[key] ?? null) !== JSON.stringify(next[key] ?? null)) out[key] = next[key];
  }
  return out;
}

/** How many of something, with the word in the right number. */
export function plural(count: number, one: string, many = `${one}s`): string {
  return `${count.toLocaleString()} ${count === 1 ? one : many}`;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return UUID.test(value.trim());
}
