// The frame an incident's linked alerts and linked indicators share: a titled section with a
// table (or a line saying nothing is linked), a form to link more and the last failure.
import { Button, Paper, Stack, Table, Text, Title } from "@mantine/core";
import type { ReactNode } from "react";

import { Can } from "../../app/auth";
import { ProblemAlert } from "../../components/ProblemAlert";

export interface LinkedColumn {
  header: string;
  width?: number;
}

export function LinkedSection({ id, heading, count, empty, caption, columns, rows, form, error }: {
  id: string;
  heading: string;
  count: number;
  empty: string;
  caption: string;
  columns: LinkedColumn[];
  rows: ReactNode;
  form: ReactNode;
  error: unknown;
}) {
  return (
    <Paper component="section" withBorder p="md" radius="sm" aria-labelledby={id}>
      <Stack gap="xs">
        <Title order={2} size="h4" id={id}>
          {heading} ({count})
        </Title>
        {count === 0 ? (
          <Text size="sm" c="dimmed">
            {empty}
          </Text>
        ) : (
          <Table fz="sm" verticalSpacing={4} striped>
            <Table.Caption className="visually-hidden">{caption}</Table.Caption>
            <Table.Thead>
              <Table.Tr>
                {columns.map((column) => (
                  <Table.Th key={column.header} w={column.width}>
                    {column.header}
                  </Table.Th>
                ))}
                <Can permission="write_intel">
                  <Table.Th w={80}>
                    <span className="visually-hidden">Actions</span>
                  </Table.Th>
                </Can>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>{rows}</Table.Tbody>
          </Table>
        )}
        <Can permission="write_intel">{form}</Can>
        {error ? <ProblemAlert error={error} /> : null}
      </Stack>
    </Paper>
  );
}

/** The last cell of a linked row, for those who may change links. */
export function UnlinkCell({ label, loading, onUnlink }: { label: string; loading: boolean; onUnlink: () => void }) {
  return (
    <Can permission="write_intel">
      <Table.Td>
        <Button size="compact-xs" variant="subtle" color="red" aria-label={label} loading={loading} onClick={onUnlink}>
          Unlink
        </Button>
      </Table.Td>
    </Can>
  );
}
