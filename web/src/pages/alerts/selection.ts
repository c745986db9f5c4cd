// The selected item lives in the URL like the filters, but choosing one must not send the list
// back to its first page (the shared URL state resets paging on every other key).
import { useCallback } from "react";
import { useSearchParams } from "react-router-dom";

/** The query string with one key set (or removed), everything else kept. */
export function searchWith(current: URLSearchParams, name: string, value: string | undefined): string {
  const next = new URLSearchParams(current);
  if (value) next.set(name, value);
  else next.delete(name);
  const text = next.toString();
  return text ? `?${text}` : "";
}

/** The selected id under `name`, and a setter that replaces the history entry. */
export function useSelectedParam(name: string): [string | undefined, (value: string | undefined) => void] {
  const [params, setParams] = useSearchParams();
  const value = params.get(name) ?? undefined;
  const set = useCallback(
    (next: string | undefined) => {
      setParams(
        (current) => {
          const updated = new URLSearchParams(current);
          if (next) updated.set(name, next);
          else updated.delete(name);
          return updated;
        },
        { replace: true },
      );
    },
    [name, setParams],
  );
  return [value, set];
}
