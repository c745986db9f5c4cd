import { Button, Group, Text } from "@mantine/core";

import { usePaging } from "../app/urlState";

/** Cursor paging: the server pages, the URL remembers where (browser Back goes back a page). */
export function Pager({ nextCursor, total, shown }: { nextCursor?: string | null; total?: number | null; shown: number }) {
  const paging = usePaging();
  return (
    <Group justify="space-between" mt="xs">
      <Text size="sm" c="dimmed" aria-live="polite">
        Page {paging.page}
        {shown > 0 ? ` · ${shown} shown` : ""}
        {typeof total === "number" ? ` of ${total.toLocaleString()}` : ""}
      </Text>
      <Group gap="xs">
        <Button size="xs" variant="default" disabled={paging.page === 1} onClick={paging.first}>
          First page
        </Button>
        <Button size="xs" variant="default" disabled={!nextCursor} onClick={() => nextCursor && paging.next(nextCursor)}>
          Next page
        </Button>
      </Group>
    </Group>
  );
}
