import { Group, Stack, Text, Title } from "@mantine/core";
import { useEffect, type ReactNode } from "react";

/** The page's title (also the document title), a line of help, and its actions. */
export function PageHeader({ title, help, actions }: { title: string; help?: ReactNode; actions?: ReactNode }) {
  useEffect(() => {
    document.title = `${title} · KRSN-RT2I`;
  }, [title]);
  return (
    <Group justify="space-between" align="flex-end" mb="sm" wrap="nowrap">
      <Stack gap={2}>
        <Title order={1} size="h3">
          {title}
        </Title>
        {help && (
          <Text size="sm" c="dimmed">
            {help}
          </Text>
        )}
      </Stack>
      {actions && <Group gap="xs">{actions}</Group>}
    </Group>
  );
}
