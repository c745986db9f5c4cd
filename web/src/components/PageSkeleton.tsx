import { Skeleton, Stack } from "@mantine/core";

/** What a page shows while its code or first data loads. */
export function PageSkeleton() {
  return (
    <Stack gap="sm" role="status" aria-busy="true" aria-label="Loading">
      <Skeleton height={28} width="40%" />
      <Skeleton height={16} width="60%" />
      {Array.from({ length: 8 }, (_, index) => (
        <Skeleton key={index} height={22} />
      ))}
    </Stack>
  );
}
