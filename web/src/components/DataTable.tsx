// The dense table every list page uses: skeleton rows while loading, an empty state, optional
// row selection, keyboard-reachable rows, and column headers that sort on the server.
import { Checkbox, Paper, Skeleton, Table, Text, UnstyledButton } from "@mantine/core";
import type { ReactNode } from "react";

export interface Column<T> {
  key: string;
  header: string;
  render: (row: T) => ReactNode;
  /** The API's sort field; clicking the header toggles it ascending and descending. */
  sort?: string;
  width?: number | string;
  align?: "left" | "right" | "center";
}

interface Props<T> {
  columns: Column<T>[];
  rows: T[] | undefined;
  rowKey: (row: T) => string;
  loading?: boolean;
  empty?: ReactNode;
  caption: string;
  sort?: string;
  onSort?: (sort: string) => void;
  selected?: Set<string>;
  onSelect?: (next: Set<string>) => void;
  onRowOpen?: (row: T) => void;
  activeKey?: string;
}

export function sortState(current: string | undefined, field: string): "asc" | "desc" | undefined {
  if (current === field) return "asc";
  if (current === `-${field}`) return "desc";
  return undefined;
}

export function toggledSort(current: string | undefined, field: string): string {
  return current === `-${field}` ? field : `-${field}`;
}

export function DataTable<T>(props: Props<T>) {
  const { columns, rows, rowKey, loading, empty, caption, sort, onSort, selected, onSelect, onRowOpen, activeKey } =
    props;
  const selectable = !!onSelect && !!selected;
  const keys = (rows ?? []).map(rowKey);
  const allSelected = selectable && keys.length > 0 && keys.every((key) => selected.has(key));
  return (
    // Focusable, so that a keyboard can scroll a table wider than the screen.
    <Paper withBorder radius="sm" style={{ overflowX: "auto" }} tabIndex={0} role="region" aria-label={caption}>
      <Table striped highlightOnHover stickyHeader verticalSpacing={4} fz="sm" aria-busy={loading || undefined}>
        <Table.Caption className="visually-hidden">{caption}</Table.Caption>
        <Table.Thead>
          <Table.Tr>
            {selectable && (
              <Table.Th w={32}>
                <Checkbox
                  aria-label="Select all rows on this page"
                  checked={allSelected}
                  onChange={() => onSelect(allSelected ? new Set() : new Set(keys))}
                />
              </Table.Th>
            )}
            {columns.map((column) => {
              const state = column.sort ? sortState(sort, column.sort) : undefined;
              return (
                <Table.Th
                  key={column.key}
                  w={column.width}
                  ta={column.align}
                  aria-sort={state === "asc" ? "ascending" : state === "desc" ? "descending" : undefined}
                >
                  {column.sort && onSort ? (
                    <UnstyledButton
                      fz="sm"
                      fw={700}
                      onClick={() => onSort(toggledSort(sort, column.sort!))}
                      aria-label={`Sort by ${column.header}`}
                    >
                      {column.header} {state === "asc" ? "▲" : state === "desc" ? "▼" : ""}
                    </UnstyledButton>
                  ) : (
                    column.header
                  )}
                </Table.Th>
              );
            })}
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {loading &&
            Array.from({ length: 8 }, (_, index) => (
              <Table.Tr key={`skeleton-${index}`} data-testid="skeleton-row">
                {selectable && <Table.Td />}
                {columns.map((column) => (
                  <Table.Td key={column.key}>
                    <Skeleton height={12} radius="sm" />
                  </Table.Td>
                ))}
              </Table.Tr>
            ))}
          {!loading && rows && rows.length === 0 && (
            <Table.Tr>
              <Table.Td colSpan={columns.length + (selectable ? 1 : 0)}>
                <Text c="dimmed" ta="center" py="lg" data-testid="empty">
                  {empty ?? "Nothing here yet."}
                </Text>
              </Table.Td>
            </Table.Tr>
          )}
          {!loading &&
            rows?.map((row) => {
              const key = rowKey(row);
              return (
                <Table.Tr
                  key={key}
                  data-active={key === activeKey || undefined}
                  bg={key === activeKey ? "var(--mantine-color-blue-light)" : undefined}
                  onDoubleClick={onRowOpen ? () => onRowOpen(row) : undefined}
                >
                  {selectable && (
                    <Table.Td>
                      <Checkbox
                        aria-label={`Select row ${key}`}
                        checked={selected.has(key)}
                        onChange={() => {
                          const next = new Set(selected);
                          if (next.has(key)) next.delete(key);
                          else next.add(key);
                          onSelect(next);
                        }}
                      />
                    </Table.Td>
                  )}
                  {columns.map((column) => (
                    <Table.Td key={column.key} ta={column.align}>
                      {column.render(row)}
                    </Table.Td>
                  ))}
                </Table.Tr>
              );
            })}
        </Table.Tbody>
      </Table>
    </Paper>
  );
}
