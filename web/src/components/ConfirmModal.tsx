import { Button, Group, Modal, Stack, Text } from "@mantine/core";
import type { ReactNode } from "react";

import { ProblemAlert } from "./ProblemAlert";

interface ConfirmProps {
  opened: boolean;
  title: string;
  children: ReactNode;
  confirmLabel: string;
  onConfirm: () => void;
  onClose: () => void;
  loading?: boolean;
  error?: unknown;
  errorTitle?: string;
  danger?: boolean;
  centered?: boolean;
}

/** Asks before a destructive change, in the page rather than the browser's confirm(); the confirm button names what happens. */
export function ConfirmModal({
  opened,
  title,
  children,
  confirmLabel,
  onConfirm,
  onClose,
  loading,
  error,
  errorTitle,
  danger = true,
  centered,
}: ConfirmProps) {
  return (
    <Modal opened={opened} onClose={onClose} title={title} centered={centered}>
      <Stack gap="sm">
        <Text size="sm">{children}</Text>
        {error ? <ProblemAlert error={error} title={errorTitle} /> : null}
        <Group justify="flex-end" gap="xs">
          <Button variant="default" onClick={onClose}>
            Cancel
          </Button>
          <Button color={danger ? "red" : undefined} loading={loading} onClick={onConfirm} data-autofocus>
            {confirmLabel}
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}
