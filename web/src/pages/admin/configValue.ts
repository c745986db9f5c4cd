// Configuration values are any JSON: what the editor accepts, and how a value is previewed.
export type Parsed = { ok: true; value: unknown } | { ok: false; error: string };

/** The editor's text as a JSON value; an empty box is not null, it is an error. */
export function parseJsonValue(text: string): Parsed {
  if (!text.trim()) return { ok: false, error: "Enter a JSON value: a number, \"a string\", true, null, [ ] or { }." };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (error) {
    return { ok: false, error: `Not JSON: ${error instanceof Error ? error.message : String(error)}` };
  }
}

const KEY = /^[A-Za-z0-9._-]{1,255}$/;

export function keyError(key: string): string | null {
  return KEY.test(key) ? null : "Letters, digits, dots, dashes and underscores, at most 255.";
}

/** One line of a value, cut to `max` characters. */
export function previewJson(value: unknown, max = 100): string {
  const text = JSON.stringify(value) ?? "null";
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

export function formatSize(text: string): string {
  const bytes = new TextEncoder().encode(text).length;
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
