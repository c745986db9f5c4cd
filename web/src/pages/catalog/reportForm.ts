// A threat report's referenced indicators, typed as ids or values: ids pass as they are,
// values are resolved through the indicator lookup, and what cannot be resolved is named.
import { isUuid, valuesOf } from "./text";

export interface Lookup {
  matches: { value: string; indicator: { id: string } }[];
  unreadable: string[];
}

/** The typed lines split into indicator ids and values still to look up. */
export function splitReferences(text: string): { ids: string[]; values: string[] } {
  const ids: string[] = [];
  const values: string[] = [];
  for (const line of valuesOf(text)) {
    if (isUuid(line)) ids.push(line.toLowerCase());
    else values.push(line);
  }
  return { ids, values };
}

/** Ids for every line (a value takes its first match: its own indicator before a range), and
 * the values that matched nothing. */
export function resolveReferences(text: string, lookup: Lookup | null): { ids: string[]; unresolved: string[] } {
  const { ids, values } = splitReferences(text);
  const found = new Map<string, string>();
  for (const match of lookup?.matches ?? []) {
    if (!found.has(match.value)) found.set(match.value, match.indicator.id);
  }
  const unresolved: string[] = [];
  for (const value of values) {
    const id = found.get(value);
    if (id) ids.push(id);
    else unresolved.push(value);
  }
  return { ids: [...new Set(ids)], unresolved };
}
