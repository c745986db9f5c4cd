// Filters, sort and paging live in the URL, so that a view survives reload and can be shared.
import { useDebouncedCallback } from "@mantine/hooks";
import { useCallback, useMemo } from "react";
import { useLocation, useSearchParams } from "react-router-dom";

export type UrlValues = Record<string, string | undefined>;

/** Keys that reset paging when they change (every key but the cursor and page number). */
const PAGING = new Set(["cursor", "page"]);

export function nextParams(current: URLSearchParams, changes: UrlValues): URLSearchParams {
  const next = new URLSearchParams(current);
  let resetsPaging = false;
  for (const [key, value] of Object.entries(changes)) {
    if (!PAGING.has(key) && (current.get(key) ?? undefined) !== (value || undefined)) {
      resetsPaging = true;
    }
    if (value === undefined || value === "") next.delete(key);
    else next.set(key, value);
  }
  if (resetsPaging) {
    next.delete("cursor");
    next.delete("page");
  }
  return next;
}

/** Read and change URL query parameters; changing a filter goes back to the first page. */
export function useUrlState<K extends string>(defaults: Partial<Record<K, string>> = {}) {
  const [params, setParams] = useSearchParams();
  const values = useMemo(() => {
    const out: Record<string, string | undefined> = { ...defaults };
    params.forEach((value, key) => {
      out[key] = value;
    });
    return out as Record<K, string | undefined> & UrlValues;
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [params]);
  const set = useCallback(
    (changes: Partial<Record<K | "cursor" | "page", string | undefined>>, replace = false) => {
      setParams((current) => nextParams(current, changes as UrlValues), { replace });
    },
    [setParams],
  );
  return [values, set] as const;
}

/** The current page's cursor and number, and how to move on or back to the start. */
export function usePaging() {
  const [values, set] = useUrlState<"cursor" | "page">();
  const page = Math.max(1, Number(values.page ?? "1") || 1);
  return {
    cursor: values.cursor,
    page,
    next: (cursor: string) => set({ cursor, page: String(page + 1) }),
    first: () => set({ cursor: undefined, page: undefined }),
  };
}

/**
 * A search box's text into ?q= once typing pauses. Never onto another page's address: while
 * a lazily loaded next page arrives, this one stays mounted and its timer may still fire.
 */
export function useDebouncedQuery(set: (changes: { q?: string }, replace: boolean) => void, delay = 300) {
  const { pathname } = useLocation();
  return useDebouncedCallback((value: string) => {
    if (window.location.pathname === pathname) set({ q: value.trim() || undefined }, true);
  }, delay);
}
