import { Button, Group } from "@mantine/core";
import type { ReactNode } from "react";

/** A row's Edit and Delete buttons, named after the row so a screen reader can tell the rows' buttons apart; other actions go between them. */
export function RowActions({ name, onEdit, onDelete, deleteDisabled, children }: {
  name: string;
  onEdit: () => void;
  onDelete: () => void;
  deleteDisabled?: boolean;
  children?: ReactNode;
}) {
  return (
    <Group gap={4} wrap="nowrap">
      <Button size="compact-xs" variant="light" aria-label={`Edit ${name}`} onClick={onEdit}>
        Edit
      </Button>
      {children}
      <Button size="compact-xs" variant="light" color="red" aria-label={`Delete ${name}`} disabled={deleteDisabled} onClick={onDelete}>
        Delete
      </Button>
    </Group>
  );
}
