import { Button, Group } from "@mantine/core";
import type { ReactNode } from "react";

/** The end of a form: Cancel, then the submit button naming what it does. */
export function FormButtons({ submitLabel, onCancel, loading, disabled }: {
  submitLabel: ReactNode;
  onCancel: () => void;
  loading?: boolean;
  disabled?: boolean;
}) {
  return (
    <Group justify="flex-end" gap="xs">
      <Button variant="default" onClick={onCancel}>
        Cancel
      </Button>
      <Button type="submit" loading={loading} disabled={disabled}>
        {submitLabel}
      </Button>
    </Group>
  );
}
