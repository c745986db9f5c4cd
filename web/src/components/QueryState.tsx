import { Stack } from "@mantine/core";

import { PageHeader } from "./PageHeader";
import { PageSkeleton } from "./PageSkeleton";
import { ProblemAlert } from "./ProblemAlert";

/**
 * What a page about one object shows until its query succeeds: a skeleton while it loads,
 * else the page's generic title over the API's problem. Callers test `query.isSuccess`
 * first so TypeScript knows the data is there afterwards.
 */
export function QueryFallback({ query, title }: { query: { isPending: boolean; error: unknown }; title: string }) {
  if (query.isPending) return <PageSkeleton />;
  return (
    <Stack gap="sm">
      <PageHeader title={title} />
      <ProblemAlert error={query.error} />
    </Stack>
  );
}
