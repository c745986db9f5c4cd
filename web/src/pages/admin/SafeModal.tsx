// Modals for the admin, profile and indicator pages. The library's scroll lock injects a
// <style> element, which the strict CSP refuses, so it stays off.
import { Button, Group, Modal, Stack, Text, type ModalProps } from "@mantine/core";
import type { ReactNode } from "react";

import { ProblemAlert } from "../../components/ProblemAlert";

export function SafeModal(props: ModalProps) {
  return <Modal lockScroll={false} closeButtonProps={{ "aria-label": "Close" }} {...props} />;
}

interface ConfirmProps {
  opened: boolean;
  title: string;
  children: ReactNode;
  confirmLabel: string;
  onConfirm: () => void;
  onClose: () => void;
  loading?: boolean;
  error?: unknown;
  danger?: boolean;
}

/** Asks before a destructive change; the confirm button names what happens. */
export function ConfirmModal({ opened, title, children, confirmLabel, onConfirm, onClose, loading, error, danger = true }: ConfirmProps) {
  return (
    <SafeModal opened={opened} onClose={onClose} title={title}>
      <Stack gap="sm">
        <Text size="sm">{children}</Text>
        {error ? <ProblemAlert error={error} /> : null}
        <Group justify="flex-end" gap="xs">
          <Button variant="default" onClick={onClose}>
            Cancel
          </Button>
          <Button color={danger ? "red" : undefined} loading={loading} onClick={onConfirm} data-autofocus>
            {confirmLabel}
          </Button>
        </Group>
      </Stack>
    </SafeModal>
  );
}
